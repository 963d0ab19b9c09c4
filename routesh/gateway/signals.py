"""Outcome signals from Claude Code's requests as they pass: tool calls, failures, edits, rejections, turns.

Claude Code resends the whole conversation on every request, so a tool_result seen in turn N is in
every later request too. Per session, the ids already counted are remembered and only what is new is
counted; the scan walks back from the end and stops at the first message holding something already
counted, so a request costs what its new messages cost, not the session's length.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from ..core.outcome_signals import EDIT_TOOLS, Signals, is_rejection, result_text, sketch, tools_text

MAX_SESSIONS = 512  # sessions remembered; the least recently seen is forgotten (its next request counts its tail)
NOT_TURNS = frozenset({"background", "subagent"})  # Claude Code's own requests, never a prompt a person typed


def session_of(body: dict[str, Any], header: str | None) -> str | None:
    """Claude Code's session id: the x-claude-code-session-id header, else metadata.user_id (JSON or `_session_`)."""
    if header:
        return header[:200]
    meta = body.get("metadata")
    user = meta.get("user_id") if isinstance(meta, dict) else None
    if not isinstance(user, str) or "session" not in user:
        return None
    if user.startswith("{"):
        try:
            sid = json.loads(user).get("session_id")
        except (ValueError, AttributeError):
            return None
        return sid[:200] if isinstance(sid, str) and sid else None
    _, sep, sid = user.rpartition("_session_")
    return sid[:200] if sep and sid else None


class SignalTracker:
    """Per session, the tool_use and tool_result ids already counted (bounded, least recently used first out)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._seen: OrderedDict[str, set[str]] = OrderedDict()
        self._max = max_sessions

    def observe(self, session: str | None, messages: Any, kind: str, prompt: str) -> Signals:
        """The signals new in this request (its whole tail when the session is new to this process)."""
        if not isinstance(messages, list):
            return Signals()
        if session is None:
            seen: set[str] = set()
            fresh = True
        else:
            got = self._seen.get(session)
            fresh = got is None
            if got is None:
                got = self._seen[session] = set()
                if len(self._seen) > self._max:
                    self._seen.popitem(last=False)
            else:
                self._seen.move_to_end(session)
            seen = got
        # A session first seen here (a new one, or a --resume / a restarted gateway): its history was counted
        # before or is not ours to count; only the latest exchange (the last assistant + user message) is new.
        start = max(0, len(messages) - 3) if fresh else 0
        names: dict[str, str] = {}
        results: list[tuple[str, bool, str]] = []  # (tool_use_id, is_error, text) of new results
        by_name: dict[str, int] = {}
        calls = edits = 0
        for i in range(len(messages) - 1, -1, -1):
            msg = messages[i]
            content = msg.get("content") if isinstance(msg, dict) else None
            if not isinstance(content, list):
                continue
            old = False
            for block in content:
                if not isinstance(block, dict):
                    continue
                btype = block.get("type")
                if btype == "tool_use":
                    tid, name = block.get("id"), block.get("name")
                    if not isinstance(tid, str) or not isinstance(name, str):
                        continue
                    names[tid] = name
                    if tid in seen:
                        old = True
                        continue
                    seen.add(tid)
                    if i < start:
                        continue
                    calls += 1
                    by_name[name] = by_name.get(name, 0) + 1
                    edits += name in EDIT_TOOLS
                elif btype == "tool_result":
                    tid = block.get("tool_use_id")
                    if not isinstance(tid, str):
                        continue
                    key = "r" + tid
                    if key in seen:
                        old = True
                        continue
                    seen.add(key)
                    if i < start:
                        continue
                    err = block.get("is_error") is True
                    results.append((tid, err, result_text(block.get("content")) if err else ""))
            if old and not fresh:
                break
        failed = rejected = 0
        for tid, err, text in results:
            if not err:
                continue
            if is_rejection(text):
                rejected += names.get(tid) in EDIT_TOOLS
            else:
                failed += 1
        turn = int(kind not in NOT_TURNS and _typed(messages))
        return Signals(calls, failed, edits, rejected, tools_text(by_name), turn, sketch(prompt) if turn else None)


def _typed(messages: list[Any]) -> bool:
    """The last user message is a prompt (text), not tool results coming back."""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return bool(content.strip())
            if not isinstance(content, list):
                return False
            return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    return False
