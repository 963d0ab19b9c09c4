"""Secret screening of Claude Code's own traffic through the gateway: refused before any byte is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_gateway_server import ANTH_KEY, CONFIG, GW, OAI_KEY, _gateway, msg
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.gateway.classify import outgoing_text

AWS = "AKIA" + "IOSFODNN7EXAMPLQ"  # built at run time: the repository holds no key-shaped literal


def guarded(upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_secret: str) -> Iterator[GW]:
    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    monkeypatch.setenv("GW_TEST_OAI_KEY", OAI_KEY)
    cfg = tmp_path / "routes.yaml"
    text = CONFIG.replace("  broke:\n", f"  guarded: {{{{on_secret: {on_secret}}}}}\n  broke:\n")
    cfg.write_text(text.format(url=upstream.url))
    yield from _gateway(upstream, tmp_path, cfg, "guarded")


@pytest.fixture(params=["block", "redact"])
def blocking_gw(request, upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GW]:
    yield from guarded(upstream, tmp_path, monkeypatch, request.param)


@pytest.fixture
def warning_gw(upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GW]:
    yield from guarded(upstream, tmp_path, monkeypatch, "warn")


def tool_result_turn(content: str) -> dict[str, object]:
    body = msg("read it")
    body["messages"] = [
        {"role": "user", "content": [{"type": "text", "text": "what is in .env?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": ".env"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": content}]}]},
    ]
    return body


def test_outgoing_text_includes_tool_results():
    body = tool_result_turn("AWS_ACCESS_KEY_ID=x")
    assert outgoing_text(body["messages"]) == "AWS_ACCESS_KEY_ID=x"
    assert outgoing_text([{"role": "user", "content": "typed"}]) == "typed"


def test_a_secret_read_by_a_tool_is_refused_before_sending(blocking_gw: GW):
    status, _, body = blocking_gw.post(tool_result_turn(f"AWS_ACCESS_KEY_ID={AWS}\nDEBUG=1\n"))
    assert status == 403
    err = json.loads(body)["error"]
    assert err["type"] == "permission_error" and "aws-access-key (line 1)" in err["message"]
    assert AWS not in body.decode()
    assert blocking_gw.up.generation_requests() == []
    (row,) = blocking_gw.rows()
    assert row["status"] == "refused" and AWS not in json.dumps(row)


def test_a_secret_typed_in_the_prompt_is_refused(blocking_gw: GW):
    status, _, _ = blocking_gw.post(msg(f"deploy with key {AWS} please"))
    assert status == 403 and blocking_gw.up.generation_requests() == []


def test_clean_turns_pass(blocking_gw: GW):
    status, _, _ = blocking_gw.post(tool_result_turn("DEBUG=1\nPORT=8080\n"))
    assert status == 200 and len(blocking_gw.up.generation_requests()) == 1


def test_warn_sends_and_logs_without_the_secret(warning_gw: GW):
    status, _, _ = warning_gw.post(tool_result_turn(f"AWS_ACCESS_KEY_ID={AWS}\n"))
    assert status == 200 and len(warning_gw.up.generation_requests()) == 1
    assert any("secret sent (on_secret: warn)" in line for line in warning_gw.logs)
    assert all(AWS not in line for line in warning_gw.logs)
