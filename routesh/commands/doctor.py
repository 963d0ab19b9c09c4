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

from ..core.errors import UserError

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
    p.description = ("Check config, keyring, keys, endpoints and Claude Code; print the fix for each problem. "
                     "Offline by default: endpoints are not contacted unless --online is given.")
    p.add_argument("--json", action="store_true", help="a JSON list of checks")
    p.add_argument("--online", action="store_true",
                   help="also call each provider endpoint of the active profile once (list its models, with its "
                        "key) and report the status and latency")

    def run(args: argparse.Namespace) -> int:
        checks = collect(args.config, args.profile, online=args.online)
        if args.json:
            print(json.dumps([asdict(c) for c in checks], indent=2))
        else:
            show(checks, online=args.online)
        return 0 if all(c.ok for c in checks) else 1

    return run


def collect(config_flag: str | None, profile_flag: str | None, *, online: bool = False) -> list[Check]:
    """Every check, in the order a user would fix things."""
    from ..core.context import build

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
    checks += _endpoint_checks(ctx, online)
    if online:
        checks += _probe_checks(ctx)
    checks.append(_claude_check(ctx.config.claude_path))
    return checks


def _keyring_checks(ctx) -> list[Check]:  # type: ignore[no-untyped-def]
    from ..core.keyshare import restricted, shared_keys
    from ..keys.entries import SOFT_KINDS
    from ..keys.secrets import keyring_status, list_keys

    out: list[Check] = []
    st = keyring_status()
    if st.usable:
        out.append(Check("keyring", True, f"{st.backend}" + (f": {st.detail}" if st.detail else "")))
    else:
        problem, _, fix = (st.problem or "unusable").partition("\n")
        soft = st.kind in SOFT_KINDS  # no keyring on this machine at all: key_env variables can serve instead
        detail = f"{st.backend}: {problem.rstrip('.')}"
        if soft:
            detail += "; keys can come from key_env variables instead"
        out.append(Check("keyring", soft, detail, fix or None, warn=soft))
    config, active = ctx.config, ctx.profile.name
    used = {r.provider for r in config.routes.values()}
    rows = [r for r in list_keys(config) if r.needed and r.provider in used]
    for profile in config.profiles:
        mine = [r for r in rows if r.profile == profile]
        usable = [r for r in mine if _allowed(config.profiles[profile], r.provider)]
        if profile != active and usable and not any(r.present for r in usable):  # never set up: not a problem
            names = ", ".join(r.provider for r in usable)
            out.append(Check(f"profile {profile}", True, f"not set up (no key for {names}); "
                             f"`routesh keys set PROVIDER --profile {profile}` when you want to use it"))
            continue
        for row in mine:
            out.append(_key_check(row, active, _allowed(config.profiles[profile], row.provider)))
    said: set[frozenset[tuple[str, str]]] = set()
    for row in rows:
        for s in shared_keys(config, row.profile, rows, [row.provider]):
            pair = frozenset({(row.profile, row.provider), (s.other, s.other_provider)})
            if pair in said:
                continue
            said.add(pair)
            strict = [n for n in (row.profile, s.other) if restricted(config.profiles[n])]
            bad = not s.allowed and bool(strict)
            fix = None
            if bad:
                who, partner = strict[0], s.other if strict[0] == row.profile else row.profile
                fix = (f"give profile {who} its own key (`routesh keys set {row.provider} --profile {who}` or its "
                       f"own key_env), or add `share_keys_with: [{partner}]` to it if both are one account")
            detail = s.sentence(row.profile) + (f"; profile {strict[0]} refuses to send with it" if bad else "")
            out.append(Check(f"key {row.profile}/{row.provider}", not bad, detail, fix, warn=not s.allowed and not bad))
    return out


def _allowed(profile, provider: str) -> bool:  # type: ignore[no-untyped-def]
    return profile.allow_providers is None or provider in profile.allow_providers


def _key_check(row, active: str, allowed: bool) -> Check:  # type: ignore[no-untyped-def]
    """A key row as a check: missing matters for the active profile's allowed providers, is a note elsewhere."""
    label = f"key {row.profile}/{row.provider}"
    if row.present:
        return Check(label, True, f"from {row.source}" + (f" ({row.env_var})" if row.source == "env" else ""))
    fix = f"routesh keys set {row.provider} --profile {row.profile}"
    if row.env_var:
        fix += f"   (or export {row.env_var})"
    if not allowed:
        return Check(label, True, f"not needed: profile {row.profile} does not allow {row.provider}")
    if row.problem and row.source != "none":  # present but unusable (a line break in the variable...)
        return Check(label, False, row.problem.partition("\n")[0], fix)
    if row.profile != active:
        return Check(label, True, "missing (not the active profile)", fix, warn=True)
    return Check(label, False, "missing", fix)


def _endpoint_checks(ctx, online: bool) -> list[Check]:  # type: ignore[no-untyped-def]
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
            probed = "" if online else "; not probed: `doctor --online` calls it"
            detail = f"{url} ({'loopback: stays on this machine' if local else 'remote'}{probed})"
            if plain:
                out.append(Check(f"endpoint {name}", False, detail + ": plain http to a remote host sends keys "
                                 "and prompts unencrypted", f"use https in routes.yaml for provider {name}"))
            else:
                out.append(Check(f"endpoint {name}", True, detail))
    return out


def _probe_checks(ctx) -> list[Check]:  # type: ignore[no-untyped-def]
    """One model-list call per provider the active profile may use, with its own key."""
    from ..keys.secrets import key_needed, lookup_key
    from .probe import probe

    config, profile = ctx.config, ctx.profile
    out: list[Check] = []
    names = dict.fromkeys(r.provider for r in config.routes.values() if _allowed(profile, r.provider))
    for name in names:
        provider = config.provider_in(profile, name)
        label = f"online {name}"
        key = None
        if key_needed(provider):
            found = lookup_key(profile.name, provider)
            if not found.present:
                out.append(Check(label, False, "not probed: no key for this profile",
                                 f"routesh keys set {name} --profile {profile.name}"))
                continue
            key = found.value
        r = probe(provider, key)
        took = f" in {r.latency_ms:.0f} ms" if r.latency_ms is not None else ""
        status = f"HTTP {r.status}" if r.status is not None else "no answer"
        fix = None if r.ok else ("check the key: `routesh keys set " + name + f" --profile {profile.name}`"
                                 if r.status in (401, 403) else f"check base_url of provider {name} and the network")
        out.append(Check(label, r.ok, f"{r.url}: {status}{took}; {r.note}", fix))
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


def show(checks: list[Check], *, online: bool = False) -> None:
    """A ✓/✗ list; fixes indented under the problems."""
    from rich.text import Text

    from ..core.termsafe import clean
    from ..rendering.render import console

    con = console()
    for c in checks:
        mark, style = ("!", "yellow") if c.warn else ("✓", "green") if c.ok else ("✗", "red")
        line = Text(f"{mark} ", style=style)
        line.append(f"{c.area}: ", style="bold")
        line.append(clean(c.detail))
        con.print(line)
        if c.fix:
            con.print(Text(f"    fix: {c.fix}", style="cyan"))
    bad = sum(not c.ok for c in checks)
    fine = "everything looks fine" if online else \
        "no problems found offline; endpoints were not contacted (`routesh doctor --online` calls them)"
    con.print(Text(f"{bad} problem{'s' if bad != 1 else ''} found" if bad else fine, style="red" if bad else "green"))
