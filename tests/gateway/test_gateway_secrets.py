"""Secret screening of Claude Code's own traffic through the gateway: refused before any byte is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_gateway_server import ANTH_KEY, CONFIG, GW, OAI_KEY, _gateway, msg
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.gateway.screening import Screener, request_parts

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


RECORDED = Path(__file__).resolve().parents[1] / "data" / "claude_code_requests"


def _plant(body: dict[str, Any], part: str, secret: str) -> dict[str, Any]:
    """The request with a secret put in one of the parts Claude Code sends."""
    b = json.loads(json.dumps(body))
    last_user = next(m for m in reversed(b["messages"]) if m["role"] == "user" and isinstance(m["content"], list))
    where = {
        "system prompt": lambda: b["system"].append({"type": "text", "text": f"env: KEY={secret}"}),
        "earlier user turn": lambda: b["messages"].insert(0, {"role": "user", "content": f"use {secret}"}),
        "assistant prefill": lambda: b["messages"].append({"role": "assistant", "content": f"The key is {secret}"}),
        "tool_use input": lambda: b["messages"].insert(1, {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t9", "name": "Bash", "input": {"command": f"export K={secret}"}}]}),
        "document": lambda: last_user["content"].append(
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": f"k={secret}"}}),
        "search_result": lambda: last_user["content"].append(
            {"type": "search_result", "source": "s", "title": "t",
             "content": [{"type": "text", "text": f"found {secret}"}]}),
        "mid-conversation system message": lambda: b["messages"].append(
            {"role": "system", "content": f"reminder {secret}"}),
        "tool description": lambda: b["tools"].append(
            {"name": "Deploy", "description": f"uses {secret}", "input_schema": {"type": "object"}}),
        "tool schema": lambda: b["tools"].append(
            {"name": "Deploy2", "input_schema": {"type": "object", "description": f"token {secret}"}}),
    }
    where[part]()
    return b


PARTS = ["system prompt", "earlier user turn", "assistant prefill", "tool_use input", "document", "search_result",
         "mid-conversation system message", "tool description", "tool schema"]


@pytest.mark.parametrize("part", PARTS)
def test_every_part_of_a_recorded_request_is_screened(part: str) -> None:
    body = json.loads((RECORDED / "main_turn_opus_adaptive.json").read_text())["body"]
    assert Screener().screen(body) == []
    hits = Screener().screen(_plant(body, part, AWS))
    assert hits and all("aws-access-key" in h.found for h in hits)


def test_later_turns_scan_only_what_is_new() -> None:
    """The cost stays flat: a session's resent conversation is not scanned again, only the new turn."""
    body = json.loads((RECORDED / "main_turn_opus_adaptive.json").read_text())["body"]
    s = Screener()
    assert s.screen(body) == []
    first = s.scanned_chars
    total = sum(len(t) for _, t in request_parts(body))
    assert 0.9 * total < first <= total  # identical parts are scanned once
    body["messages"] += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "next step please"}]
    assert s.screen(body) == []
    assert s.scanned_chars - first == len("ok") + len("next step please")
    body["messages"].append({"role": "user", "content": f"and {AWS}"})
    assert s.screen(body) and s.screen(body)  # a hit is never remembered as clean


def test_a_secret_read_by_a_tool_is_refused_before_sending(blocking_gw: GW):
    status, _, body = blocking_gw.post(tool_result_turn(f"AWS_ACCESS_KEY_ID={AWS}\nDEBUG=1\n"))
    assert status == 403
    err = json.loads(body)["error"]
    assert err["type"] == "permission_error" and "aws-access-key (line 1)" in err["message"]
    assert AWS not in body.decode()
    assert blocking_gw.up.generation_requests() == []
    (row,) = blocking_gw.rows()
    assert row["status"] == "refused" and AWS not in json.dumps(row)
    extra = json.loads(row["extra"])  # what `routesh ui` explains: the kinds found and why this profile
    assert "aws-access-key" in extra["secrets"] and extra["profile_why"]


def test_a_secret_typed_in_the_prompt_is_refused(blocking_gw: GW):
    status, _, _ = blocking_gw.post(msg(f"deploy with key {AWS} please"))
    assert status == 403 and blocking_gw.up.generation_requests() == []


def test_clean_turns_pass(blocking_gw: GW):
    status, _, _ = blocking_gw.post(tool_result_turn("DEBUG=1\nPORT=8080\n"))
    assert status == 200 and len(blocking_gw.up.generation_requests()) == 1
    (row,) = blocking_gw.rows()
    assert json.loads(row["extra"])["secrets"] == ""  # screened, none found (the page says "none found")


def test_warn_sends_and_logs_without_the_secret(warning_gw: GW):
    status, _, _ = warning_gw.post(tool_result_turn(f"AWS_ACCESS_KEY_ID={AWS}\n"))
    assert status == 200 and len(warning_gw.up.generation_requests()) == 1
    assert any("secret sent (on_secret: warn)" in line for line in warning_gw.logs)
    assert all(AWS not in line for line in warning_gw.logs)
    (row,) = warning_gw.rows()
    assert "aws-access-key" in json.loads(row["extra"])["secrets"] and AWS not in json.dumps(row)


def test_a_secret_in_the_system_prompt_is_refused_and_named(blocking_gw: GW):
    """CLAUDE.md or a resumed session puts text in parts the old screen (latest turn only) never saw."""
    body = msg("hello")
    body["system"] = [{"type": "text", "text": f"project notes\nAWS_ACCESS_KEY_ID={AWS}"}]
    status, _, out = blocking_gw.post(body)
    assert status == 403 and "the system prompt" in json.loads(out)["error"]["message"]
    assert blocking_gw.up.generation_requests() == []
