"""`routesh keys set|delete|list`: provider keys in the OS keyring, one per profile and provider."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ..core.config import Config
from ..core.context import Context, announce, build
from ..core.errors import UserError
from ..core.yamlnodes import did_you_mean
from .parsers import add_global_options

Handler = Callable[[argparse.Namespace], int]


def add_parser(p: argparse.ArgumentParser) -> Handler:
    """Store, remove or list provider keys in the OS keyring."""
    p.description = ("Provider keys live in the OS keyring (Secret Service, Keychain), one entry per profile and "
                     "provider: service 'routesh', username 'PROFILE/PROVIDER'. They are never written to routes.yaml.")
    add_global_options(p, suppress=True)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("set", help="store a key, read from a hidden prompt or from stdin (never from arguments)")
    s.add_argument("provider")
    d = sub.add_parser("delete", help="remove a stored key")
    d.add_argument("provider")
    ls = sub.add_parser("list", help="where each profile's key for each provider comes from, masked")
    ls.add_argument("--json", action="store_true")
    for sp in (s, d, ls):
        add_global_options(sp, suppress=True)
    return _run


def _run(args: argparse.Namespace) -> int:
    from ..keys.entries import KeyringUnavailable

    ctx = build(args.config, getattr(args, "profile", None), blank_ok=args.action == "list")
    announce(ctx.loaded)
    try:
        if args.action == "set":
            return _set(ctx, args.provider)
        if args.action == "delete":
            return _delete(ctx, args.provider)
        return _list(ctx, args.json, explicit=getattr(args, "profile", None))
    except KeyringUnavailable as exc:
        raise UserError(str(exc)) from None


def _provider(config: Config, name: str) -> str:
    if name not in config.providers:
        raise UserError(f"unknown provider '{name}'{did_you_mean(name, config.providers)}; "
                        f"providers: {', '.join(config.providers)}")
    return name


def _interactive() -> bool:
    """A person at a terminal may answer the desktop's unlock prompt; a script may not."""
    return sys.stdin is not None and sys.stdin.isatty()


def _read_secret(provider: str, profile: str) -> str:
    """The secret from a hidden prompt on a terminal, else all of stdin; never echoed."""
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{provider} key for profile {profile} (input hidden): ")
    if sys.stdin is None:
        raise UserError("no key given: pipe it in, e.g. printf %s \"$KEY\" | routesh keys set PROVIDER")
    return sys.stdin.read()


def _set(ctx: Context, provider: str) -> int:
    from ..keys.entries import mask
    from ..keys.secrets import key_needed, set_key

    name = _provider(ctx.config, provider)
    if not key_needed(ctx.config.provider_in(ctx.profile, name)):
        raise UserError(f"provider '{name}' needs no key (it has `key: none` or `auth: subscription`)")
    secret = _read_secret(name, ctx.profile.name)
    try:
        set_key(ctx.profile.name, name, secret, prompt=_interactive())
    except ValueError as exc:
        raise UserError(f"not stored: {exc}") from None
    print(f"stored the {name} key for profile {ctx.profile.name} in the keyring ({mask(secret.strip())})")
    return 0


def _delete(ctx: Context, provider: str) -> int:
    from ..keys.secrets import delete_key

    name = _provider(ctx.config, provider)
    if delete_key(ctx.profile.name, name, prompt=_interactive()):
        print(f"deleted the {name} key of profile {ctx.profile.name} from the keyring")
        return 0
    print(f"routesh: profile {ctx.profile.name} has no {name} key in the keyring; nothing to delete", file=sys.stderr)
    return 1


def _list(ctx: Context, as_json: bool, explicit: str | None) -> int:
    from ..core.keyshare import restricted, shared_keys
    from ..keys.secrets import list_keys

    every = list_keys(ctx.config)  # all profiles, values compared by hash, so sharing shows up
    rows = [r for r in every if r.profile == ctx.profile.name] if explicit else every
    shared = {(r.profile, r.provider): shared_keys(ctx.config, r.profile, every, [r.provider]) for r in rows}
    if as_json:
        print(json.dumps([{"profile": r.profile, "provider": r.provider, "source": r.source, "present": r.present,
                           "env_var": r.env_var, "masked": r.masked or None, "needed": r.needed,
                           "problem": r.problem, "shared_with": [s.public() for s in shared[(r.profile, r.provider)]]}
                          for r in rows], indent=2))
        return 0
    from rich.markup import escape
    from rich.table import Table

    from ..rendering.render import console

    t = Table(show_edge=False, pad_edge=False)
    for col in ("profile", "provider", "key from", "key", "fallback env"):
        t.add_column(col)
    for r in rows:
        where = "not needed" if not r.needed else r.source if r.present else "[yellow]missing[/]"
        t.add_row(r.profile, r.provider, where, r.masked or "", r.env_var or "")
    con = console()
    con.print(t)
    said: set[frozenset[tuple[str, str]]] = set()
    for (profile, provider), found in shared.items():
        for s in found:
            pair = frozenset({(profile, provider), (s.other, s.other_provider)})
            if pair in said:
                continue
            said.add(pair)
            strict = [n for n in (profile, s.other) if restricted(ctx.config.profiles[n])]
            refuses = "" if s.allowed or not strict else f"; profile {strict[0]} refuses to send with it"
            con.print(f"[{'dim' if s.allowed else 'yellow'}]shared:[/] {escape(s.sentence(profile))}{refuses}")
    problem = next((r.problem for r in rows if r.problem), None)
    if problem:  # the same keyring problem affects every row: say it once, with the fix
        first, _, _ = problem.partition("\n")
        con.print(f"[yellow]keyring:[/] {first}\nKeys can still come from the fallback env variables above.")
    return 0
