"""Large requests are screened and parsed off the event loop, with the same verdicts as small ones."""

from __future__ import annotations

import asyncio

from test_gateway_secrets import AWS, blocking_gw  # noqa: F401 - fixture
from test_gateway_server import GW, msg
from upstream import upstream_fixture  # noqa: F401 - fixture

from routesh.gateway import offload


def test_large_text_is_screened_in_the_worker_with_the_same_answer_as_inline() -> None:
    big = "lorem ipsum " * 30_000 + f"\naws_access_key_id = {AWS}\n"
    assert len(big) > offload.LARGE
    try:
        found = asyncio.run(offload.screen(big))
    finally:
        offload.shutdown()
    assert found is not None and found == offload.secrets_in(big)
    assert asyncio.run(offload.screen("nothing to see")) is None


def test_a_secret_deep_in_a_1_mb_prompt_is_still_refused(blocking_gw: GW) -> None:  # noqa: F811
    status, _, body = blocking_gw.post(msg("x " * 500_000 + f"key {AWS}"))
    assert status == 403 and AWS not in body.decode()
    assert blocking_gw.up.generation_requests() == []
