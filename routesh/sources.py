"""Which routes.yaml is in effect, and whether a project's own file has been trusted (like direnv allow)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import Config
from .configfile import builtin_text, parse
from .paths import config_dir, user_config_file
from .yamlnodes import ConfigError, Problem

SourceKind = Literal["flag", "env", "project", "user", "builtin"]
PROJECT_NAMES = (".routesh/routes.yaml", "routes.yaml")


@dataclass(frozen=True)
class Loaded:
    """A config plus where it came from and anything the user should be told about it."""

    config: Config
    kind: SourceKind
    path: Path | None
    warnings: tuple[str, ...] = ()


def trust_file() -> Path:
    """Where trusted project configs are recorded: path → sha256 of the content."""
    return config_dir() / "trusted.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _trusted() -> dict[str, str]:
    try:
        data = json.loads(trust_file().read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def trust(path: Path) -> str:
    """Record the file's current content as trusted; returns the digest."""
    path = path.resolve()
    digest = _digest(path.read_bytes())
    store = _trusted()
    store[str(path)] = digest
    from .private import write_private

    write_private(trust_file(), json.dumps(store, indent=2, sort_keys=True) + "\n")
    return digest


def trust_status(path: Path) -> Literal["trusted", "changed", "untrusted"]:
    """Whether this exact content was trusted before."""
    known = _trusted().get(str(path.resolve()))
    if known is None:
        return "untrusted"
    return "trusted" if known == _digest(path.read_bytes()) else "changed"


def find_project_file(cwd: Path) -> Path | None:
    """The nearest project routes.yaml at or above cwd, stopping at the repository root or HOME."""
    home = Path.home().resolve()
    here = cwd.resolve()
    for d in (here, *here.parents):
        if d == home or d == home.parent:
            return None
        for name in PROJECT_NAMES:
            if (d / name).is_file():
                return d / name
        if (d / ".git").exists():
            return None
    return None


def read_config(path: Path) -> Config:
    """Parse one routes.yaml file; unreadable or non-UTF-8 files are ConfigErrors too."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), 0, "no such file; check the path, or run "
                                                 "`routesh config show > PATH` to start from the default")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), 0, f"cannot read it: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), data.count(b"\n", 0, exc.start) + 1,
                                   "not valid UTF-8; save the file as UTF-8")]) from None
    return parse(text, str(path))


def load(flag: str | None, env: Mapping[str, str], cwd: Path) -> Loaded:
    """--config > $ROUTESH_CONFIG > a trusted project file > the user's file > the built-in default."""
    if flag:
        return Loaded(read_config(Path(flag).expanduser()), "flag", Path(flag))
    if env.get("ROUTESH_CONFIG"):
        path = Path(env["ROUTESH_CONFIG"]).expanduser()
        return Loaded(read_config(path), "env", path)
    warnings: list[str] = []
    project = find_project_file(cwd)
    if project is not None and project.read_bytes() == builtin_text().encode("utf-8"):
        project = None  # a copy of the built-in default changes nothing; no need to trust it
    if project is not None:
        status = trust_status(project)
        if status == "trusted":
            return Loaded(read_config(project), "project", project)
        shown = _short(project, cwd)
        if status == "changed":
            warnings.append(f"{shown} changed since you trusted it, so it is ignored; "
                            f"review it, then run `routesh config trust {shown}`")
        else:
            warnings.append(f"{shown} is not trusted, so it is ignored; review it, then run "
                            f"`routesh config trust {shown}` to use it")
    user = user_config_file()
    if user.is_file():
        return Loaded(read_config(user), "user", user, tuple(warnings))
    return Loaded(parse(builtin_text(), "<built-in routes.yaml>"), "builtin", None, tuple(warnings))


def _short(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd.resolve()))
    except ValueError:
        return str(path)
