"""HTTPS upstreams (as the real providers are): the gateway and the API engines over TLS, certificates verified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_gateway_server import CONFIG, GW, _gateway
from upstream import Upstream, self_signed_tls

from routesh.core.events import Done, EngineError, EngineRequest, Message, TextDelta
from routesh.engines import anthropic_api, openai_api


@pytest.fixture
def tls_upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Upstream]:
    """An HTTPS test upstream whose self-signed certificate the clients are told to trust (SSL_CERT_FILE)."""
    ctx, ca = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    with Upstream(tls=ctx) as up:
        yield up


@pytest.fixture
def tls_gw(tls_upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GW]:
    monkeypatch.setenv("GW_TEST_ANTH_KEY", "sk-ant-tls-test-0000000000000000")
    monkeypatch.setenv("GW_TEST_OAI_KEY", "sk-oai-tls-test-0000000000000000")
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=tls_upstream.url))
    yield from _gateway(tls_upstream, tmp_path, cfg, None)


def request(model: str = "claude-sonnet-4-6") -> dict[str, object]:
    return {"model": model, "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def answer_text(sse: bytes) -> str:
    """The text of an Anthropic SSE answer: its text_delta pieces joined."""
    out = []
    for line in sse.decode().splitlines():
        if line.startswith("data: "):
            ev = json.loads(line[6:])
            if ev.get("type") == "content_block_delta" and ev["delta"].get("type") == "text_delta":
                out.append(ev["delta"]["text"])
    return "".join(out)


def test_gateway_relays_to_an_https_anthropic_upstream(tls_gw: GW):
    assert tls_gw.up.url.startswith("https://")
    status, _, body = tls_gw.post(request())
    assert status == 200 and answer_text(body) == "Hello from claude-sonnet-4-6."
    [req] = tls_gw.up.generation_requests()
    assert req.header("x-api-key") == "sk-ant-tls-test-0000000000000000"


def test_gateway_translates_to_an_https_openai_upstream(tls_gw: GW):
    status, _, body = tls_gw.post(request(model="bg"))  # a model named like a route goes to that route (openai)
    assert status == 200 and answer_text(body) == "Hello from gpt-bg."
    [req] = tls_gw.up.generation_requests()
    assert req.path.startswith("/v1/chat/completions") and req.model == "gpt-bg"


def test_gateway_refuses_an_untrusted_certificate(tls_gw: GW, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_ca = self_signed_tls(other)
    monkeypatch.setenv("SSL_CERT_FILE", str(wrong_ca))  # read when the first upstream connection is made
    status, _, body = tls_gw.post(request())
    assert status >= 500 and json.loads(body)["type"] == "error"
    assert tls_gw.up.generation_requests() == []


@pytest.mark.parametrize("engine", [anthropic_api, openai_api])
def test_api_engines_over_https(tls_upstream: Upstream, engine):
    base = tls_upstream.url if engine is anthropic_api else tls_upstream.openai_url
    req = EngineRequest(model="claude-haiku-4-5", messages=(Message("user", "hi"),), base_url=base,
                        api_key="sk-tls-0000000000000000", timeout_s=20)
    events = list(engine.stream(req))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello from claude-haiku-4-5."
    assert isinstance(events[-1], Done)


def test_api_engine_rejects_a_wrong_certificate(tls_upstream: Upstream, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_ca = self_signed_tls(other)
    monkeypatch.setenv("SSL_CERT_FILE", str(wrong_ca))
    req = EngineRequest(model="claude-haiku-4-5", messages=(Message("user", "hi"),), base_url=tls_upstream.url,
                        api_key="sk-tls-0000000000000000", timeout_s=20)
    with pytest.raises(EngineError) as info:
        list(anthropic_api.stream(req))
    assert info.value.kind == "connection"  # a failed TLS handshake is a connection error: retried, then fallbacks
    assert tls_upstream.generation_requests() == []
