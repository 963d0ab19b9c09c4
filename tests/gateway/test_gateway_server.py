"""routesh's gateway over real sockets: a real HTTP client, the gateway, and the test upstream (both wire formats)."""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from upstream import (  # noqa: F401 - fixtures
    Fault,
    Upstream,
    UsageSpec,
    context_too_long,
    drop_after,
    overloaded,
    rate_limited,
    server_error,
    slow_first_byte,
    slow_stream,
    stream_error_after,
    unauthorized,
    upstream_fixture,
)

from routesh.core.context import build
from routesh.gateway import server as server_mod
from routesh.gateway.server import Gateway, LedgerWriter, RunningGateway, bind
from routesh.gateway.sse import SSEParser

TOKEN = "gw-test-token-1234567890"
ANTH_KEY = "sk-ant-api03-test-key-AAAAAAAAAAAAAAAAAAAA"
OAI_KEY = "sk-or-v1-test-key-BBBBBBBBBBBBBBBBBBBBBB"
RECORDED = Path(__file__).resolve().parents[1] / "data" / "claude_code_requests"

CONFIG = """
version: 1
default_route: default
default_profile: personal
providers:
  anth: {{type: anthropic, base_url: "{url}", key_env: GW_TEST_ANTH_KEY}}
  oai:  {{type: openai, base_url: "{url}/v1", key_env: GW_TEST_OAI_KEY}}
  nokey: {{type: anthropic, base_url: "{url}", key_env: GW_TEST_MISSING_KEY}}
routes:
  default:   {{provider: anth, model: claude-sonnet-4-6}}
  bg:        {{provider: oai, model: gpt-bg}}
  sub:       {{provider: oai, model: gpt-sub}}
  architect: {{provider: anth, model: claude-opus-4-7, fallback: [default]}}
  big:       {{provider: anth, model: claude-big-context}}
  broken:    {{provider: nokey, model: claude-sonnet-4-6}}
  quick:     {{provider: anth, model: claude-haiku-4-5, timeout_s: 0.5, retries: 1}}
rules:
  - {{prefix: /architect, route: architect}}
  - {{prefix: /broken, route: broken}}
  - {{prefix: /quick, route: quick}}
profiles:
  personal: {{}}
  work:
    allow_providers: [anth]
    log_prompts: false
    providers: {{anth: {{key_env: GW_TEST_WORK_KEY}}}}  # its own key: never the personal one
  thrifty:
    budget: {{daily_usd: 0.0001, on_exceed: downgrade, downgrade: architect}}
  broke:
    budget: {{daily_usd: 0.0001}}
code:
  background: bg
  subagent: sub
  long_context: big
"""


@dataclass
class GW:
    """A running gateway and what it talks to."""

    up: Upstream
    gateway: Gateway
    running: RunningGateway
    ledger_path: Path
    ledger: LedgerWriter
    config_path: Path
    logs: list[str]
    sleeps: list[float]

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.running.port, timeout=20)

    def post(self, body: dict[str, Any] | bytes, *, token: str | None = TOKEN, path: str = "/v1/messages?beta=true",
             headers: dict[str, str] | None = None, via: str = "bearer") -> tuple[int, dict[str, str], bytes]:
        h = {"content-type": "application/json", "anthropic-version": "2023-06-01", **(headers or {})}
        if token is not None:
            h.update({"authorization": f"Bearer {token}"} if via == "bearer" else {"x-api-key": token})
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        c = self.conn()
        c.request("POST", path, data, h)
        r = c.getresponse()
        out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        c.close()
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Ledger rows, oldest first (waits for the writer thread)."""
        self.ledger.close()
        conn = sqlite3.connect(self.ledger_path)
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM attempts ORDER BY id")]
        conn.close()
        return rows


@pytest.fixture
def gw(upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GW]:
    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    monkeypatch.setenv("GW_TEST_OAI_KEY", OAI_KEY)
    monkeypatch.delenv("GW_TEST_MISSING_KEY", raising=False)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    yield from _gateway(upstream, tmp_path, cfg, None)


def _gateway(up: Upstream, tmp_path: Path, cfg: Path, profile: str | None) -> Iterator[GW]:
    ctx = build(str(cfg), profile)
    logs: list[str] = []
    sleeps: list[float] = []

    async def fast_sleep(s: float) -> None:
        sleeps.append(s)

    ledger_path = tmp_path / "usage.db"
    ledger = LedgerWriter(str(ledger_path), ctx.profile, log=logs.append)
    gateway = Gateway(ctx, TOKEN, verbose=True, log=logs.append, ledger=ledger, sleep=fast_sleep)
    running = RunningGateway(gateway, bind("127.0.0.1", 0)).start()
    try:
        yield GW(up, gateway, running, ledger_path, ledger, cfg, logs, sleeps)
    finally:
        running.stop()
        ledger.close()


def msg(text: str = "hi", *, model: str = "routesh-main", stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 1000, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}], **extra}


def events(data: bytes) -> list[tuple[str, Any]]:
    p = SSEParser()
    evs = p.feed(data) + p.close()
    return [(e.event, json.loads(e.data)) for e in evs]


def text_of(data: bytes) -> str:
    return "".join(d["delta"].get("text", "") for e, d in events(data) if e == "content_block_delta")


def no_key_in(*blobs: Any) -> None:
    for blob in blobs:
        s = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else json.dumps(blob)
        assert ANTH_KEY not in s and OAI_KEY not in s
        assert ANTH_KEY[-12:] not in s and OAI_KEY[-12:] not in s


# ------------------------------------------------------------------------------------------------ endpoints


def test_head_root_needs_no_token_but_everything_else_does(gw: GW) -> None:
    c = gw.conn()
    c.request("HEAD", "/")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""
    for method, path in (("GET", "/health"), ("GET", "/v1/models"), ("POST", "/v1/messages"),
                         ("POST", "/v1/messages/count_tokens")):
        c.request(method, path, b"{}" if method == "POST" else None)
        r = c.getresponse()
        body = json.loads(r.read())
        assert r.status == 401, path
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    c.request("GET", "/health", headers={"x-api-key": TOKEN})
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read())["status"] == "ok"
    assert gw.up.requests == []


@pytest.mark.parametrize("via", ["bearer", "x-api-key"])
def test_token_accepted_either_way(gw: GW, via: str) -> None:
    status, _, body = gw.post(msg(), via=via)
    assert status == 200 and text_of(body) == "Hello from claude-sonnet-4-6."


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x", TOKEN[:-1]])
def test_wrong_or_missing_token_is_401_in_anthropic_shape(gw: GW, token: str | None) -> None:
    status, headers, body = gw.post(msg(), token=token)
    assert status == 401
    err = json.loads(body)
    assert err["type"] == "error" and err["error"]["type"] == "authentication_error"
    assert "ANTHROPIC_AUTH_TOKEN" in err["error"]["message"]
    assert gw.up.generation_requests() == []


def test_count_tokens_is_answered_locally(gw: GW) -> None:
    body = json.loads((RECORDED / "main_turn_opus_adaptive.json").read_text())["body"]
    status, _, data = gw.post(body, path="/v1/messages/count_tokens")
    assert status == 200
    assert 15000 < json.loads(data)["input_tokens"] < 25000
    assert gw.up.requests == []


def test_models_lists_sentinels_and_routes(gw: GW) -> None:
    c = gw.conn()
    c.request("GET", "/v1/models", headers={"authorization": f"Bearer {TOKEN}"})
    data = json.loads(c.getresponse().read())
    ids = [m["id"] for m in data["data"]]
    assert ids[:3] == ["routesh-main", "routesh-background", "routesh-subagent"]
    assert {"default", "bg", "architect"} <= set(ids)


def test_bad_requests(gw: GW) -> None:
    for body in (b"not json", b"[]", b'{"messages": []}', b'{"model": "x"}'):
        status, _, data = gw.post(body)
        assert status == 400
        assert json.loads(data)["error"]["type"] == "invalid_request_error"
    c = gw.conn()
    c.request("GET", "/v1/nothing", headers={"x-api-key": TOKEN})
    assert c.getresponse().status == 404


# ------------------------------------------------------------------------------------------------ routing


def test_main_turn_relays_to_the_anthropic_route_with_the_real_key(gw: GW) -> None:
    status, headers, body = gw.post(msg(), headers={"anthropic-beta": "claude-code-20250219",
                                                    "x-claude-code-session-id": "sess-1"})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert headers["x-routesh-route"] == "default" and headers["x-routesh-class"] == "main"
    assert [e for e, _ in events(body)][-1] == "message_stop"
    (req,) = gw.up.generation_requests()
    assert req.path == "/v1/messages" and req.query == "beta=true"
    assert req.json["model"] == "claude-sonnet-4-6"
    assert req.header("x-api-key") == ANTH_KEY
    assert req.header("authorization") is None  # the gateway token stays here
    assert req.header("anthropic-beta") == "claude-code-20250219"
    no_key_in(body, headers)
    (row,) = gw.rows()
    assert (row["route"], row["provider"], row["model"], row["status"], row["via"]) == \
        ("default", "anth", "claude-sonnet-4-6", "ok", "gateway")
    assert (row["input_tokens"], row["output_tokens"], row["session_id"]) == (21, 9, "sess-1")
    assert row["rule"] == "code.default" and json.loads(row["extra"])["class"] == "main"
    assert row["cost_usd"] == pytest.approx((21 * 3 + 9 * 15) / 1e6)
    line = next(x for x in gw.logs if x.startswith("route="))
    assert line.startswith("route=default provider=anth model=claude-sonnet-4-6 status=ok tokens_in=21 "
                           "tokens_out=9 latency_ms=")


def test_relay_keeps_the_upstream_bytes(gw: GW) -> None:
    """type: anthropic is relayed as bytes: what the client reads is what the upstream sent."""
    gw.up.configure(text="Ünïcode ✓ and \"quotes\" and 𝄞", repeat=20)
    _, _, body = gw.post(msg())
    c = http.client.HTTPConnection("127.0.0.1", gw.up.port)
    c.request("POST", "/v1/messages", json.dumps({**msg(), "model": "claude-sonnet-4-6"}))
    direct = c.getresponse().read()
    strip = lambda b: [(e, {k: v for k, v in d.items() if k != "message"}) for e, d in events(b)]  # noqa: E731
    assert strip(body) == strip(direct)
    assert text_of(body) == "Ünïcode ✓ and \"quotes\" and 𝄞" * 20


def test_recorded_claude_code_request_is_forwarded_byte_for_byte_but_the_model(gw: GW) -> None:
    raw = (RECORDED / "main_turn_opus_adaptive.json").read_text()
    body = {**json.loads(raw)["body"], "model": "routesh-main"}
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    status, _, _ = gw.post(data)
    assert status == 200
    (req,) = gw.up.generation_requests()
    assert req.body == data.replace(b'"model":"routesh-main"', b'"model":"claude-sonnet-4-6"', 1)


def test_background_goes_to_the_openai_route_translated(gw: GW) -> None:
    status, headers, body = gw.post(msg(model="routesh-background"))
    assert status == 200 and headers["x-routesh-route"] == "bg"
    evs = events(body)
    assert [e for e, _ in evs][0] == "message_start" and evs[-1][0] == "message_stop"
    assert text_of(body) == "Hello from gpt-bg."
    (req,) = gw.up.generation_requests()
    assert req.path == "/v1/chat/completions" and req.json["model"] == "gpt-bg"
    assert req.header("authorization") == f"Bearer {OAI_KEY}"
    assert req.json["stream_options"] == {"include_usage": True}
    no_key_in(body, headers)
    (row,) = gw.rows()
    assert (row["route"], row["status"], row["input_tokens"], row["output_tokens"]) == ("bg", "ok", 21, 9)


def test_subagent_and_non_streamed_answers(gw: GW) -> None:
    status, _, body = gw.post(msg(model="routesh-subagent", stream=False))
    answer = json.loads(body)
    assert status == 200 and answer["type"] == "message" and answer["model"] == "gpt-sub"
    assert answer["content"] == [{"type": "text", "text": "Hello from gpt-sub."}]
    status, _, body = gw.post(msg(stream=False))
    answer = json.loads(body)
    assert answer["model"] == "claude-sonnet-4-6" and answer["usage"]["output_tokens"] == 9
    assert [r["status"] for r in gw.rows()] == ["ok", "ok"]


def test_typed_prefix_routes_and_is_stripped(gw: GW) -> None:
    body = msg()
    body["messages"][0]["content"] = [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                      {"type": "text", "text": "/architect split billing"}]
    status, headers, _ = gw.post(body)
    assert status == 200 and headers["x-routesh-route"] == "architect"
    (req,) = gw.up.generation_requests()
    assert req.json["model"] == "claude-opus-4-7"
    assert req.json["messages"][0]["content"][1]["text"] == "split billing"
    assert gw.rows()[0]["rule"] == "prefix /architect"


def test_prefix_to_an_openai_route_is_stripped_too(gw: GW, tmp_path: Path) -> None:
    gw.config_path.write_text(gw.config_path.read_text().replace("{prefix: /quick, route: quick}",
                                                                 "{prefix: /quick, route: bg}"))
    gw.gateway._state = server_mod._State(build(str(gw.config_path), None), None)
    status, _, body = gw.post(msg("/quick tidy up"))
    assert status == 200 and text_of(body) == "Hello from gpt-bg."
    (req,) = gw.up.generation_requests()
    assert req.json["messages"][-1]["content"] == "tidy up"


def test_long_context_goes_to_its_route(gw: GW) -> None:
    status, headers, _ = gw.post(msg("word " * 80_000))
    assert headers["x-routesh-route"] == "big" and headers["x-routesh-class"] == "long_context"
    assert gw.up.generation_requests()[0].json["model"] == "claude-big-context"


# ------------------------------------------------------------------------------------------------ failures


def test_429_is_retried_after_its_retry_after(gw: GW) -> None:
    gw.up.script(rate_limited(retry_after="2"))
    status, _, body = gw.post(msg())
    assert status == 200 and text_of(body) == "Hello from claude-sonnet-4-6."
    assert gw.sleeps == [2.0]
    assert [r["status"] for r in gw.rows()] == ["error", "ok"]
    assert len(gw.up.generation_requests()) == 2


def test_429_after_retries_reaches_the_client_in_anthropic_shape_with_retry_after(gw: GW) -> None:
    gw.up.script(*[rate_limited(retry_after="7") for _ in range(3)])
    status, headers, body = gw.post(msg())
    assert status == 429 and headers["retry-after"] == "7"
    err = json.loads(body)
    assert err["type"] == "error" and err["error"]["type"] == "rate_limit_error"
    assert gw.sleeps == [7.0, 7.0]
    assert len(gw.up.generation_requests()) == 3  # DEFAULT_RETRIES = 2


def test_529_is_retried_with_backoff_then_passed_on(gw: GW) -> None:
    gw.up.script(overloaded())
    status, _, _ = gw.post(msg())
    assert status == 200 and len(gw.sleeps) == 1 and 0 < gw.sleeps[0] <= 0.5
    gw.up.script(*[overloaded(retry_after="3") for _ in range(3)])
    status, headers, body = gw.post(msg())
    assert status == 529 and headers["retry-after"] == "3"
    assert json.loads(body)["error"]["type"] == "overloaded_error"


def test_openai_429_is_shaped_for_claude_code(gw: GW) -> None:
    gw.up.script(*[rate_limited(retry_after="4") for _ in range(3)], path="/v1/chat/completions")
    status, headers, body = gw.post(msg(model="routesh-background"))
    assert status == 429 and headers["retry-after"] == "4"
    assert json.loads(body)["error"]["type"] == "rate_limit_error"


def test_fallback_after_the_retries(gw: GW) -> None:
    gw.up.script(*[server_error() for _ in range(3)], model="claude-opus-4-7")
    status, headers, body = gw.post(msg("/architect plan"))
    assert status == 200 and text_of(body) == "Hello from claude-sonnet-4-6."
    assert [(r["route"], r["status"]) for r in gw.rows()] == [("architect", "error")] * 3 + [("default", "ok")]


def test_context_too_long_jumps_to_the_long_context_route(gw: GW) -> None:
    gw.up.script(context_too_long())
    status, _, _ = gw.post(msg())
    assert status == 200
    assert [r.json["model"] for r in gw.up.generation_requests()] == ["claude-sonnet-4-6", "claude-big-context"]
    assert gw.sleeps == []


def test_drop_before_the_first_byte_is_retried_invisibly(gw: GW) -> None:
    gw.up.script(drop_after(0))
    status, _, body = gw.post(msg())
    assert status == 200 and [e for e, _ in events(body)][-1] == "message_stop"
    assert [r["status"] for r in gw.rows()] == ["error", "ok"]


@pytest.mark.parametrize("model", ["routesh-main", "routesh-background"])
def test_dropped_stream_becomes_an_anthropic_error_event(gw: GW, model: str) -> None:
    gw.up.configure(repeat=5)
    gw.up.script(drop_after(4))
    status, _, body = gw.post(msg(model=model))
    assert status == 200
    evs = events(body)
    name, data = evs[-1]
    assert name == "error"
    assert data["type"] == "error" and data["error"]["type"] == "api_error"
    assert "broke off" in data["error"]["message"] or "ended" in data["error"]["message"]
    assert "message_stop" not in [e for e, _ in evs]
    (row,) = gw.rows()
    assert row["status"] == "partial" and len(gw.up.generation_requests()) == 1


def test_in_stream_error_before_content_is_retried(gw: GW) -> None:
    gw.up.script(stream_error_after(0))
    status, _, body = gw.post(msg())
    assert status == 200 and [e for e, _ in events(body)][-1] == "message_stop"
    assert [r["status"] for r in gw.rows()] == ["error", "ok"]


def test_slow_upstream_times_out_and_is_retried(gw: GW) -> None:
    gw.up.script(slow_first_byte(3))
    t = time.monotonic()
    status, headers, _ = gw.post(msg("/quick hurry"))
    assert status == 200 and headers["x-routesh-route"] == "quick"
    assert time.monotonic() - t < 2.5
    assert [r["status"] for r in gw.rows()] == ["error", "ok"]
    assert "timeout" in (gw.rows()[0]["error"] or "") or "no data" in (gw.rows()[0]["error"] or "")


def test_upstream_keys_never_reach_the_client(gw: GW) -> None:
    gw.up.script(unauthorized(echo_key=True))
    status, headers, body = gw.post(msg())
    assert status == 401
    no_key_in(body, headers)
    message = json.loads(body)["error"]["message"]
    assert "routesh keys set anth --profile personal" in message
    assert len(gw.up.generation_requests()) == 1  # a refused key is not retried
    gw.up.script(unauthorized(echo_key=True), path="/v1/chat/completions")
    status, headers, body = gw.post(msg(model="routesh-background"))
    no_key_in(body, headers, gw.logs)
    for row in gw.rows():
        no_key_in(row)


def test_missing_key_says_how_to_set_it_and_sends_nothing(gw: GW) -> None:
    status, _, body = gw.post(msg("/broken x"))
    assert status == 401
    message = json.loads(body)["error"]["message"]
    assert "nokey" in message and ("routesh keys set nokey" in message or "GW_TEST_MISSING_KEY" in message)
    assert gw.up.generation_requests() == []


def test_keep_alive_to_the_upstream(gw: GW) -> None:
    for _ in range(5):
        assert gw.post(msg())[0] == 200
    assert gw.up.connections == 1
    assert gw.gateway.pool.opened == 1


def test_client_going_away_cancels_the_upstream(gw: GW) -> None:
    gw.up.configure(repeat=200)
    gw.up.script(slow_stream(0.05))
    c = gw.conn()
    c.request("POST", "/v1/messages", json.dumps(msg()), {"authorization": f"Bearer {TOKEN}"})
    r = c.getresponse()
    assert r.status == 200
    r.read(200)
    c.sock.close()  # type: ignore[union-attr]
    c.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and gw.gateway.ledger.pending:  # type: ignore[union-attr]
        time.sleep(0.05)
    time.sleep(1.5)
    (row,) = gw.rows()
    assert row["status"] == "cancelled"


@pytest.mark.parametrize("model", ["routesh-main", "routesh-background"])  # Anthropic relayed; OpenAI translated
def test_a_cancelled_relay_records_the_usage_known_so_far(gw: GW, model: str) -> None:
    gw.up.configure(repeat=200, usage=UsageSpec(input_tokens=777, output_tokens=5000, cache_read_input_tokens=50))
    gw.up.script(slow_stream(0.02))
    c = gw.conn()
    c.request("POST", "/v1/messages", json.dumps(msg(model=model)), {"authorization": f"Bearer {TOKEN}"})
    r = c.getresponse()
    assert r.status == 200
    r.read(3000)
    c.sock.close()  # type: ignore[union-attr]
    c.close()
    time.sleep(1.5)
    (row,) = gw.rows()
    assert row["status"] == "cancelled" and json.loads(row["extra"])["usage"] == "estimated"
    assert 1 < row["output_tokens"] < 5000
    if model == "routesh-main":  # message_start's counts, as the upstream sent them, priced
        assert (row["input_tokens"], row["cache_read_tokens"]) == (777, 50)
        assert row["cost_usd"] == pytest.approx((777 * 3 + 50 * 0.3 + row["output_tokens"] * 15) / 1e6)
    else:  # no usage chunk yet: routesh's own estimate of the request (gpt-bg has no price: unpriced, not $0)
        assert row["input_tokens"] > 0 and row["cost_usd"] is None


def test_hot_reload(gw: GW, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod, "RELOAD_CHECK_S", 0.0)
    assert gw.post(msg())[0] == 200
    gw.config_path.write_text(gw.config_path.read_text().replace("model: claude-sonnet-4-6}", "model: claude-new}"))
    deadline = time.monotonic() + 5
    models = []
    while time.monotonic() < deadline:
        gw.post(msg())
        models.append(gw.up.generation_requests()[-1].json["model"])
        if models[-1] == "claude-new":
            break
        time.sleep(0.05)
    assert models[-1] == "claude-new"
    assert any("reloaded" in line for line in gw.logs)
    gw.config_path.write_text("version: 1\nroutes: {broken")
    time.sleep(0.1)
    for _ in range(3):
        assert gw.post(msg())[0] == 200
        time.sleep(0.1)
    assert any("keeping the previous config" in line for line in gw.logs)


# ------------------------------------------------------------------------------------------------ policy


@pytest.fixture
def work_gw(upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GW]:
    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    monkeypatch.setenv("GW_TEST_OAI_KEY", OAI_KEY)
    monkeypatch.setenv("GW_TEST_WORK_KEY", "sk-ant-gw-work-key-0123456789")
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    yield from _gateway(upstream, tmp_path, cfg, "work")


def test_policy_refuses_before_any_byte_is_sent(work_gw: GW) -> None:
    status, _, body = work_gw.post(msg(model="routesh-background"))
    assert status == 403
    err = json.loads(body)["error"]
    assert err["type"] == "permission_error" and "allows only anth" in err["message"]
    assert work_gw.up.generation_requests() == []
    (row,) = work_gw.rows()
    assert row["status"] == "refused" and row["prompt"] is None  # log_prompts: false
    status, _, _ = work_gw.post(msg())
    assert status == 200


def test_prompts_are_logged_only_where_the_profile_allows(gw: GW) -> None:
    gw.post(msg("remember me"))
    assert gw.rows()[0]["prompt"] == "remember me"


@pytest.mark.parametrize("profile", ["thrifty", "broke"])
def test_a_spent_budget_downgrades_or_refuses(upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              profile: str) -> None:
    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    for g in _gateway(upstream, tmp_path, cfg, profile):
        assert g.post(msg())[0] == 200  # nothing spent yet; this one costs $0.000198
        status, headers, body = g.post(msg())
        if profile == "thrifty":
            assert status == 200 and headers["x-routesh-route"] == "architect"
        else:
            assert status == 403 and "budget" in json.loads(body)["error"]["message"]
            assert len(upstream.generation_requests()) == 1
