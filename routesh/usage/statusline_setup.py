"""What `routesh code` gives Claude Code for its status line: a `--settings` JSON naming our fast command.

The user's settings files are never touched; a status line they set there is found here (the
highest-precedence one: local project, project, user) and handed to ours to show after it.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.config import Profile


def user_status_command(cwd: Path, home: Path, env: Mapping[str, str]) -> str | None:
    """The statusLine command in the user's Claude Code settings, or None (unreadable files count as none)."""
    config_dir = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else home / ".claude"
    for path in (cwd / ".claude" / "settings.local.json", cwd / ".claude" / "settings.json",
                 config_dir / "settings.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        line = data.get("statusLine") if isinstance(data, dict) else None
        if isinstance(line, dict) and line.get("type", "command") == "command":
            command = line.get("command")
            if isinstance(command, str) and command.strip():
                return command
    return None


def status_command(ledger: Path, profile: Profile, then: str | None) -> str:
    """The command line Claude Code runs: this Python, isolated and without site, on the plain file."""
    script = Path(__file__).with_name("statusline.py")
    argv = [sys.executable, "-I", "-S", str(script), "--ledger", str(ledger), "--profile", profile.name]
    budget = profile.budget
    if budget is not None and budget.daily_usd is not None:
        argv += ["--daily", repr(budget.daily_usd)]
    elif budget is not None and budget.monthly_usd is not None:
        argv += ["--monthly", repr(budget.monthly_usd)]
    if then:
        argv += ["--then", then]
    return shlex.join(argv)


def settings_arg(ledger: Path, profile: Profile, cwd: Path | None = None, home: Path | None = None,
                 env: Mapping[str, str] | None = None) -> str:
    """`--settings=JSON` for claude: our statusLine, with the user's own (if any) shown after ours."""
    then = user_status_command(cwd or Path.cwd(), home or Path.home(), os.environ if env is None else env)
    settings: dict[str, Any] = {"statusLine": {"type": "command", "command": status_command(ledger, profile, then),
                                               "padding": 0}}
    return "--settings=" + json.dumps(settings, separators=(",", ":"))
