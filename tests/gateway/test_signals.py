"""Outcome signals from Claude Code's requests: each tool call, failure, edit and rejection counted once."""

from __future__ import annotations

import json
from typing import Any

from routesh.core.outcome_signals import NEAR_BITS, is_rejection, near, parse_tools, sketch, tools_text
from routesh.gateway.signals import SignalTracker, session_of

# The permission-denied tool_results of claude 2.1.197: -p mode without permission (captured from a real run
# against tests/upstream.py), and the interactive "No" (its fixed text in the claude binary).
NOT_GRANTED = "Claude requested permissions to write to /tmp/w/x.txt, but you haven't granted it yet."
SAID_NO = ("The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file "
           "edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to "
           "tell you how to proceed.")


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                        {"type": "text", "text": text}]}


def uses(*calls: tuple[str, str]) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": "ok"}] + [
        {"type": "tool_use", "id": tid, "name": name, "input": {}} for tid, name in calls]}


def results(*res: tuple[str, bool, Any]) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "is_error": err, "content": c}
                                        for tid, err, c in res]}


def test_each_signal_is_counted_once_as_the_conversation_grows() -> None:
    t = SignalTracker()
    convo: list[dict[str, Any]] = [user("fix the parser")]
    first = t.observe("s1", convo, "main", "fix the parser")
    assert first.turn == 1 and first.tool_calls == 0 and first.prompt_sketch == sketch("fix the parser")
    convo += [uses(("t1", "Read"), ("t2", "Edit")), results(("t1", False, "file"), ("t2", True, SAID_NO))]
    second = t.observe("s1", convo, "main", "fix the parser")
    assert (second.tool_calls, second.edits, second.rejected_edits, second.failed_tool_calls) == (2, 1, 1, 0)
    assert second.tools == "Edit=1,Read=1" and second.turn == 0 and second.prompt_sketch is None
    convo += [uses(("t3", "Bash")), results(("t3", True, [{"type": "text", "text": "exit code 1"}]))]
    third = t.observe("s1", convo, "main", "fix the parser")
    assert (third.tool_calls, third.failed_tool_calls, third.edits, third.rejected_edits) == (1, 1, 0, 0)
    assert third.tools == "Bash=1"
    again = t.observe("s1", convo, "main", "fix the parser")  # the same request again (a client retry)
    assert (again.tool_calls, again.failed_tool_calls) == (0, 0)
    convo += [uses(("t4", "Write")), results(("t4", True, NOT_GRANTED)), {"role": "system", "content": "note"}]
    fourth = t.observe("s1", convo, "main", "fix the parser")
    assert (fourth.edits, fourth.rejected_edits, fourth.failed_tool_calls) == (1, 1, 0)


def test_a_rejected_non_edit_is_neither_a_failure_nor_a_rejected_edit() -> None:
    t = SignalTracker()
    t.observe("s", [user("go")], "main", "go")
    sig = t.observe("s", [user("go"), uses(("b", "Bash")), results(("b", True, SAID_NO))], "main", "go")
    assert (sig.tool_calls, sig.failed_tool_calls, sig.rejected_edits) == (1, 0, 0)


def test_a_session_first_seen_mid_way_counts_only_its_latest_exchange() -> None:
    history = [user("a"), uses(("o1", "Edit")), results(("o1", True, SAID_NO)), uses(("o2", "Read")),
               results(("o2", False, "x")), uses(("n1", "Write")), results(("n1", True, "disk full"))]
    sig = SignalTracker().observe("resumed", history, "main", "a")
    assert (sig.tool_calls, sig.edits, sig.failed_tool_calls, sig.rejected_edits) == (1, 1, 1, 0)


def test_sessions_are_kept_apart_and_background_or_subagent_requests_are_not_turns() -> None:
    t = SignalTracker()
    assert t.observe("a", [user("same")], "background", "same").turn == 0
    assert t.observe("a", [user("same")], "subagent", "same").turn == 0
    a = t.observe("a", [user("x"), uses(("id", "Read")), results(("id", False, "ok"))], "main", "x")
    b = t.observe("b", [user("x"), uses(("id", "Read")), results(("id", False, "ok"))], "main", "x")
    assert a.tool_calls == 1 and b.tool_calls == 1


def test_the_tracker_forgets_the_least_recent_session() -> None:
    t = SignalTracker(max_sessions=2)
    convo = [user("x"), uses(("u", "Read")), results(("u", False, "ok"))]
    for s in ("a", "b", "c"):
        t.observe(s, convo, "main", "x")
    assert t.observe("b", convo, "main", "x").tool_calls == 0  # remembered
    assert t.observe("a", convo, "main", "x").tool_calls == 1  # forgotten: its latest exchange counts again


def test_session_id_from_the_header_or_metadata() -> None:
    sid = "b5d25637-ded2-4b87-bdcf-e9e1bd16083f"
    as_json = {"metadata": {"user_id": json.dumps({"device_id": "d", "account_uuid": "", "session_id": sid})}}
    legacy = {"metadata": {"user_id": f"user_abc_account__session_{sid}"}}
    assert session_of({}, sid) == sid
    assert session_of(as_json, None) == sid and session_of(legacy, None) == sid
    assert session_of({"metadata": {"user_id": "{broken"}}, None) is None
    assert session_of({"metadata": "x"}, None) is None and session_of({}, None) is None


def test_rejection_texts() -> None:
    assert is_rejection(SAID_NO) and is_rejection(NOT_GRANTED)
    assert is_rejection("The user doesn't want to take this action right now. STOP what you are doing")
    assert not is_rejection("Error: file not found") and not is_rejection("")


def test_sketch_near_and_far() -> None:
    a = "please refactor the parser module so that it handles nested quotes and escaped characters correctly"
    b = a.replace("correctly", "properly")
    assert sketch("Add tests, for X!") == sketch("add tests for x")
    assert near(sketch(a), sketch(b))  # type: ignore[arg-type]
    assert not near(sketch(a), sketch("write a haiku about the sea and the wind in the morning"))  # type: ignore[arg-type]
    assert sketch("") is None and sketch("!!") is None
    assert -(2**63) <= sketch(a) < 2**63  # type: ignore[operator]
    assert NEAR_BITS < 12  # random prompt pairs from a small vocabulary were never within 12 bits


def test_tools_text_round_trip() -> None:
    counts: dict[str, int] = {}
    parse_tools(tools_text({"Read": 2, "mcp__x,y=z": 1}), counts)
    parse_tools("Read=1", counts)
    assert counts == {"Read": 3, "mcp__x y z": 1}
    assert tools_text({}) is None


def _reference_sketch(text: str) -> int | None:
    """The simhash as defined, one bit at a time: the majority of the features' hash bits."""
    from hashlib import blake2b

    from routesh.core.outcome_signals import SKETCH_WORDS, normalized_words

    words = normalized_words(text[: SKETCH_WORDS * 32])[:SKETCH_WORDS]
    if not words:
        return None
    feats = words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]
    digests = [blake2b(f.encode("utf-8", "surrogatepass"), digest_size=8).digest() for f in feats]
    value = 0
    for j in range(8):
        for i in range(8):
            if 2 * sum((d[j] >> i) & 1 for d in digests) > len(feats):
                value |= 1 << (j * 8 + i)
    return value - (1 << 64) if value >= 1 << 63 else value


def test_sketch_matches_the_bit_by_bit_definition() -> None:
    import random

    rng = random.Random(12)
    for n in [0, 1, 2, 3, 4, 7, 40, 999, 1000, 1001, 1500] + [rng.randint(1, 60) for _ in range(150)]:
        text = " ".join("".join(rng.choices("abcdé", k=rng.randint(1, 3))) for _ in range(n))
        assert sketch(text) == _reference_sketch(text), n
