"""Text sent along with a prompt: piped stdin and `-f` files, read, checked and fenced with their paths."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from .errors import UserError
from .tokens import estimate_tokens

DEFAULT_MAX_KB = 256  # attachments.max_kb in routes.yaml


@dataclass(frozen=True)
class Attachment:
    """One piece of text sent after the prompt: where it came from, its size, and the block sent."""

    kind: str  # "stdin" (piped after a prompt), "file" (-f or /file; path "-" is stdin) or "command" (the shell's !cmd)
    path: str | None
    bytes: int
    tokens: int
    block: str  # exactly what is appended to the prompt

    def to_json(self) -> dict[str, object]:
        """The --dry-run --json entry (never the content)."""
        return {"kind": self.kind, "path": self.path, "bytes": self.bytes, "tokens": self.tokens}

    def label(self) -> str:
        """'stdin', the path or the command, for the dry-run."""
        return "stdin" if self.kind == "stdin" or self.path == "-" else str(self.path)


def decode(data: bytes, what: str) -> str:
    """UTF-8 text, or a UserError naming the byte and offset (binary data named as such)."""
    if b"\0" in data[:8192]:
        raise UserError(f"{what} looks binary (it holds NUL bytes); only text can be sent")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                        "convert it first, e.g. `iconv -f latin1 -t utf-8`") from None


def piped(text: str) -> Attachment:
    """Piped stdin after a prompt argument: sent as is, after a blank line (as `cat f | llm "explain"`)."""
    return Attachment("stdin", None, len(text.encode("utf-8")), estimate_tokens(text), "\n\n" + text)


def expand(specs: Iterable[str], flag: str = "-f") -> list[str]:
    """-f arguments → paths: globs expanded (a glob that matches nothing is an error), each path once."""
    out: list[str] = []
    for spec in specs:
        import glob  # only with -f: glob and fnmatch are not on a plain prompt's path

        if spec != "-" and glob.has_magic(spec):
            found = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
            if not found:
                raise UserError(f"{flag} {spec}: no file matches this pattern")
            out.extend(found)
        else:
            out.append(spec)
    return list(dict.fromkeys(out))


def read_files(specs: Iterable[str], stdin: BinaryIO | None, max_kb: int, flag: str = "-f") -> tuple[Attachment, ...]:
    """Read every file (or stdin for '-'); refuse directories, binaries and files over max_kb, naming the fix.

    `flag` is how the user named the files (`-f` in the one-shot, `/file` in the shell), for the messages."""
    files = []
    for path in expand(specs, flag):
        data = _read(path, stdin, max_kb, flag)
        text = decode(data, f"stdin ({flag} -)" if path == "-" else f"{flag} {path}")
        files.append(Attachment("file", path, len(data), estimate_tokens(text), _fenced(path, text)))
    return tuple(files)


def command_output(label: str, output: str) -> Attachment:
    """A command's output (the shell's `!cmd`), fenced under the command line that made it."""
    return Attachment("command", label, len(output.encode("utf-8")), estimate_tokens(output), _fenced(label, output))


def _read(path: str, stdin: BinaryIO | None, max_kb: int, flag: str) -> bytes:
    limit = max_kb * 1024
    if path == "-":
        if stdin is None:
            raise UserError(f"{flag} - reads stdin, but there is no stdin")
        data = stdin.read(limit + 1)
    else:
        if os.path.isdir(path):
            raise UserError(f"{flag} {path}: is a directory; name files, or a glob such as '{path.rstrip('/')}/*.py'")
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:
            raise UserError(f"{flag} {path}: no such file") from None
        except OSError as exc:
            raise UserError(f"{flag} {path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > limit:
        where = f"stdin ({flag} -)" if path == "-" else f"{flag} {path}"
        raise UserError(f"{where} is over the {max_kb:,} KB attachment limit; send a part of it, or raise "
                        "attachments.max_kb in routes.yaml")
    return data


def _fenced(path: str, text: str) -> str:
    """The path on its own line, then the text in a fence longer than any backtick run inside it."""
    fence = "```"
    while fence in text:
        fence += "`"
    name = "stdin" if path == "-" else path
    return f"\n\n{name}\n{fence}\n{text}{'' if text.endswith(chr(10)) or not text else chr(10)}{fence}"


def blocks(attachments: Iterable[Attachment]) -> str:
    """Everything appended to the prompt, in order."""
    return "".join(a.block for a in attachments)
