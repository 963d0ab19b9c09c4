"""Every file and directory routesh creates is private (0700/0600) whatever the umask: checked at umask 000,
where anything created with default modes would come out 0777/0666."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import ROUTESH
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.core.private import append_private, create_private, private_dir, write_private


@pytest.fixture
def umask0() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def not_private(root: Path, since: set[Path]) -> list[str]:
    """Everything under root made after `since` was taken that is not 0700 (dirs) or 0600 (files)."""
    bad = []
    for p in sorted(root.rglob("*")):
        if p in since or p.is_symlink():
            continue
        want = 0o700 if p.is_dir() else 0o600
        if mode(p) != want:
            bad.append(f"{p.relative_to(root)}: {oct(mode(p))}")
    return bad


def test_helpers_are_private_at_umask_000(tmp_path: Path, umask0: None) -> None:
    d = private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a/b", d)] == [0o700] * 3
    assert create_private(d / "f") and not create_private(d / "f")
    with append_private(tmp_path / "x" / "log") as fh:
        fh.write("line\n")
    write_private(tmp_path / "y" / "trusted.json", "{}\n")
    write_private(tmp_path / "y" / "trusted.json", '{"a": 1}\n')  # replaced atomically, still private
    assert (tmp_path / "y/trusted.json").read_text() == '{"a": 1}\n'
    assert not_private(tmp_path, set()) == []


def test_existing_directories_are_left_alone(tmp_path: Path, umask0: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    private_dir(shared / "mine")
    assert mode(shared) == 0o755 and mode(shared / "mine") == 0o700


def run0(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """routesh at umask 000."""
    p = subprocess.run([ROUTESH, *args], capture_output=True, text=True, env=dict(os.environ, **(env or {})),
                       cwd=cwd, timeout=60, preexec_fn=lambda: os.umask(0))
    assert "Traceback" not in p.stderr
    return p


def test_every_front_door_creates_private_files_at_umask_000(upstream: Upstream, tmp_path: Path,
                                                             isolated_home: Path) -> None:
    before = set(isolated_home.rglob("*"))
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""\
providers:
  up: {{type: anthropic, base_url: "{upstream.url}", key_env: PRIV_UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6}}
""", encoding="utf-8")
    env = {"PRIV_UP_KEY": "sk-ant-api03-privateTESTkey0123456789abcdef"}
    assert run0("--config", str(cfg), "hello", env=env).returncode == 0  # the ledger
    project = tmp_path / "project"
    project.mkdir()
    (project / "routes.yaml").write_text(cfg.read_text(), encoding="utf-8")
    assert run0("config", "trust", cwd=project).returncode == 0  # ~/.config/routesh/trusted.json
    fake = tmp_path / "bin" / "claude"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport sys; sys.exit(0)\n")
    fake.chmod(0o755)
    assert run0("--config", str(cfg), "code", "-v", "-p", "x",
                env={**env, "PATH": f"{fake.parent}:{os.environ['PATH']}"}).returncode == 0  # gateway.log
    out = tmp_path / "converted" / "routes.yaml"
    ccr = tmp_path / "ccr.json"
    ccr.write_text(json.dumps({"Providers": [], "Router": {}}))
    run0("import-ccr", str(ccr), "-o", str(out))
    made = {p.relative_to(isolated_home).as_posix() for p in set(isolated_home.rglob("*")) - before}
    assert {".local/share/routesh/usage.db", ".config/routesh/trusted.json",
            ".local/state/routesh/gateway.log"} <= made
    assert not_private(isolated_home, before) == []
    if out.exists():
        assert mode(out) == 0o600


def test_shell_history_is_private_at_umask_000(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip(reason="tmux not installed (apt-get install tmux; .ci/run installs it)")
    from test_shell_pty import Term

    cfg = tmp_path / "routes.yaml"
    cfg.write_text("routes:\n  default: {provider: p, model: m}\nproviders:\n  p: {type: openai, base_url: "
                   "'http://127.0.0.1:9/v1', key: none}\n", encoding="utf-8")
    old = os.umask(0)  # tmux starts its server, and so the shell, with ours
    try:
        term = Term(tmp_path, cfg)
    finally:
        os.umask(old)
    try:
        term.ready()
        term.type("/help")
        term.enter()
        term.ready()
    finally:
        term.close()
    state = term.home / ".local" / "state"
    assert (state / "routesh" / "history").exists()
    assert not_private(state, set()) == []
