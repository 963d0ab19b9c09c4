"""Text that came from outside (upstream errors, answers, logs) is printed without its control sequences.

An error body or an answer can carry terminal escapes: OSC 0 sets the window title, OSC 52 writes
the clipboard, CSI sequences move the cursor over what routesh printed. Every printer passes such
text through :func:`clean` first. Newlines and tabs stay; a lone ESC or C1 control is removed, so a
sequence split across two stream chunks can never come back to life.
"""

from __future__ import annotations

import re

_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, erase
    r"|\x1b\][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC: title, clipboard (52), hyperlinks; to BEL or ST
    r"|\x1b[PX^_][^\x1b\x9c\n]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]"  # other two- or three-character escapes (ESC c resets the terminal)
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x9c)?"  # C1 string introducers, 8-bit form
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\r\n"  # CRLF → LF (handled in the replacement)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # every other control character but \t and \n (a lone \r overwrites)
)


def clean(text: str) -> str:
    """The text with terminal control sequences and control characters removed (\\n and \\t kept)."""
    if not text or (text.isprintable() and "\x1b" not in text):
        return text
    return _SEQUENCES.sub(lambda m: "\n" if m.group(0) == "\r\n" else "", text)


_INTRODUCERS = "\x1b\x90\x98\x9b\x9d\x9e\x9f"
_OPEN = re.compile(
    r"\x1b[ -/]*|\x1b\[[0-?]*[ -/]*|\x9b[0-?]*[ -/]*"  # an escape or CSI still waiting for its final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*"  # a string sequence still waiting for BEL/ST
)
_MAX_HELD = 4096


class StreamCleaner:
    """clean() for a stream: a sequence cut between two chunks is held back until it is whole, then removed.

    Without this, a title sequence split after its ESC would show its body as text. What is still held when
    the stream ends is an unfinished sequence, and is dropped.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        """The printable part of held text plus this chunk."""
        text, self._held = self._held + chunk, ""
        start = max(text.rfind(c) for c in _INTRODUCERS)
        if start >= 0 and len(text) - start < _MAX_HELD and _OPEN.fullmatch(text, start):
            text, self._held = text[:start], text[start:]
        return clean(text)


def join_surrogates(text: str) -> str:
    """Surrogate pairs (a JSON escape split across two deltas) made one character; a lone half becomes U+FFFD.

    A terminal's UTF-8 stream cannot take surrogates at all.
    """
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
