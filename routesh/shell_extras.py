"""The shell's commands that reach outside it: files and command output as context, $EDITOR, the clipboard.

Files and `!command` output wait as attachments and go with the next prompt, after its text, so the
router, the token estimate and secret screening see them exactly as they will be sent.
"""

from __future__ import annotations

import base64
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError
from .render import tokens
from .shell_commands import command
from .tokens import estimate_tokens

if TYPE_CHECKING:
    from .shell import Shell

MAX_ATTACH_BYTES = 512 * 1024  # one file or one command's output; larger ones are refused or cut
OSC52_MAX_BYTES = 100_000  # what terminals reliably accept in one clipboard sequence


@dataclass(frozen=True)
class Attachment:
    """Context waiting for the next prompt: a file's text or a command's output, with where it came from."""

    label: str  # "src/app.py" or "$ pytest -x (exit 1)"
    body: str

    def block(self) -> str:
        """The attachment as it is sent: its label, then a fence longer than any backtick run inside."""
        fence = "`" * max(3, _longest_backticks(self.body) + 1)
        return f"{self.label}\n{fence}\n{self.body.rstrip(chr(10))}\n{fence}"


def _longest_backticks(text: str) -> int:
    best = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        best = max(best, run)
    return best


def with_attachments(text: str, attached: list[Attachment]) -> str:
    """The prompt as sent: the typed text first (so a /prefix still routes), then each attachment."""
    if not attached:
        return text
    return "\n\n".join([text.rstrip(), *(a.block() for a in attached)])


def read_attachment(path: Path) -> Attachment:
    """A text file as an attachment; binary, huge or unreadable files are refused with the reason."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise UserError(f"{path} is a directory; attach its files one by one, e.g. /file {path}/app.py")
        if size > MAX_ATTACH_BYTES:
            raise UserError(f"{path} is {size // 1024} KiB, over the {MAX_ATTACH_BYTES // 1024} KiB limit for an "
                            "attachment; attach a smaller part of it")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\0" in data[:8192]:
        raise UserError(f"{path} looks binary (it has NUL bytes); only text files can be attached")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; only text files can be attached") from None
    return Attachment(str(path), text)


def _describe(a: Attachment) -> str:
    lines = a.body.count("\n") + (not a.body.endswith("\n") and bool(a.body))
    return f"{a.label} ({lines} line{'s' if lines != 1 else ''}, ~{tokens(estimate_tokens(a.body))} tok)"


@command("/file", "PATH...")
def _file(sh: Shell, arg: str) -> None:
    """Attach text files to your next prompt (each sent with its path, in a fenced block)."""
    if not arg:
        raise UserError("/file needs a path, e.g. /file src/app.py (Tab completes paths)")
    import glob

    paths: list[Path] = []
    for word in shlex.split(arg):
        word = os.path.expanduser(word)
        found = sorted(glob.glob(word)) if any(c in word for c in "*?[") else [word]
        if not found:
            raise UserError(f"no file matches {word}")
        paths += [Path(p) for p in found]
    new = [read_attachment(p) for p in paths]  # all or nothing: one bad path attaches none
    sh.attached.extend(new)
    for a in new:
        sh.out.note(f"attached {_describe(a)} to your next prompt; /drop removes attachments")


@command("/drop")
def _drop(sh: Shell, arg: str) -> None:
    """Remove the files and command output waiting to go with your next prompt."""
    if not sh.attached:
        sh.out.note("nothing attached")
        return
    sh.out.note("dropped " + ", ".join(a.label for a in sh.attached))
    sh.attached.clear()


def run_command(sh: Shell, cmd: str) -> None:
    """`!cmd`: run it in the shell's cwd, show its output, and attach the output to the next prompt."""
    cmd = cmd.strip()
    if not cmd:
        raise UserError("! needs a command, e.g. !pytest -x; its output goes with your next prompt")
    proc = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=sh.ctx.cwd, start_new_session=True)
    assert proc.stdout is not None
    kept = bytearray()
    interrupted = False
    try:
        for raw in iter(proc.stdout.readline, b""):
            sys.stdout.write(raw.decode("utf-8", "replace"))
            sys.stdout.flush()
            if len(kept) < MAX_ATTACH_BYTES:
                kept += raw
        code = proc.wait()
    except KeyboardInterrupt:
        interrupted = True
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        code = proc.wait()
    cut = " (cut)" if len(kept) >= MAX_ATTACH_BYTES else ""
    status = "interrupted" if interrupted else f"exit {code}"
    body = kept[:MAX_ATTACH_BYTES].decode("utf-8", "replace")
    a = Attachment(f"$ {cmd} ({status}){cut}", body)
    sh.attached.append(a)
    sh.out.note(f"attached the output of {_describe(a)} to your next prompt; /drop removes it")


@command("/edit", "[TEXT]")
def _edit(sh: Shell, arg: str) -> None:
    """Compose a prompt in $VISUAL or $EDITOR, then send it (an empty file sends nothing)."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="routesh-edit-") as tmp:  # 0700: the draft stays private
        draft = Path(tmp) / "prompt.md"
        draft.write_text(arg + ("\n" if arg else ""), encoding="utf-8")
        try:
            code = subprocess.call([*shlex.split(editor), str(draft)])
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot start the editor '{editor}' ({exc}); set $EDITOR, e.g. export EDITOR=nano") \
                from None
        text = draft.read_text(encoding="utf-8", errors="replace")
    if code != 0:
        raise UserError(f"the editor '{editor}' exited {code}; nothing was sent")
    if not text.strip():
        sh.out.note("empty draft; nothing was sent")
        return
    sh.handle(text.rstrip("\n"))


@command("/copy")
def _copy(sh: Shell, arg: str) -> None:
    """Copy the last answer to the clipboard (OSC 52: works over SSH and in tmux with set-clipboard on)."""
    last = sh.last
    if last is None or not last.answer:
        raise UserError("no answer in this session to copy yet")
    data = last.answer.encode("utf-8")
    if len(data) > OSC52_MAX_BYTES:
        raise UserError(f"the answer is {len(data) // 1024} KiB, more than terminals accept through OSC 52 "
                        f"({OSC52_MAX_BYTES // 1000} KB); select it on screen instead")
    sys.stdout.write(f"\x1b]52;c;{base64.b64encode(data).decode('ascii')}\x07")
    sys.stdout.flush()
    sh.out.note(f"copied the last answer ({len(last.answer)} characters) to the clipboard")
