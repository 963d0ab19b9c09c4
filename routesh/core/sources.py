"""Which routes.yaml is in effect, and whether a project's own file has been trusted (like direnv allow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import Config
from .configcache import parse_cached
from .paths import config_dir, user_config_file
from .yamlnodes import MAX_CHARS, ConfigError, Problem

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
    import hashlib  # only with a project routes.yaml: OpenSSL's load is not on every start

    return hashlib.sha256(data).hexdigest()


def _trusted() -> dict[str, str]:
    import json  # only with a project routes.yaml

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
    import json

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


class Untrusted(Exception):
    """A project routes.yaml whose content is not the content the user trusted (edited since, or never trusted)."""


def read_trusted(path: Path) -> Config:
    """A project file parsed only if these very bytes were trusted (read once: no swap between check and use)."""
    data = _read(path)
    known = _trusted().get(str(path.resolve()))
    if known != _digest(data):
        what = "changed since you trusted it" if known else "is not trusted"
        raise Untrusted(f"{path} {what}; review it, then run `routesh config trust {path}`")
    return parse_bytes(data, str(path))


def trust_stamp() -> tuple[float, int] | None:
    """(mtime, size) of the trust store, so a reader notices a new `routesh config trust`."""
    try:
        st = trust_file().stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size


def _read(path: Path) -> bytes:
    """A routes.yaml's bytes, at most what could be valid (/dev/zero or a huge log named by mistake stop there)."""
    try:
        with path.open("rb") as f:
            return f.read(MAX_CHARS * 4 + 1)
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), 0, "no such file; check the path, or run "
                                                 f"`routesh config init {path}` to start from the default")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(str(path), 0, "is a directory, not a routes.yaml file")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), 0, f"cannot read it: {exc.strerror}")]) from None


def read_config(path: Path) -> Config:
    """Parse one routes.yaml file; unreadable or non-UTF-8 files are ConfigErrors too."""
    return parse_bytes(_read(path), str(path))


def parse_bytes(data: bytes, file: str) -> Config:
    """Validate a routes.yaml's bytes; too big or not UTF-8 is a located ConfigError too."""
    if len(data) > MAX_CHARS * 4:
        raise ConfigError([Problem(file, 0, f"the file is far too big for a routes.yaml "
                                            f"(at most {MAX_CHARS // 1024 // 1024} MB)")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(file, data.count(b"\n", 0, exc.start) + 1,
                                   f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8")]) from None
    return parse_cached(text, file)


def builtin_text() -> str:
    """The built-in default routes.yaml shipped inside the package (the same file as the repo's routes.yaml)."""
    return (Path(__file__).parent.parent / "routes.yaml").read_text(encoding="utf-8")


def parse_builtin() -> Config:
    """The built-in default, parsed (from the cache when it was parsed before)."""
    return parse_cached(builtin_text(), "<built-in routes.yaml>")


@dataclass(frozen=True)
class Located:
    """Which routes.yaml is in effect and why, found without reading it (so `config path` works on a broken file)."""

    kind: SourceKind
    path: Path | None
    why: str
    warnings: tuple[str, ...] = ()
    blank: bool = False  # the user's file is empty: `routesh config show > it` truncated it before reading


def locate(flag: str | None, env: Mapping[str, str], cwd: Path) -> Located:
    """--config > $ROUTESH_CONFIG > a trusted project file > the user's file > the built-in default."""
    if flag:
        return Located("flag", Path(flag).expanduser(), "given with --config")
    if env.get("ROUTESH_CONFIG"):
        return Located("env", Path(env["ROUTESH_CONFIG"]).expanduser(), "named by $ROUTESH_CONFIG")
    warnings: list[str] = []
    project = find_project_file(cwd)
    if project is not None:
        shown = _short(project, cwd)
        try:
            same_as_builtin = project.read_bytes() == builtin_text().encode("utf-8")
            status = trust_status(project)
        except OSError as exc:
            same_as_builtin, status = False, "untrusted"
            warnings.append(f"{shown} cannot be read ({exc.strerror}), so it is ignored")
        if same_as_builtin:
            pass  # a copy of the built-in default changes nothing; no need to trust it
        elif status == "trusted":
            return Located("project", project, "a project file you trusted with `routesh config trust`")
        elif status == "changed":
            warnings.append(f"{shown} changed since you trusted it, so it is ignored; "
                            f"review it, then run `routesh config trust {shown}`")
        elif not warnings:
            warnings.append(f"{shown} is not trusted, so it is ignored; review it, then run "
                            f"`routesh config trust {shown}` to use it")
    user = user_config_file()
    if user.exists() or user.is_symlink():
        if user.is_file() and _blank(user):
            return Located("user", user, "your own file, but it is empty", tuple(warnings), blank=True)
        return Located("user", user, "your own file (no --config, $ROUTESH_CONFIG or trusted project file)",
                       tuple(warnings))
    return Located("builtin", None, f"there is no {user} (`routesh config init` writes one)", tuple(warnings))


def _blank(path: Path) -> bool:
    """True for an empty or whitespace-only file: what `routesh config show > routes.yaml` leaves while it runs."""
    try:
        return path.stat().st_size < 4096 and not path.read_bytes().strip()
    except OSError:
        return False  # reading it again reports the problem


def load(flag: str | None, env: Mapping[str, str], cwd: Path, *, blank_ok: bool = False) -> Loaded:
    """The config in effect (see locate), read and validated; raises ConfigError.

    An empty user file is an error for what sends prompts; commands that only show things (blank_ok) fall back
    to the built-in default with a warning, so that `config show`, `routes` and `doctor` still work.
    """
    where = locate(flag, env, cwd)
    fix = "run `routesh config init` to write the default there with its comments, or delete the file"
    if where.blank and not blank_ok:
        raise ConfigError([Problem(str(where.path), 0, f"the file is empty; {fix}")])
    if where.blank:
        return Loaded(parse_builtin(), "builtin", None,
                      (*where.warnings, f"{where.path} is empty, so the built-in default is shown; {fix}"))
    if where.path is None:
        config = parse_builtin()
    else:
        config = read_config(where.path)
    return Loaded(config, where.kind, where.path, where.warnings)


def _short(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd.resolve()))
    except ValueError:
        return str(path)
