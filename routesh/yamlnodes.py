"""Read YAML as nodes so every validation error can name its file and line."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import UserError

try:  # libyaml is 5-10x faster; pure Python works the same
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file, located."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class ConfigError(UserError):
    """All the problems found in one config file, reported together."""

    def __init__(self, problems: list[Problem]) -> None:
        lines = [str(p) for p in problems]
        if len(lines) > 1:
            lines.insert(0, f"{len(lines)} problems in the config:")
        super().__init__("\n".join(lines))
        self.problems = problems


def compose(text: str, file: str) -> Node | None:
    """Parse YAML text into a node tree, turning syntax errors into a located ConfigError."""
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or "invalid YAML"
        hint = "check indentation, quotes and colons"
        raise ConfigError([Problem(file, line, f"invalid YAML: {what} ({hint})")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, 0, f"invalid YAML: {exc}")]) from None


def line_of(node: Node) -> int:
    """1-based line where a node starts."""
    return node.start_mark.line + 1


def did_you_mean(word: str, choices: Any) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''."""
    match = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


_TYPE_NAMES = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
               "null": "nothing", "seq": "a list", "map": "a mapping"}


def kind(node: Node) -> str:
    """The YAML kind of a node in words a user knows."""
    if isinstance(node, MappingNode):
        return "map"
    if isinstance(node, SequenceNode):
        return "seq"
    return node.tag.rsplit(":", 1)[-1]


class Reader:
    """Walks a node tree, converting values and collecting every problem instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, node: Node | None, message: str) -> None:
        """Record one problem at a node's line."""
        self.problems.append(Problem(self.file, line_of(node) if node is not None else 0, message))

    def expect(self, node: Node, want: str, where: str) -> bool:
        """True if the node is of the wanted kind; otherwise record what was expected."""
        got = kind(node)
        ok = got == want or (want == "float" and got == "int")
        if not ok:
            self.fail(node, f"{where}: expected {_TYPE_NAMES[want]}, got {_TYPE_NAMES.get(got, got)}")
        return ok

    def mapping(self, node: Node, where: str, allowed: tuple[str, ...] | None = None) -> dict[str, Node]:
        """A mapping's entries by key; unknown keys (when `allowed` is given) and duplicates are problems."""
        if not self.expect(node, "map", where):
            return {}
        out: dict[str, Node] = {}
        assert isinstance(node, MappingNode)
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                self.fail(knode, f"{where}: keys must be plain names")
                continue
            key = str(knode.value)
            if key in out:
                self.fail(knode, f"{where}: '{key}' appears twice; keep one")
                continue
            if allowed is not None and key not in allowed:
                self.fail(knode, f"{where}: unknown key '{key}'{did_you_mean(key, allowed)}; "
                                 f"allowed: {', '.join(allowed)}")
                continue
            out[key] = vnode
        return out

    def entries(self, node: Node, where: str) -> Iterator[tuple[str, Node, Node]]:
        """(name, key node, value node) for a mapping of named things (routes, providers, ...)."""
        if not self.expect(node, "map", where):
            return
        seen: set[str] = set()
        assert isinstance(node, MappingNode)
        for knode, vnode in node.value:
            name = str(knode.value) if isinstance(knode, ScalarNode) else ""
            if not name:
                self.fail(knode, f"{where}: names must be plain strings")
            elif name in seen:
                self.fail(knode, f"{where}: '{name}' is defined twice; keep one")
            else:
                seen.add(name)
                yield name, knode, vnode

    def scalar(self, node: Node, want: str, where: str) -> Any:
        """A converted scalar of the wanted kind, or None (with a problem recorded)."""
        if not self.expect(node, want, where):
            return None
        value = yaml.constructor.SafeConstructor().construct_object(node)
        return float(value) if want == "float" else value

    def string(self, node: Node | None, where: str, choices: tuple[str, ...] | None = None) -> str | None:
        """A string, checked against choices when given (numbers are accepted as strings)."""
        if node is None:
            return None
        if kind(node) in ("int", "float"):
            value: Any = str(node.value)
        else:
            value = self.scalar(node, "str", where)
        if value is not None and choices is not None and value not in choices:
            self.fail(node, f"{where}: '{value}' is not one of {', '.join(choices)}{did_you_mean(value, choices)}")
            return None
        return value

    def number(self, node: Node | None, want: str, where: str, minimum: float | None = None) -> Any:
        """An int or float, checked against a minimum."""
        if node is None:
            return None
        value = self.scalar(node, want, where)
        if value is not None and minimum is not None and value < minimum:
            self.fail(node, f"{where}: must be at least {minimum:g}, got {value}")
            return None
        return value

    def boolean(self, node: Node | None, where: str) -> bool | None:
        """true/false."""
        return None if node is None else self.scalar(node, "bool", where)

    def strings(self, node: Node | None, where: str) -> tuple[str, ...] | None:
        """A list of strings; a single string is accepted as a list of one."""
        if node is None:
            return None
        if isinstance(node, ScalarNode) and kind(node) == "str":
            return (str(node.value),)
        if not self.expect(node, "seq", where):
            return None
        assert isinstance(node, SequenceNode)
        out = [self.string(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
        return tuple(s for s in out if s is not None)

    def items(self, node: Node | None, where: str) -> list[Node]:
        """The items of a list node."""
        if node is None or not self.expect(node, "seq", where):
            return []
        assert isinstance(node, SequenceNode)
        return list(node.value)

    def check(self, ok: bool, node: Node | None, message: str) -> bool:
        """Record a problem when a cross-check fails."""
        if not ok:
            self.fail(node, message)
        return ok
