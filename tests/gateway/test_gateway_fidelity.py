"""The gateway's side of fidelity to Claude Code (issue 12), over real sockets with recorded Claude Code requests:
reshaped thinking, unsigned thinking blocks, retries that do not multiply, permanent errors, keys echoed back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_gateway_server import ANTH_KEY, CONFIG, GW, OAI_KEY, RECORDED, _gateway
from upstream import (  # noqa: F401 - fixtures
    Fault,
    Upstream,
    drop_after,
    rate_limited,
    split_text,
    stream_error_after,
    upstream_fixture,
)

STAINLESS = {"x-stainless-retry-count": "0"}  # what Claude Code (the Anthropic SDK) sends: it retries by itself


@pytest.fixture
def gw(upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GW]:
    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    monkeypatch.setenv("GW_TEST_OAI_KEY", OAI_KEY)
    monkeypatch.delenv("GW_TEST_MISSING_KEY", raising=False)
    text = CONFIG.format(url=upstream.url)
    text = text.replace("  nokey:", f'  subs: {{type: anthropic, base_url: "{upstream.url}", auth: subscription}}\n'
                                   "  nokey:", 1)
    route = "  subscribed: {provider: subs, model: claude-sonnet-4-6, via: claude-code}\n"
    text = text.replace("  broken:", route + "  broken:", 1)
    text = text.replace("rules:\n", "rules:\n  - {prefix: /subscribed, route: subscribed}\n", 1)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(text)
    yield from _gateway(upstream, tmp_path, cfg, None)


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / name).read_text())["body"]


def sse_events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]


# ------------------------------------------------------------------------------------------------ thinking


def test_unsigned_thinking_blocks_never_reach_an_anthropic_route(gw: GW) -> None:
    """Claude Code sends a translated turn's thinking back with "signature": ""; Anthropic rejects it (as the
    test upstream does); signed thinking is kept."""
    body = recorded("main_turn_opus_adaptive.json") | {"model": "claude-sonnet-4-6"}
    body["messages"] += [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "from gpt", "signature": ""},
                                          {"type": "text", "text": "first answer"}]},
        {"role": "user", "content": [{"type": "text", "text": "and then?"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "signed", "signature": "EqQBsig"},
                                          {"type": "text", "text": "second"}]},
        {"role": "user", "content": [{"type": "text", "text": "more"}]},
    ]
    status, _, out = gw.post(body)
    assert status == 200, out
    [req] = gw.up.generation_requests()
    blocks = [b for m in req.json["messages"] if m["role"] == "assistant" for b in m["content"]]
    assert [b.get("signature") for b in blocks if b["type"] == "thinking"] == ["EqQBsig"]
    assert [b["text"] for b in blocks if b["type"] == "text"] == ["first answer", "second"]


@pytest.mark.parametrize(("recording", "route", "thinking", "max_tokens"), [
    ("main_turn_opus_adaptive.json", "quick", {"type": "enabled", "budget_tokens": 31999}, 64000),
    ("plan_mode_sonnet45.json", "architect", {"type": "adaptive"}, 32000),
])
def test_thinking_is_reshaped_for_the_model_that_answers(gw: GW, recording: str, route: str,
                                                          thinking: dict[str, Any], max_tokens: int) -> None:
    """`claude --model X` shapes for X; the route's model (haiku-4-5 has no adaptive thinking, opus-4-7 no
    budgets) gets a request it accepts."""
    body = recorded(recording) | {"model": route}
    status, _, out = gw.post(body)
    assert status == 200, out
    [req] = gw.up.generation_requests()
    assert req.json["thinking"] == thinking and req.json["max_tokens"] == max_tokens
    assert "effort" not in (req.json.get("output_config") or {}) or route == "architect"


def test_recorded_subagent_request_with_only_the_agent_id_header_goes_to_the_subagent_route(gw: GW) -> None:
    """With only `routesh serve`'s exports (no model names), Claude Code 2.1.197's subagent requests say what they
    are with x-claude-code-agent-id (parent-agent-id only for a subagent's own subagents): replayed as recorded."""
    rec = json.loads((RECORDED / "subagent_tool_result_blocks.json").read_text())
    headers = {k: v for k, v in rec["headers"].items() if k.lower().startswith("x-claude-code-")
               and k.lower() != "x-claude-code-parent-agent-id"}
    status, got, _ = gw.post(rec["body"] | {"model": "claude-opus-4-8"}, headers=headers)
    assert status == 200 and got["x-routesh-class"] == "subagent" and got["x-routesh-route"] == "sub"
    assert [r.model for r in gw.up.generation_requests()] == ["gpt-sub"]


# ------------------------------------------------------------------------------------------------ retries


def test_a_client_that_retries_itself_gets_the_upstream_status_at_once(gw: GW) -> None:
    gw.up.script(*[rate_limited(retry_after="7") for _ in range(3)])
    status, headers, out = gw.post(recorded("main_turn_opus_adaptive.json") | {"model": "claude-sonnet-4-6"},
                                   headers=STAINLESS)
    assert status == 429 and headers["retry-after"] == "7"
    assert len(gw.up.generation_requests()) == 1 and gw.sleeps == []
    # a client without its own retries (curl, a script) is still retried by the gateway
    gw.up.clear()
    gw.up.script(rate_limited(retry_after="1"))
    status, _, _ = gw.post(recorded("main_turn_opus_adaptive.json") | {"model": "claude-sonnet-4-6"})
    assert status == 200 and len(gw.up.generation_requests()) == 2


def test_a_retrying_client_still_gets_the_fallback_route(gw: GW) -> None:
    """What the client cannot do itself: the next route (architect falls back to default)."""
    gw.up.script(rate_limited(retry_after="30"), model="claude-opus-4-7")
    status, headers, _ = gw.post(recorded("main_turn_opus_adaptive.json") | {"model": "architect"},
                                 headers=STAINLESS)
    assert status == 200 and headers["x-routesh-route"] == "default"
    assert [r.model for r in gw.up.generation_requests()] == ["claude-opus-4-7", "claude-sonnet-4-6"]


@pytest.mark.parametrize(("prefix", "status", "fix"), [
    ("/broken", 401, "routesh keys set nokey"),
    ("/subscribed", 502, "auth: subscription"),
])
def test_permanent_errors_say_the_fix_stop_retries_and_are_recorded(gw: GW, prefix: str, status: int,
                                                                      fix: str) -> None:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": f"{prefix} hello"}]}
    got, headers, out = gw.post(body, headers=STAINLESS)
    assert got == status and headers["x-should-retry"] == "false"
    assert fix in json.loads(out)["error"]["message"]
    assert gw.up.generation_requests() == []
    assert any(fix in line for line in gw.logs)
    rows = gw.rows()
    assert rows and rows[-1]["status"] == "error" and fix in rows[-1]["error"]


def test_upstream_request_id_survives_the_re_encoded_error(gw: GW) -> None:
    gw.up.script(Fault(status=400, message="bad thing"))
    status, _, out = gw.post(recorded("main_turn_opus_adaptive.json") | {"model": "claude-sonnet-4-6"})
    assert status == 400
    err = json.loads(out)
    assert err["error"]["message"] == "bad thing" and err["request_id"].startswith("req_")


# ------------------------------------------------------------------------------------------------ keys echoed


def test_keys_echoed_mid_stream_or_in_headers_never_reach_the_client(gw: GW) -> None:
    gw.up.configure(repeat=5)
    gw.up.script(replace(stream_error_after(4), echo_key=True))
    status, headers, out = gw.post(recorded("main_turn_opus_adaptive.json") | {"model": "claude-sonnet-4-6"})
    assert status == 200
    blob = out.decode() + json.dumps(headers)
    assert ANTH_KEY not in blob and ANTH_KEY[-12:] not in blob
    assert "key removed by routesh" in out.decode()
    assert sse_events(out)[-1]["type"] == "error"
    assert headers["cache-control"] == "no-cache"


def test_stream_mask_holds_back_a_key_split_across_reads() -> None:
    from routesh.gateway.mask import StreamMask, key_bytes

    key = "sk-odd-no-known-prefix-0123456789"
    m = StreamMask(key_bytes([key, None, "short"]))
    text = f"data: hello sk-o and {key} bye"
    out = b""
    for i in range(0, len(text), 5):
        out += m.feed(text[i:i + 5].encode())
    out += m.close()
    assert out == text.replace(key, "[key removed by routesh]").encode()


# ------------------------------------------------------------------------------------------------ translated


def test_translated_stream_broken_after_its_finish_chunk_is_a_complete_answer(gw: GW) -> None:
    text = "All done here."
    gw.up.configure(text=text, repeat=1, openai_usage="separate")
    gw.up.script(drop_after(1 + len(split_text(text)) + 1))  # role, deltas, finish: then the connection drops
    body = recorded("main_turn_opus_adaptive.json") | {"model": "bg"}
    status, _, out = gw.post(body)
    assert status == 200
    events = sse_events(out)
    assert [e["type"] for e in events][-2:] == ["message_delta", "message_stop"]
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta") == text
    assert gw.rows()[-1]["status"] == "ok"


def test_a_server_tool_an_openai_route_cannot_serve_is_an_explicit_error(gw: GW) -> None:
    """A subagent's web search on an OpenAI subagent route was sent without the tool: the search silently
    did not happen. Now it is refused, with the fix, and nothing is sent."""
    body = recorded("subagent_tool_result_blocks.json") | {"model": "bg"}
    body["tools"] = [*body["tools"], {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]
    status, headers, out = gw.post(body, headers=STAINLESS)
    assert status == 400 and headers["x-should-retry"] == "false"
    message = json.loads(out)["error"]["message"]
    assert "web_search" in message and "code.web_search" in message
    assert gw.up.generation_requests() == []
    assert gw.rows()[-1]["status"] == "error"


def test_mid_system_is_set_from_routes_yaml() -> None:
    from routesh.core.configfile import parse
    from routesh.core.yamlnodes import ConfigError
    from routesh.gateway.translate import to_openai_request
    from routesh.gateway.translated import openai_options

    text = CONFIG.format(url="http://127.0.0.1:1").replace(
        '  oai:  {type: openai, base_url: "http://127.0.0.1:1/v1", key_env: GW_TEST_OAI_KEY}',
        '  oai:  {type: openai, base_url: "http://127.0.0.1:1/v1", key_env: GW_TEST_OAI_KEY, mid_system: user}')
    config = parse(text, "x.yaml")
    provider = config.providers["oai"]
    opts = openai_options(provider, config.routes["bg"], "gpt-bg")
    assert opts.mid_system == "user"
    req = to_openai_request(recorded("subagent_tool_result_blocks.json"), opts)
    assert [m["role"] for m in req["messages"]].count("system") == 1 and req["messages"][0]["role"] == "system"
    with pytest.raises(ConfigError, match="mid_system"):
        parse(text.replace("mid_system: user", "mid_system: developer"), "x.yaml")


# ------------------------------------------------------------------------------------------------ trust on reload


def test_an_edited_trusted_project_file_is_not_reloaded_until_trusted_again(
        upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claude Code's own Write tool can edit the project's routes.yaml: an edit makes it untrusted, as for the
    CLI; the gateway keeps the last trusted config (the key never goes to the new base_url) and says so once."""
    import time

    from routesh.core.context import build
    from routesh.core.sources import trust
    from routesh.gateway import server as server_mod
    from routesh.gateway.server import Gateway, LedgerWriter, RunningGateway, bind

    monkeypatch.setattr(server_mod, "RELOAD_CHECK_S", 0.0)
    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    monkeypatch.setenv("GW_TEST_OAI_KEY", OAI_KEY)
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    cfg = project / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    trust(cfg)
    ctx = build(None, None, env={k: v for k, v in __import__("os").environ.items() if k != "ROUTESH_CONFIG"},
                cwd=project)
    assert ctx.loaded.kind == "project"
    logs: list[str] = []
    ledger = LedgerWriter(str(tmp_path / "usage.db"), ctx.profile, log=logs.append)
    body = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    with Upstream() as attacker, RunningGateway(Gateway(ctx, "gw-test-token-1234567890", log=logs.append,
                                                        ledger=ledger), bind("127.0.0.1", 0)) as running:
        gw = GW(upstream, running.gateway, running, tmp_path / "usage.db", ledger, cfg, logs, [])
        assert gw.post(body)[0] == 200
        time.sleep(0.05)
        cfg.write_text(cfg.read_text().replace(upstream.url, attacker.url))
        for _ in range(10):
            assert gw.post(body)[0] == 200
            time.sleep(0.05)
        assert attacker.generation_requests() == [] and len(upstream.generation_requests()) == 11
        said = [line for line in logs if "changed since you trusted it" in line]
        assert len(said) == 1 and "keeps the last trusted config" in said[0] and "routesh config trust" in said[0]
        trust(cfg)  # the user reviewed it
        deadline = time.monotonic() + 5
        while not attacker.generation_requests() and time.monotonic() < deadline:
            gw.post(body)
            time.sleep(0.05)
        [req] = attacker.generation_requests()
        assert req.header("x-api-key") == ANTH_KEY
    ledger.close()


# ------------------------------------------------------------------------------------------------ budgets


def test_concurrent_requests_cannot_race_past_a_budget(upstream: Upstream, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """50 requests at once against a $0.0001/day budget were all answered; now each admitted one holds its
    estimated cost, so while the first is in flight the rest see the budget as spent."""
    from concurrent.futures import ThreadPoolExecutor

    from upstream import slow_first_byte

    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    upstream.script(replace(slow_first_byte(1.0), times=50))
    body = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    for g in _gateway(upstream, tmp_path, cfg, "broke"):
        with ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(lambda _: g.post(body)[0], range(50)))
        assert statuses.count(200) == 1 and statuses.count(403) == 49
        assert len(upstream.generation_requests()) == 1
        assert g.gateway._reserved.total == 0 and g.gateway._reserved.in_flight == 0  # settled
