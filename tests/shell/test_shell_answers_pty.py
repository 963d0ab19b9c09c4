"""In a real terminal: the toolbar stays while the first token is awaited, and /history finds the exchange again."""

from __future__ import annotations

import re
import time

from test_shell_pty import Term, ask, config, term  # noqa: F401 - fixtures
from upstream import Upstream, slow_first_byte, upstream_fixture  # noqa: F401 - fixture


def test_toolbar_stays_while_waiting_for_the_first_token(term: Term, upstream: Upstream) -> None:  # noqa: F811
    ask(term, "a first one")  # so the session has a cost to show
    upstream.script(slow_first_byte(4))
    term.type("wait for it")
    term.enter()
    upstream.wait_for_requests(2, timeout=15)
    m = term.wait(r"profile personal │ → default \(claude-sonnet-4-6\) │ session \$0\.\d+.* · (\d+\.\d)s", timeout=10)
    first = float(m.group(1))
    time.sleep(1.2)
    later = term.wait(r"profile personal │ → default .* · (\d+\.\d)s")
    assert float(later.group(1)) > first  # the seconds waited go on
    term.wait(r"^Hello from claude-sonnet-4-6\.", timeout=15)
    term.ready()
    assert not re.search(r"│ session .* · \d+\.\ds$", term.screen(), re.M)  # erased once the answer came


def test_history_lists_the_exchange_and_shows_it(term: Term, upstream: Upstream) -> None:  # noqa: F811
    upstream.configure(text="The answer is forty-two.")
    ask(term, "what is the answer?")
    term.type("/history")
    term.enter()
    term.wait(r"^\s+1  \d\d:\d\d  default  \$0\.\d+  what is the answer\?$")
    term.ready()
    term.type("/history 1")
    term.enter()
    term.wait(r"^── answer\n(?:.*\n)?The answer is forty-two\.")
    term.ready()
    assert "── prompt\nwhat is the answer?" in term.history()


def test_routesh_c_with_no_prompt_opens_the_shell_in_that_conversation(tmp_path, config, upstream: Upstream) -> None:  # noqa: F811
    import time as _time

    from routesh.core.events import AttemptRecord
    from routesh.usage.ledger import Ledger

    db = tmp_path / "home" / ".local/share/routesh/usage.db"
    with Ledger(db) as led:
        led.record(AttemptRecord(ts=_time.time(), request_id="5555000000000000", attempt=1, profile="personal",
                                 route="default", provider="up", model="claude-sonnet-4-6", via="api", status="ok",
                                 prompt="the earlier question", session_id="oldconv0", answer="the earlier answer"))
    t = Term(tmp_path, config, args=("-c",))
    try:
        t.ready()
        assert "continues conversation oldconv0: 1 earlier turn(s)" in t.screen()
        ask(t, "and then?")
        sent = upstream.generation_requests()[-1].json["messages"]
        assert [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in sent] == [
            "the earlier question", "the earlier answer", "and then?"]
        with Ledger(db) as led:
            assert led.recent(1)[0]["session_id"] == "oldconv0"
    finally:
        t.close()
