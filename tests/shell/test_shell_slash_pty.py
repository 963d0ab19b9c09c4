"""Slash words in the shell, typed in a real terminal: the same rules as the one-shot
(tests/commands/test_cli_output.py)."""

# ruff: noqa: F811 - the fixtures imported from test_shell_pty are used as arguments

from __future__ import annotations

from test_shell_pty import Term, ask, config, term, user_text  # noqa: F401 - fixtures
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture


def test_upper_case_and_trailing_colon_pick_the_prefix(term: Term, upstream: Upstream) -> None:
    ask(term, "/ARCHITECT: split billing")
    ask(term, "/Debug why is it flaky")
    first, second = upstream.generation_requests()[-2:]
    assert (first.model, user_text(first)) == ("claude-opus-4-7", "split billing")
    assert (second.model, user_text(second)) == ("claude-opus-4-7", "why is it flaky")
    assert "unknown command" not in term.history()


def test_bare_upper_case_prefix_is_sticky(term: Term, upstream: Upstream) -> None:
    term.type("/ARCHITECT:")
    term.enter()
    term.wait(r"sticky: every prompt goes to architect")
    term.ready()


def test_unknown_slash_word_with_text_is_sent_with_a_note(term: Term, upstream: Upstream) -> None:
    term.type("/deploy the app")
    term.wait(r"/deploy is not a route prefix or command, so it is sent as part of the prompt")  # toolbar
    term.enter()
    term.wait(r"^/deploy is not a route prefix or command, so it is sent as part of the prompt", where="history")
    term.wait(r"· \d+\.\ds$")
    term.ready()
    assert user_text(upstream.generation_requests()[-1]) == "/deploy the app"


def test_unknown_slash_word_alone_is_refused(term: Term, upstream: Upstream) -> None:
    term.type("/deploy")
    term.enter()
    term.wait(r"unknown command /deploy; nothing was sent")
    term.ready()
    assert upstream.generation_requests() == []
