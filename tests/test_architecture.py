"""The house shows its plan: the core imports no edge, an edge imports another edge only where listed here,
no circle between packages, no module over 400 lines, package __init__ files import nothing, tests mirror
the packages. Read from the source with ast (imports inside functions and TYPE_CHECKING blocks count)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MAX_LINES = 400

# The pure base: the core may import screening; screening imports nothing else of routesh. Every package may
# import both (and the top-level `routesh` package, which holds only __version__).
BASE = {"core": {"screening"}, "screening": set()}

# An edge importing another edge, each with why. Anything not listed here is a violation.
ALLOWED: dict[str, dict[str, str]] = {
    "keys": {},
    "engines": {"keys": "dispatch's auth hint says whether a refused key came from the keyring or the env"},
    "rendering": {"keys": "a plan with no key names the command that stores one (keys.secrets.how_to_set)"},
    "usage": {"rendering": "log/stats tables print on rendering's console"},
    "gateway": {
        "engines": "the gateway's attempts run through dispatch's route plan and the same engines",
        "keys": "the gateway sends the key the lookup order finds",
        "usage": "each gateway attempt is a ledger row",
    },
    "pipeline": {
        "keys": "a plan shows each key's status; a run sends the key",
        "engines": "a run dispatches over the engines",
        "usage": "a run is recorded in the ledger; a budget reads what was spent",
        "rendering": "the answer is streamed as markdown while it arrives",
        "gateway": "a Claude Code route runs behind a private, pinned gateway that screens its requests",
    },
    "shell": {
        "keys": "/keys and key status on a profile switch",
        "engines": "SDKs preloaded while the user types",
        "usage": "/cost and /history read the ledger",
        "rendering": "answers and plans are shown",
        "pipeline": "every prompt goes the one-shot's way",
    },
    "ui": {
        "keys": "key status", "usage": "the dashboard reads the ledger", "rendering": "shared text helpers",
        "pipeline": "plans shown as the CLI shows them", "engines": "engine names",
    },
    "commands": {p: "the CLI is the top: each command wires the parts it needs" for p in
                 ("keys", "engines", "usage", "rendering", "gateway", "pipeline", "shell", "ui")},
}


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module under root/routesh."""
    for path in sorted((root / "routesh").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def at_import_time(tree: ast.Module) -> Iterator[ast.AST]:
    """The statements that run when the module is imported: its body and the blocks in it (not functions,
    not classes' methods, not `if TYPE_CHECKING:`)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            todo.extend(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo.extend(getattr(node, field, []) or [])
        elif isinstance(node, ast.ExceptHandler):
            todo.extend(node.body)


def imports(root: Path, name: str, path: Path, *, import_time: bool = False) -> Iterator[tuple[str, int]]:
    """(imported routesh module, line) for every import in the module, wherever it is (import_time: only the
    imports that run when the module itself is imported)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in at_import_time(tree) if import_time else ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "routesh" or a.name.startswith("routesh."):
                    yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "routesh" and not target.startswith("routesh."):
                continue
            for a in node.names:  # `from pkg import module` imports the module
                sub = f"{target}.{a.name}"
                exists = (root / Path(*sub.split("."))).with_suffix(".py").is_file() or \
                    (root / Path(*sub.split(".")) / "__init__.py").is_file()
                yield (sub if exists else target), node.lineno


def package_of(dotted: str) -> str:
    """The routesh package a module belongs to; 'routesh' for the top-level package and __main__."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in _PACKAGES) else "routesh"


_PACKAGES: set[str] = set()


def violations(root: Path) -> list[str]:
    """Every rule this file enforces, broken in the tree at root; empty when the house is in order."""
    _PACKAGES.clear()
    _PACKAGES.update(p.name for p in (root / "routesh").iterdir() if (p / "__init__.py").is_file())
    found: list[str] = []
    edges: dict[str, set[str]] = {}
    for name, path in modules(root):
        rel = path.relative_to(root).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append(f"{rel}: {lines} lines, over {MAX_LINES}: split it along a seam, one job per module")
        if path.parent == root / "routesh" and path.name not in ("__init__.py", "__main__.py"):
            found.append(f"{rel}: a module directly in routesh/: move it into the package whose job it does "
                         "(docs/architecture.md)")
        if path.name == "__init__.py" and name != "routesh":
            body = ast.parse(path.read_text(encoding="utf-8")).body
            if len(body) != 1 or not isinstance(body[0], ast.Expr) or not isinstance(body[0].value, ast.Constant):
                found.append(f"{rel}: a package __init__ holds its one-line docstring only (nothing to import)")
        src = package_of(name)
        for target, line in imports(root, name, path):
            dst = package_of(target)
            if dst == src or dst == "routesh" and target in ("routesh", "routesh.__init__"):
                continue
            edges.setdefault(src, set()).add(dst)
            if not allowed(src, dst):
                found.append(f"{rel}:{line}: {src} imports {target} ({dst}): not an allowed direction")
    found += [f"import circle between packages: {' -> '.join(c)}" for c in circles(edges)]
    found += [f"import circle between modules at import time: {' <-> '.join(c)}" for c in module_circles(root)]
    return found


def module_circles(root: Path) -> list[list[str]]:
    """Groups of modules that import each other when imported (strongly connected, Tarjan): such a circle makes
    the result depend on which module is imported first. Imports inside functions and for type checking only
    are not circles of this kind; the package rule above already keeps them within a package."""
    graph = {name: {t for t, _ in imports(root, name, path, import_time=True) if t != name}
             for name, path in modules(root)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v] & graph.keys():
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                out.append(sorted([v, *group]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def allowed(src: str, dst: str) -> bool:
    """May package src import package dst?"""
    if src in BASE:
        return dst in BASE[src]
    if dst in BASE:
        return True
    if src == "routesh":  # __main__ hands off to the CLI
        return dst == "commands"
    return dst in ALLOWED.get(src, {})


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle in the package graph, found once from its smallest member."""
    out: list[list[str]] = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                out.append([*path, start])
            elif nxt > start and nxt not in path:
                walk(start, nxt, [*path, nxt])

    for start in sorted(edges):
        walk(start, start, [start])
    return out


def test_the_tree_keeps_the_rules() -> None:
    # In a fresh interpreter: on CPython 3.11 before 3.11.8 a server thread left over by an earlier test can
    # corrupt the AST constructor's interpreter-wide depth counter (python/cpython#106905, see conftest.py)
    # while ~200 files are parsed here, which would fail this test for no fault of the tree.
    out = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == []


def test_allowed_edges_form_no_circle() -> None:
    graph = {src: set(dsts) for src, dsts in ALLOWED.items()}
    assert circles(graph) == []


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small tree that keeps every rule."""
    write(tmp_path, "routesh/__init__.py", '"""Top."""\n__version__ = "0"\n')
    write(tmp_path, "routesh/__main__.py", "from .commands.cli import main\n")
    for pkg in ("core", "screening", "engines", "keys", "gateway", "usage", "commands"):
        write(tmp_path, f"routesh/{pkg}/__init__.py", f'"""The {pkg}."""\n')
    write(tmp_path, "routesh/screening/screen.py", "import re\n")
    write(tmp_path, "routesh/core/config.py", "from ..screening import screen\nfrom .. import __version__\n")
    write(tmp_path, "routesh/engines/dispatch.py",
          "from ..core.config import X\n\ndef f():\n    from ..keys import k\n")
    write(tmp_path, "routesh/keys/k.py", "from routesh.core import config\n")
    write(tmp_path, "routesh/gateway/server.py", "from ..engines.dispatch import D\nfrom ..usage.ledger import L\n")
    write(tmp_path, "routesh/usage/ledger.py", "")
    write(tmp_path, "routesh/commands/cli.py", "from ..gateway import server\n")
    return tmp_path


def test_a_tree_that_keeps_the_rules_passes(tree: Path) -> None:
    assert violations(tree) == []


def test_the_core_importing_an_edge_fails_even_inside_a_function(tree: Path) -> None:
    write(tree, "routesh/core/plan.py", "def f():\n    from ..usage import ledger\n")
    assert violations(tree) == ["routesh/core/plan.py:2: core imports routesh.usage.ledger (usage): "
                                "not an allowed direction"]


def test_screening_importing_the_core_fails(tree: Path) -> None:
    write(tree, "routesh/screening/rules.py", "import routesh.core.config\n")
    assert violations(tree) == ["routesh/screening/rules.py:1: screening imports routesh.core.config (core): not an "
                                "allowed direction", "import circle between packages: core -> screening -> core"]


def test_an_edge_importing_an_unlisted_edge_fails(tree: Path) -> None:
    write(tree, "routesh/usage/stats.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                          "    from ..gateway.server import S\n")
    found = violations(tree)
    assert found[0] == ("routesh/usage/stats.py:3: usage imports routesh.gateway.server (gateway): "
                        "not an allowed direction")
    assert "import circle between packages: gateway -> usage -> gateway" in found


def test_a_flat_module_fails(tree: Path) -> None:
    write(tree, "routesh/helpers.py", "from .core import config\n")
    assert violations(tree) == ["routesh/helpers.py: a module directly in routesh/: move it into the package whose "
                                "job it does (docs/architecture.md)"]


def test_a_circle_is_named_with_its_packages() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_a_long_module_and_a_busy_init_fail(tree: Path) -> None:
    write(tree, "routesh/usage/stats.py", "x = 1\n" * (MAX_LINES + 1))
    write(tree, "routesh/keys/__init__.py", '"""Keys."""\nfrom .k import config\n')
    assert violations(tree) == [
        "routesh/keys/__init__.py: a package __init__ holds its one-line docstring only (nothing to import)",
        f"routesh/usage/stats.py: {MAX_LINES + 1} lines, over {MAX_LINES}: split it along a seam, one job per module",
    ]


def test_tests_mirror_the_packages_with_unique_basenames() -> None:
    packages = {p.name for p in (ROOT / "routesh").iterdir() if (p / "__init__.py").is_file()}
    tests = sorted((ROOT / "tests").rglob("test_*.py"))
    dirs = {t.parent.name for t in tests if t.parent != ROOT / "tests"}
    assert dirs <= packages, f"test directories that name no package: {sorted(dirs - packages)}"
    names = [t.name for t in tests]
    assert len(names) == len(set(names)), "two tests with one basename: pytest (no __init__.py) cannot import both"
    assert not list((ROOT / "tests").rglob("__init__.py"))


def test_modules_importing_each_other_at_import_time_fail(tree: Path) -> None:
    write(tree, "routesh/core/alpha.py", "from . import beta\n")
    write(tree, "routesh/core/beta.py", "from .alpha import x\n")
    write(tree, "routesh/core/gamma.py", "def f():\n    from . import alpha\n")  # lazy: not a circle
    write(tree, "routesh/core/delta.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
          "    from . import gamma\nfrom . import alpha\n")
    assert module_circles(tree) == [["routesh.core.alpha", "routesh.core.beta"]]
    assert any("routesh.core.alpha <-> routesh.core.beta" in v for v in violations(tree))


if __name__ == "__main__":  # the real tree's violations as JSON, for test_the_tree_keeps_the_rules
    print(json.dumps(violations(ROOT)))
