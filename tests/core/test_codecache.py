"""Dataclass methods compiled once and kept in $XDG_CACHE_HOME/routesh: the classes are exactly what plain
dataclasses make, a second start compiles nothing, and a file someone else could have written is never run."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import routesh

from routesh.core import codecache
from routesh.core.codecache import CodeMemo


def _make(memo: CodeMemo | None, monkeypatch: pytest.MonkeyPatch) -> type:
    if memo is not None:
        monkeypatch.setattr(dataclasses, "exec", memo, raising=False)

    @dataclasses.dataclass(frozen=True)
    class Point:
        """A value with a default and a factory."""

        x: int
        y: int = 2
        tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)

    monkeypatch.delattr(dataclasses, "exec", raising=False)
    return Point


def test_a_class_built_through_the_memo_behaves_as_a_plain_dataclass(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = CodeMemo({})
    plain, cached = _make(None, monkeypatch), _make(memo, monkeypatch)
    assert memo.compiled > 0 and memo.codes
    for cls in (plain, cached):
        p = cls(1)
        assert (p.x, p.y, p.tags) == (1, 2, ()) and p == cls(1, 2) and p != cls(1, 3)
        assert hash(p) == hash(cls(1)) and repr(p).endswith("Point(x=1, y=2, tags=())")
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.x = 5  # type: ignore[misc]
        assert dataclasses.replace(p, y=7).y == 7 and [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags"]
    compiled = memo.compiled
    _make(memo, monkeypatch)  # the same class again: every method's text is known, nothing is compiled
    assert memo.compiled == compiled


def _cache_file(home: Path) -> Path:
    return next((home / "routesh").glob("dataclass-code-*.marshal"))


def test_the_command_keeps_its_compiled_methods_and_a_second_start_compiles_none() -> None:
    assert routesh("--dry-run", "fix the failing test").returncode == 0
    path = _cache_file(Path(os.environ["XDG_CACHE_HOME"]))
    assert path.stat().st_mode & 0o777 == 0o600 and len(codecache.read(str(path))) > 20
    code = ("from routesh.core.codecache import install\nmemo = install()\n"
            "from routesh.commands.cli import main\nmain(['--dry-run', '--json', 'fix it'])\n"
            "import sys, inspect\nsys.stderr.write(f'COMPILED:{memo.compiled}')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr.endswith("COMPILED:0"), p.stderr


def test_a_file_others_may_write_a_torn_file_or_rubbish_is_never_loaded(tmp_path: Path) -> None:
    memo = CodeMemo({})
    memo("def f():\n return 1\n", {}, {})
    path = tmp_path / "memo.marshal"
    memo.save(str(path))
    assert list(codecache.read(str(path))) == ["def f():\n return 1\n"]
    path.chmod(0o666)
    assert codecache.read(str(path)) == {}
    path.chmod(0o600)
    path.write_bytes(path.read_bytes()[:20])
    assert codecache.read(str(path)) == {}
    path.write_bytes(b"not marshal at all")
    assert codecache.read(str(path)) == {}


def test_no_cache_leaves_dataclasses_alone_and_inspect_is_still_there_when_asked_for() -> None:
    code = ("import os, sys\nos.environ['ROUTESH_NO_CACHE'] = '1'\nfrom routesh.core.codecache import install\n"
            "assert install() is None\nimport dataclasses\nassert 'exec' not in vars(dataclasses)\n"
            "del os.environ['ROUTESH_NO_CACHE']\n")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0
    code = ("import sys\nfrom routesh.core.codecache import install\ninstall()\n"
            "assert 'inspect' not in sys.modules\nimport dataclasses\n"
            "@dataclasses.dataclass\nclass NoDoc:\n    a: int\n"  # no docstring: dataclasses asks inspect for one
            "print(NoDoc.__doc__)\nimport inspect\nprint(inspect.signature(NoDoc))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.splitlines() == ["NoDoc(a: int)", "(a: int) -> None"], p.stderr
