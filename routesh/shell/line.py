"""The shell's input line: prompt, bottom toolbar, Tab completion, key bindings and history.

Only prompt_toolkit is imported here; everything the toolbar and completer show comes from the
shell through the small View protocol, so this module knows nothing about routing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.styles import Style

_HEAD = re.compile(r"/[^\s]*")
_PATHS = PathCompleter(expanduser=True)

STYLE = Style.from_dict({
    "prompt": "bold",
    "prompt.profile": "ansicyan bold",
    "prompt.sticky": "ansiyellow bold",
    "bottom-toolbar": "noreverse bg:#262626 #bcbcbc",
    "bottom-toolbar.key": "#8a8a8a",
    "bottom-toolbar.route": "ansigreen bold",
    "bottom-toolbar.sticky": "ansiyellow bold",
    "bottom-toolbar.refused": "ansired bold",
    "bottom-toolbar.cost": "#d7af5f",
})


@dataclass(frozen=True)
class Preview:
    """Where the text being typed would go: shown in the toolbar as you type."""

    route: str
    model: str
    sticky: str | None = None  # the sticky prefix in force, e.g. "/architect"
    refused: str | None = None  # why the active profile would refuse it
    note: str | None = None  # e.g. "built-in command" or "unknown command"
    cost: str | None = None  # what it would send and cost: "~33.8k tok · ~$0.10 in · ≤ $0.23"


@dataclass(frozen=True)
class Status:
    """Everything the toolbar shows besides the preview."""

    profile: str
    session_cost: str
    last: str | None  # "claude-opus-4-7 · 2.3s"
    attached: int = 0  # files and command outputs waiting for the next prompt


class View(Protocol):
    """What the input line asks of the shell."""

    def prompt_parts(self) -> tuple[str, str | None]:
        """(profile, sticky prefix or None) for the prompt."""
        ...

    def preview(self, text: str) -> Preview:
        """Where this text would go."""
        ...

    def status(self) -> Status:
        """Profile, session cost and last request."""
        ...

    def words(self) -> list[tuple[str, str]]:
        """(/word, one-line description) for every command and route prefix."""
        ...

    def arguments(self, command: str) -> list[tuple[str, str]]:
        """(value, description) completions for a command's argument."""
        ...

    def keep_history(self) -> bool:
        """Whether the active profile lets prompts be written to the history file."""
        ...


class ProfileAwareHistory(FileHistory):
    """A history file that never holds a secret, nor lines typed under a profile with log_prompts: false."""

    def __init__(self, path: str, keep: Callable[[], bool], on_secret: Callable[[], str] = lambda: "warn") -> None:
        super().__init__(path)
        self._keep = keep
        self._on_secret = on_secret

    def store_string(self, string: str) -> None:
        """Write the redacted line to disk when the profile allows it; a line `block` refuses is not written at all.

        The in-memory list always gets the line as typed, so it can be recalled and fixed in this session.
        """
        if not self._keep():
            return
        from ..core.kept import redact_kept
        from ..screening.screen import scan

        if self._on_secret() == "block" and scan(string):
            return
        super().store_string(redact_kept(string))


def open_history(directory: Path, keep: Callable[[], bool], on_secret: Callable[[], str] = lambda: "warn") -> History:
    """The persistent history in the state dir (0600 in a 0700 dir), or memory-only if it cannot be created."""
    from ..core.private import create_private

    try:
        path = directory / "history"
        create_private(path)
        return ProfileAwareHistory(str(path), keep, on_secret)
    except OSError:
        return InMemoryHistory()


class ShellCompleter(Completer):
    """Completes /commands and route prefixes (with their descriptions) and a command's argument."""

    def __init__(self, view: View) -> None:
        self.view = view

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        """Cheap on huge buffers: only looks at the first word unless it is a short command line."""
        text = document.text_before_cursor
        if not text.startswith("/"):
            return
        m = _HEAD.match(text)
        head = m.group(0) if m else "/"
        if len(head) == len(text):
            for word, meta in self.view.words():
                if word.startswith(head):
                    yield Completion(word, start_position=-len(head), display_meta=meta)
            return
        rest = text[len(head):]
        if len(rest) > 200 or "\n" in rest:
            return
        arg = rest.lstrip(" ")
        if head == "/file" and rest:
            word = arg.rsplit(" ", 1)[-1]
            yield from _PATHS.get_completions(Document(word, len(word)), complete_event)
            return
        if " " in arg:
            return
        for value, meta in self.view.arguments(head):
            if value.startswith(arg):
                yield Completion(value, start_position=-len(arg), display_meta=meta)


def toolbar_fragments(preview: Preview, status: Status, width: int = 1000) -> StyleAndTextTuples:
    """profile │ → route (model) │ session $ │ last model · latency, fitted to the terminal's width.

    What matters least goes first when the line is too long: the last request, the cost estimate, the
    sticky hint, then the preview's detail is shortened; the profile, the route and the session cost always stay whole.
    """
    key = "class:bottom-toolbar.key"
    sep = (key, " │ ")
    where: StyleAndTextTuples
    if preview.note:
        where = [(key, "→ "), ("", preview.note)]
    else:
        style = "class:bottom-toolbar.refused" if preview.refused else "class:bottom-toolbar.route"
        where = [(key, "→ "), (style, preview.route), ("", f" ({preview.model})")]
        if preview.refused:
            where.append(("class:bottom-toolbar.refused", " refused by profile"))
    estimate: StyleAndTextTuples = []
    if preview.cost and not preview.refused and not preview.note:
        estimate = [(key, f" · {preview.cost}")]
    if status.attached:
        where.append(("class:bottom-toolbar.sticky", f" +{status.attached} attached"))
    head: StyleAndTextTuples = [(key, " profile "), ("", status.profile), sep]
    sticky: StyleAndTextTuples = []
    if preview.sticky:
        sticky = [sep, ("class:bottom-toolbar.sticky", f"sticky {preview.sticky}"), (key, " · /default ends")]
    cost: StyleAndTextTuples = [sep, (key, "session "), ("class:bottom-toolbar.cost", status.session_cost)]
    last: StyleAndTextTuples = [sep, (key, "last "), ("", status.last)] if status.last else []
    for parts in ([*head, *where, *estimate, *sticky, *cost, *last], [*head, *where, *estimate, *sticky, *cost],
                  [*head, *where, *sticky, *cost], [*head, *where, *sticky[:2], *cost], [*head, *where, *cost]):
        if _width(parts) <= width:
            return parts
    room = width - _width([*head, *cost]) - 1
    return [*head, *_shorten(where, max(room, 3)), *cost]


def _width(parts: StyleAndTextTuples) -> int:
    return sum(len(text) for _, text, *_ in parts)


def _shorten(parts: StyleAndTextTuples, room: int) -> StyleAndTextTuples:
    """The fragments cut to `room` characters, ending in an ellipsis."""
    out: StyleAndTextTuples = []
    for style, text, *_ in parts:
        if room <= 1:
            break
        if len(text) >= room:
            out.append((style, text[:room - 1]))
            room = 1
            break
        out.append((style, text))
        room -= len(text)
    out.append(("class:bottom-toolbar.key", "…"))
    return out


def _bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _accept(event: KeyPressEvent) -> None:
        """Enter sends (a bracketed paste never reaches here: its newlines are inserted as text)."""
        event.current_buffer.validate_and_handle()

    @kb.add("tab")
    def _complete(event: KeyPressEvent) -> None:
        """Tab takes a lone candidate for good (a second Tab must not undo it); with several it cycles."""
        b = event.current_buffer
        state = b.complete_state
        if state is not None and len(state.completions) == 1:
            b.apply_completion(state.completions[0])
        elif state is not None and state.completions:
            b.complete_next()
        elif b.completer is not None:
            # Asked here, not with start_completion(): while the completion started by typing is still running,
            # prompt_toolkit drops a second one, and its lone candidate would be shown but never inserted.
            from prompt_toolkit.completion import CompleteEvent

            found = list(b.completer.get_completions(b.document, CompleteEvent(completion_requested=True)))
            if len(found) == 1:
                b.apply_completion(found[0])
            elif found:
                b.start_completion(insert_common_part=True)

    @kb.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        """Esc-Enter (or Alt-Enter) starts a new line in the prompt."""
        event.current_buffer.insert_text("\n")

    return kb


def make_session(view: View, history: History) -> PromptSession[str]:
    """The PromptSession the shell reads every line with."""
    from prompt_toolkit.application import get_app

    def message() -> StyleAndTextTuples:
        profile, sticky = view.prompt_parts()
        parts: StyleAndTextTuples = [("class:prompt", "routesh ("), ("class:prompt.profile", profile),
                                     ("class:prompt", ")")]
        if sticky:
            parts.append(("class:prompt.sticky", f" {sticky}"))
        parts.append(("class:prompt", " › "))
        return parts

    def toolbar() -> StyleAndTextTuples:
        app = get_app()
        return toolbar_fragments(view.preview(app.current_buffer.text), view.status(),
                                 app.output.get_size().columns)

    def continuation(width: int, line_number: int, wrap_count: int) -> StyleAndTextTuples:
        return [("class:bottom-toolbar.key", " " * max(width - 2, 0) + "… ")]

    return PromptSession(
        message=message,
        multiline=True,
        prompt_continuation=continuation,
        bottom_toolbar=toolbar,
        completer=ShellCompleter(view),
        complete_while_typing=True,
        history=history,
        key_bindings=_bindings(),
        style=STYLE,
        enable_suspend=True,
        include_default_pygments_style=False,
    )
