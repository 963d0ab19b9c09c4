"""Which routes.yaml is in effect, and project files only after `routesh config trust`."""

from __future__ import annotations

from pathlib import Path

from routesh.core.configfile import builtin_text
from routesh.core.paths import user_config_file
from routesh.core.sources import load, trust, trust_status

MINI = "routes: {default: {provider: a, model: m1}}\nproviders: {a: {type: openai}}\n"


def write(path: Path, model: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MINI.replace("m1", model))
    return path


def model(loaded) -> str:
    return loaded.config.routes["default"].model


def test_builtin_when_nothing_else(isolated_home):
    loaded = load(None, {}, isolated_home)
    assert loaded.kind == "builtin" and loaded.config.routes["default"].model == "claude-sonnet-4-6"


def test_precedence_flag_env_user(isolated_home, tmp_path):
    write(user_config_file(), "user")
    env_file = write(tmp_path / "env.yaml", "env")
    flag_file = write(tmp_path / "flag.yaml", "flag")
    assert model(load(None, {}, isolated_home)) == "user"
    assert model(load(None, {"ROUTESH_CONFIG": str(env_file)}, isolated_home)) == "env"
    assert model(load(str(flag_file), {"ROUTESH_CONFIG": str(env_file)}, isolated_home)) == "flag"


def test_project_file_needs_trust_and_loses_it_when_changed(isolated_home):
    write(user_config_file(), "user")
    proj = isolated_home / "src" / "proj"
    (proj / ".git").mkdir(parents=True)
    f = write(proj / "routes.yaml", "project")
    sub = proj / "pkg"
    sub.mkdir()
    loaded = load(None, {}, sub)
    assert model(loaded) == "user"
    assert any("not trusted" in w and "routesh config trust" in w for w in loaded.warnings)
    trust(f)
    assert trust_status(f) == "trusted"
    assert model(load(None, {}, sub)) == "project"
    f.write_text(f.read_text() + "# edited\n")
    loaded = load(None, {}, sub)
    assert model(loaded) == "user" and any("changed since you trusted it" in w for w in loaded.warnings)


def test_a_copy_of_the_builtin_needs_no_trust(isolated_home):
    proj = isolated_home / "src" / "routesh"
    (proj / ".git").mkdir(parents=True)
    (proj / "routes.yaml").write_text(builtin_text())
    loaded = load(None, {}, proj)
    assert loaded.kind == "builtin" and loaded.warnings == ()


def test_search_stops_at_the_repository_root(isolated_home):
    outer = isolated_home / "src"
    write(outer / "routes.yaml", "outer")
    repo = outer / "repo"
    (repo / ".git").mkdir(parents=True)
    assert load(None, {}, repo).warnings == ()


def test_files_that_cannot_be_a_routes_yaml(isolated_home, tmp_path):
    import pytest

    from routesh.core.yamlnodes import ConfigError

    user_config_file().mkdir(parents=True)
    with pytest.raises(ConfigError, match="is a directory, not a routes.yaml file"):
        load(None, {}, isolated_home)
    with pytest.raises(ConfigError, match="far too big"):
        load("/dev/zero", {}, isolated_home)  # read only as far as a valid file could go
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(MINI.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin1.yaml:3: not valid UTF-8 \(byte 0xe9\)"):
        load(str(bad), {}, isolated_home)


def test_an_empty_user_file_is_an_error_unless_only_showing(isolated_home):
    import pytest

    from routesh.core.yamlnodes import ConfigError

    write(user_config_file(), "user").write_text(" \n\n")
    with pytest.raises(ConfigError, match="the file is empty; run `routesh config init`"):
        load(None, {}, isolated_home)
    loaded = load(None, {}, isolated_home, blank_ok=True)
    assert loaded.kind == "builtin" and any("is empty, so the built-in default is shown" in w
                                            for w in loaded.warnings)
