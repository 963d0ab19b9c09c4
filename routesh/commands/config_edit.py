"""`routesh config init|path|edit`: start a routes.yaml from the built-in one, say which is in use, edit it safely."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from ..core.config import summary
from ..core.configfile import builtin_text
from ..core.errors import UserError
from ..core.paths import user_config_file
from ..core.sources import Located, locate, parse_bytes
from ..core.yamlnodes import ConfigError


def _where(args: argparse.Namespace) -> Located:
    return locate(args.config, os.environ, Path.cwd())


def _is_blank(path: Path) -> bool:
    """An existing file with nothing but whitespace in it (say, truncated by `config show > it`)."""
    return path.is_file() and not path.read_bytes().strip()


def write_private(path: Path, data: bytes) -> None:
    """Replace path atomically with data, readable by the user only (0600; new directories 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def backup(path: Path) -> Path:
    """Copy path to a new `NAME.bak-YYYYMMDD-HHMMSS` beside it (never over an older backup)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.bak-{stamp}-{n}")
    write_private(target, path.read_bytes())
    return target


def init(args: argparse.Namespace) -> int:
    """Write the built-in routes.yaml, comments and all; an existing file is replaced only with --force."""
    target = Path(args.path).expanduser() if args.path else user_config_file()
    text = builtin_text().encode("utf-8")
    if target.exists() and not target.is_file():
        raise UserError(f"{target} exists and is not a file; move it away, then run this again")
    saved = None
    if target.is_file() and not _is_blank(target):
        if target.read_bytes() == text:
            print(f"{target} already holds the built-in routes.yaml")
            return 0
        if not args.force:
            raise UserError(f"{target} already exists and was left as it is; `routesh config init --force` "
                            "replaces it and keeps it as a backup")
        saved = backup(target)
    write_private(target, text)
    print(f"wrote the built-in routes.yaml to {target}" + (f"; the previous one is in {saved}" if saved else ""))
    print("change it with `routesh config edit`; `routesh config check` validates it")
    return 0


def path(args: argparse.Namespace) -> int:
    """Print the routes.yaml in use (or 'built-in default') and, indented below, why; reads nothing."""
    where = _where(args)
    for warning in where.warnings:
        print(f"routesh: {warning}", file=sys.stderr)
    print(where.path if where.path is not None else "built-in default")
    print(f"  {where.why}")
    return 0


def edit(args: argparse.Namespace) -> int:
    """Edit a copy in $VISUAL/$EDITOR, check it, and only then put it in place; a broken edit is kept aside."""
    where = _where(args)
    target = where.path or user_config_file()
    if target.exists() and not target.is_file():
        raise UserError(f"{target} is not a file; move it away, then run this again")
    before = target.read_bytes() if target.is_file() else None
    start = before if before is not None and before.strip() else builtin_text().encode("utf-8")
    draft = target.with_name(f".{target.name}.edit-{os.getpid()}.yaml")  # .yaml: editors highlight it
    write_private(draft, start)
    try:
        while True:
            _run_editor(draft)
            data = draft.read_bytes()
            if data == before:
                print(f"no changes to {target}")
                return 0
            try:
                config = parse_bytes(data, str(target))
            except ConfigError as exc:
                print(f"routesh: {exc}", file=sys.stderr)
                if _again():
                    continue
                rejected = target.with_name(f"{target.name}.rejected")
                os.replace(draft, rejected)
                kept = "was left as it was" if before is not None else "was not created"
                raise UserError(f"{target} {kept}; your edit is saved in {rejected}") from None
            os.chmod(draft, target.stat().st_mode & 0o777 if before is not None else 0o600)  # sed -i makes a new file
            os.replace(draft, target)
            print(f"saved {target}: {summary(config)}")
            if where.kind == "project":
                print(f"it changed, so it is untrusted again: run `routesh config trust {target}` to use it")
            return 0
    finally:
        draft.unlink(missing_ok=True)


def _run_editor(file: Path) -> None:
    """Run $VISUAL, else $EDITOR, else vi, on the file; a failing editor changes nothing."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(command)
        code = subprocess.call([*argv, str(file)])
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise UserError(f"cannot run the editor `{command}` ({why}); set $EDITOR to one that works") from None
    if code != 0:
        raise UserError(f"the editor `{command}` exited with {code}; nothing was changed")


def _again() -> bool:
    """On a terminal, offer to fix the edit; elsewhere (scripts, tests) give up at once."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    print("edit again? [Y/n] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("", "y", "yes")
