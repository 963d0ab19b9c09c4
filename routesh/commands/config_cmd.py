"""`routesh config check|show|trust` and `routesh routes` (init, path and edit live in config_edit)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ..core.config import Config, summary
from ..core.context import announce, build
from ..core.errors import UserError
from ..core.sources import find_project_file, read_config, trust

Handler = Callable[[argparse.Namespace], int]


def add_parser(p: argparse.ArgumentParser) -> Handler:
    """Check, show, trust, start, locate or edit a routes.yaml."""
    p.description = "Check, show or trust a routes.yaml; start one from the built-in default; edit it safely."
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="validate a routes.yaml (default: the one in effect); exit 2 on errors")
    c.add_argument("path", nargs="?")
    s = sub.add_parser("show", help="print the effective config, defaults filled in")
    s.add_argument("--json", action="store_true", help="one JSON object in routes.yaml's shape")
    t = sub.add_parser("trust", help="allow a project's routes.yaml to be used (it can send your keys anywhere)")
    t.add_argument("path", nargs="?")
    i = sub.add_parser("init", help="write the built-in routes.yaml, with its comments, to your config path")
    i.add_argument("path", nargs="?", help="where to write it (default: the user config path)")
    i.add_argument("--force", action="store_true", help="replace an existing file, keeping it as a backup")
    sub.add_parser("path", help="print which routes.yaml is in use, and why")
    sub.add_parser("edit", help="open the routes.yaml in use in $EDITOR; keep the previous one if the edit is broken")
    return _run


def _run(args: argparse.Namespace) -> int:
    if args.action in ("init", "path", "edit"):
        from . import config_edit

        return {"init": config_edit.init, "path": config_edit.path, "edit": config_edit.edit}[args.action](args)
    if args.action == "check":
        return check(args)
    if args.action == "show":
        return show(args)
    return trust_cmd(args)


def check(args: argparse.Namespace) -> int:
    """Validate; print 'ok' and a summary, or every problem (raised as ConfigError, exit 2)."""
    if args.path:
        config, where = read_config(Path(args.path)), args.path
    else:
        ctx = build(args.config, args.profile)
        announce(ctx.loaded)
        config, where = ctx.config, str(ctx.loaded.path or "the built-in default")
    print(f"ok: {where}: {summary(config)}")
    return 0


def show(args: argparse.Namespace) -> int:
    """Print the config in effect as YAML, with where it came from."""
    import yaml

    ctx = build(args.config, args.profile, blank_ok=True)
    announce(ctx.loaded)
    if getattr(args, "json", False):
        import json

        print(json.dumps(as_data(ctx.config), indent=2, ensure_ascii=False))
        return 0
    origin = str(ctx.loaded.path) if ctx.loaded.path else "the built-in default"
    print(f"# effective config, from {origin} ({ctx.loaded.kind})")
    print(yaml.safe_dump(as_data(ctx.config), sort_keys=False, allow_unicode=True, width=100), end="")
    return 0


def as_data(config: Config) -> dict[str, Any]:
    """The config as plain data in routes.yaml's own shape, unset fields left out."""

    def clean(obj: Any, skip: tuple[str, ...] = ("name", "line", "index", "id")) -> Any:
        if hasattr(obj, "__dataclass_fields__"):
            out = {}
            for f in fields(obj):
                if f.name in skip:
                    continue
                v = clean(getattr(obj, f.name))
                if v not in (None, (), [], {}, False) or f.name in ("log_prompts",):
                    out[f.name] = v
            return out
        if isinstance(obj, (tuple, list)):
            return [clean(x) for x in obj]
        if hasattr(obj, "items"):
            return {k: clean(v) for k, v in obj.items()}
        return obj

    data: dict[str, Any] = {"version": 1, "default_route": config.default_route,
                            "default_profile": config.default_profile}
    data["providers"] = {k: _provider_data(v) for k, v in config.providers.items()}
    data["routes"] = {k: clean(v) for k, v in config.routes.items()}
    data["rules"] = [clean(r) for r in config.rules]
    data["profiles"] = {k: clean(v) for k, v in config.profiles.items()}
    if config.models:
        data["models"] = {k: clean(v) for k, v in config.models.items()}
    code = {k: v for k, v in asdict(config.code).items() if v is not None}
    if len(code) > 1:
        data["code"] = code
    if config.claude_path:
        data["claude"] = {"path": config.claude_path}
    if config.attach_max_kb != Config.attach_max_kb:
        data["attachments"] = {"max_kb": config.attach_max_kb}
    return data


def _provider_data(p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": p.type}
    if p.base_url:
        out["base_url"] = p.base_url
    if p.key_env:
        out["key_env"] = p.key_env
    if not p.needs_key:
        out["key"] = "none"
    if p.auth != "api-key":
        out["auth"] = p.auth
    return out


def trust_cmd(args: argparse.Namespace) -> int:
    """Validate a project routes.yaml, then record its exact content as trusted."""
    path = Path(args.path) if args.path else find_project_file(Path.cwd())
    if path is None:
        raise UserError("no project routes.yaml here or above; give its path: routesh config trust PATH")
    config = read_config(path)  # refuse to trust a file that does not load
    digest = trust(path)
    print(f"trusted {path} (sha256 {digest[:12]}…): {summary(config)}")
    print("it is used from now on in this project; any edit makes it untrusted again until you re-run this")
    return 0


def add_routes_parser(p: argparse.ArgumentParser) -> Handler:
    """Show the routes and the rules that pick them."""
    p.description = "Show the routes and the rules that pick them, in the order they are tried."
    p.add_argument("--json", action="store_true", help="one JSON object: routes and rules")

    def run(args: argparse.Namespace) -> int:
        from ..rendering.render import console, routes_data, show_routes

        ctx = build(args.config, args.profile, blank_ok=True)
        announce(ctx.loaded)
        if args.json:
            import json

            print(json.dumps(routes_data(ctx.config, ctx.catalog), indent=2, ensure_ascii=False))
            return 0
        show_routes(console(), ctx.config)
        return 0

    return run
