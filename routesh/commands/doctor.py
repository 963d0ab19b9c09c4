"""`routesh doctor`: what is set up, what is missing, and the exact command that fixes each problem."""

from __future__ import annotations

import argparse
import ipaddress
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import UserError

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Check:
    """One line of the report: what was looked at, whether it is fine, and the fix when it is not."""

    area: str
    ok: bool
    detail: str
    fix: str | None = None
    warn: bool = False  # not broken, but worth knowing


def add_parser(p: argparse.ArgumentParser) -> Handler:
    """What is set up, what is missing, and how to fix it."""
    p.description = "Check config, keyring, keys, endpoints and Claude Code; print the fix for each problem."
    p.add_argument("--json", action="store_true", help="a JSON list of checks")

    def run(args: argparse.Namespace) -> int:
        checks = collect(args.config, args.profile)
        if args.json:
            print(json.dumps([asdict(c) for c in checks], indent=2))
        else:
            show(checks)
        return 0 if all(c.ok for c in checks) else 1

    return run


def collect(config_flag: str | None, profile_flag: str | None) -> list[Check]:
    """Every check, in the order a user would fix things."""
    from ..context import build

    checks: list[Check] = []
    try:
        ctx = build(config_flag, profile_flag, blank_ok=True)  # an empty user file is reported, not a dead end
    except UserError as exc:
        return [Check("config", False, str(exc), "fix the lines named above, then run `routesh config check`")]
    src = ctx.loaded
    where = str(src.path) if src.path else "the built-in default"
    checks.append(Check("config", True, f"{where} ({src.kind}); profile {ctx.choice.name}: {ctx.choice.why}"))
    for w in src.warnings:
        checks.append(Check("config", " is empty, " not in w, w, warn=True))
    checks += _keyring_checks(ctx)
    checks += _endpoint_checks(ctx)
    checks.append(_claude_check(ctx.config.claude_path))
    return checks


def _keyring_checks(ctx) -> list[Check]:  # type: ignore[no-untyped-def]
    from ..secrets import keyring_status, list_keys

    out: list[Check] = []
    st = keyring_status()
    if st.usable:
        out.append(Check("keyring", True, f"{st.backend}" + (f": {st.detail}" if st.detail else "")))
    else:
        problem, _, fix = (st.problem or "unusable").partition("\n")
        out.append(Check("keyring", False, f"{st.backend}: {problem}", fix or None))
    used = {r.provider for r in ctx.config.routes.values()}
    for row in list_keys(ctx.config, fetch=False):
        if not row.needed or row.provider not in used:
            continue
        label = f"key {row.profile}/{row.provider}"
        if row.present:
            out.append(Check(label, True, f"from {row.source}" + (f" ({row.env_var})" if row.source == "env" else "")))
        else:
            fix = f"routesh keys set {row.provider} --profile {row.profile}"
            if row.env_var:
                fix += f"   (or export {row.env_var})"
            out.append(Check(label, False, "missing", fix))
    return out


def _endpoint_checks(ctx) -> list[Check]:  # type: ignore[no-untyped-def]
    out: list[Check] = []
    seen: set[tuple[str, str]] = set()
    for profile in ctx.config.profiles.values():
        for name in ctx.config.providers:
            p = ctx.config.provider_in(profile, name)
            url = p.base_url or ("https://api.anthropic.com" if p.type == "anthropic" else "https://api.openai.com/v1")
            if (name, url) in seen:
                continue
            seen.add((name, url))
            host = urlsplit(url).hostname or ""
            local = _is_loopback(host)
            plain = url.startswith("http://") and not local
            detail = f"{url} ({'loopback: stays on this machine' if local else 'remote'})"
            if plain:
                out.append(Check(f"endpoint {name}", False, detail + ": plain http to a remote host sends keys "
                                 "and prompts unencrypted", f"use https in routes.yaml for provider {name}"))
            else:
                out.append(Check(f"endpoint {name}", True, detail))
    return out


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _claude_check(path: str | None) -> Check:
    exe = path or shutil.which("claude")
    if not exe or not Path(exe).exists():
        return Check("claude", False, "Claude Code is not installed (needed for via: claude-code and routesh code)",
                     "npm install -g @anthropic-ai/claude-code")
    try:
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("claude", False, f"{exe} does not run: {exc}",
                     "reinstall: npm install -g @anthropic-ai/claude-code")
    return Check("claude", True, f"{exe}: {version or 'unknown version'}")


def show(checks: list[Check]) -> None:
    """A ✓/✗ list; fixes indented under the problems."""
    from rich.text import Text

    from ..render import console

    con = console()
    for c in checks:
        mark, style = ("!", "yellow") if c.warn else ("✓", "green") if c.ok else ("✗", "red")
        line = Text(f"{mark} ", style=style)
        line.append(f"{c.area}: ", style="bold")
        line.append(c.detail)
        con.print(line)
        if c.fix:
            con.print(Text(f"    fix: {c.fix}", style="cyan"))
    bad = sum(not c.ok for c in checks)
    con.print(Text(f"{bad} problem{'s' if bad != 1 else ''} found" if bad else "everything looks fine",
                   style="red" if bad else "green"))
