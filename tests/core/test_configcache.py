"""The parsed config cached in $XDG_CACHE_HOME/routesh: served only for the very same bytes, never stale, never
from a file someone else could have written; a broken cache is a miss, and errors are never cached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import routesh

from routesh.core import configcache
from routesh.core.configcache import parse_cached
from routesh.core.yamlnodes import ConfigError

CFG = """providers: {a: {type: anthropic}}
routes:
  default: {provider: a, model: model-one}
  other: {provider: a, model: model-two}
rules:
  - {keywords: [billing], route: other}
"""


def entries() -> list[Path]:
    folder = Path(os.environ["XDG_CACHE_HOME"]) / "routesh"
    return sorted(folder.glob("config-*.pickle")) if folder.exists() else []


def test_a_second_parse_is_served_from_the_cache_without_importing_yaml(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CFG)
    first = routesh("--config", str(cfg), "--dry-run", "--json", "fix billing")
    assert first.returncode == 0 and len(entries()) == 1
    code = ("import sys, json; from routesh.commands.cli import main\ntry:\n    main(['--config', sys.argv[1], '--dry-run', "
            "'--json', 'fix billing'])\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('YAML:%s' % ('yaml' in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code, str(cfg)], capture_output=True, text=True)
    assert p.stderr.endswith("YAML:False"), p.stderr
    assert p.stdout == first.stdout


def test_an_edit_of_the_same_size_and_mtime_is_never_served_stale(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CFG)
    assert '"model": "model-two"' in routesh("--config", str(cfg), "--dry-run", "--json", "billing").stdout
    st = cfg.stat()
    cfg.write_text(CFG.replace("model-two", "model-2NEW"))  # same length
    os.utime(cfg, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert '"model": "model-2NEW"' in routesh("--config", str(cfg), "--dry-run", "--json", "billing").stdout


def test_errors_are_not_cached_and_keep_their_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CFG.replace("route: other", "route: nope"))
    for _ in range(2):
        p = routesh("--config", str(cfg), "--dry-run", "hi")
        assert p.returncode == 2 and "routes.yaml:6" in p.stderr and "nope" in p.stderr
    assert entries() == []


def test_a_cache_file_others_may_write_or_a_torn_one_is_ignored() -> None:
    config = parse_cached(CFG, "a.yaml")
    [entry] = entries()
    other = parse_cached(CFG.replace("model-one", "model-XXX"), "a.yaml")
    entry.write_bytes(Path(entries()[-1] if entries()[0] == entry else entries()[0]).read_bytes())  # a swap
    os.chmod(entry, 0o666)
    assert parse_cached(CFG, "a.yaml").routes["default"].model == "model-one"  # group/world-writable: parsed
    assert config.routes["default"].model == "model-one" and other.routes["default"].model == "model-XXX"
    os.chmod(entry, 0o600)
    entry.write_bytes(b"\x80\x05garbage")
    assert parse_cached(CFG, "a.yaml").routes["default"].model == "model-one"


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configcache, "KEEP", 3)
    for i in range(6):
        parse_cached(CFG.replace("model-one", f"model-{i}"), "a.yaml")
    assert len(entries()) == 3


def test_a_cache_dir_that_cannot_be_written_only_costs_the_parse(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the directory should be
    assert parse_cached(CFG, "a.yaml").routes["other"].model == "model-two"


def test_cached_and_parsed_configs_are_equal_for_the_builtin_default() -> None:
    from routesh.core.configfile import builtin_text, parse

    fresh = parse(builtin_text(), "<built-in routes.yaml>")
    parse_cached(builtin_text(), "<built-in routes.yaml>")
    cached = parse_cached(builtin_text(), "<built-in routes.yaml>")
    for name in ("providers", "routes", "profiles", "models"):
        assert dict(getattr(cached, name)) == dict(getattr(fresh, name))
    assert (cached.rules, cached.code, cached.default_route, cached.source) == (
        fresh.rules, fresh.code, fresh.default_route, fresh.source)
    with pytest.raises(ConfigError):
        parse_cached("routes: [\n", "bad.yaml")


def test_routesh_no_cache_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTESH_NO_CACHE", "1")
    assert parse_cached(CFG, "a.yaml").routes["other"].model == "model-two"
    assert entries() == []
