"""The shell's commands that reach outside it: files and command output as context, $EDITOR, the clipboard.

Files and `!command` output wait as attachments (attach.py, as the one-shot's -f) and go with the next
prompt, after its text, so the token estimate, min_tokens rules and secret screening count them.
"""

from __future__ import annotations

import base64
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.attach import Attachment, command_output, read_files
from ..core.errors import UserError
from ..rendering.render import tokens
from .builtins import command

if TYPE_CHECKING:
    from .repl import Shell

MAX_OUTPUT_BYTES = 512 * 1024  # of one command's output kept for the next prompt; the rest is cut
OSC52_MAX_BYTES = 100_000  # what terminals reliably accept in one clipboard sequence


def _describe(a: Attachment) -> str:
    return f"{a.label()} ({a.bytes:,} bytes, ~{tokens(a.tokens)} tok)"


@command("/file", "PATH...")
def _file(sh: Shell, arg: str) -> None:
    """Attach text files to your next prompt (each sent with its path, in a fenced block)."""
    if not arg:
        raise UserError("/file needs a path, e.g. /file src/app.py (Tab completes paths)")
    try:
        words = [os.path.expanduser(w) for w in shlex.split(arg)]
    except ValueError as exc:
        raise UserError(f"/file {arg}: {exc}; quote paths with spaces, e.g. /file 'my notes.txt'") from None
    new = read_files(words, None, sh.ctx.config.attach_max_kb, "/file")  # all or nothing
    sh.attached.extend(new)
    for a in new:
        sh.out.note(f"attached {_describe(a)} to your next prompt; /drop removes attachments")


@command("/drop")
def _drop(sh: Shell, arg: str) -> None:
    """Remove the files and command output waiting to go with your next prompt."""
    if not sh.attached:
        sh.out.note("nothing attached")
        return
    sh.out.note("dropped " + ", ".join(a.label() for a in sh.attached))
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
            if len(kept) < MAX_OUTPUT_BYTES:
                kept += raw
        code = proc.wait()
    except KeyboardInterrupt:
        interrupted = True
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        code = proc.wait()
    cut = " (cut)" if len(kept) >= MAX_OUTPUT_BYTES else ""
    status = "interrupted" if interrupted else f"exit {code}"
    a = command_output(f"$ {cmd} ({status}){cut}", kept[:MAX_OUTPUT_BYTES].decode("utf-8", "replace"))
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
