"""Read YAML as nodes so every validation error can name its file and line."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UserError

if TYPE_CHECKING:
    import yaml
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


def _load_yaml() -> None:
    """Import PyYAML on the first parse, not with this module: did_you_mean and ConfigError are wanted by every
    command, YAML (~20 ms) only when a routes.yaml is actually read (not when the parsed config is cached)."""
    global yaml, MappingNode, Node, ScalarNode, SequenceNode, _Loader
    if "_Loader" in globals():
        return
    import yaml
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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
        text = f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"
        return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)  # a file's bytes never drive the terminal


SHOWN_PROBLEMS = 20  # a file with thousands of mistakes gets the first ones and a count, not a flood
MAX_CHARS = 4 * 1024 * 1024  # a routes.yaml with 1,000 rules is ~60 KB; anything this big is a mistake
MAX_DEPTH = 40  # routes.yaml needs 6 levels; libyaml's composer recurses in C and crashes near 40,000
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0/C1 controls but tab and newline
# what YAML itself refuses to read (tab, LF, CR, NEL and the BOM are allowed), found before the parser so
# the message can carry a line number
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_CORE = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp",
                                            "merge"))


class ConfigError(UserError):
    """All the problems found in one config file, reported together."""

    def __init__(self, problems: list[Problem]) -> None:
        lines = [str(p) for p in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:
            lines.append(f"… and {len(problems) - SHOWN_PROBLEMS} more; fix these first")
        if len(problems) > 1:
            lines.insert(0, f"{len(problems)} problems in the config:")
        super().__init__("\n".join(lines))
        self.problems = problems


def compose(text: str, file: str) -> Node | None:
    """Parse YAML text into a node tree of plain data, turning every failure into a located ConfigError."""
    _load_yaml()
    _check_text(text, file)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or "invalid YAML"
        hint = "check indentation, quotes and colons"
        raise ConfigError([Problem(file, line, f"invalid YAML: {what} ({hint})")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, 0, f"invalid YAML: {exc}")]) from None
    except RecursionError:  # the pure-Python composer, when libyaml is missing
        raise ConfigError([Problem(file, 0, f"nested more than {MAX_DEPTH} levels deep")]) from None
    if root is not None:
        _check_tags(root, file)
    return root


def _check_text(text: str, file: str) -> None:
    """Size, characters YAML refuses and nesting depth, each located, before the parser sees the text."""
    if len(text) > MAX_CHARS:
        raise ConfigError([Problem(file, 0, f"the file is {len(text) / 1e6:.1f} MB; a routes.yaml may be at most "
                                            f"{MAX_CHARS // 1024 // 1024} MB")])
    bad = _UNREADABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise ConfigError([Problem(file, line, f"control character U+{ord(bad.group()):04X} at column {column}; "
                                               "remove it (YAML allows only printable text, tabs and newlines)")])
    # a cheap upper bound on the nesting depth (flow brackets, compact "- - x" items, and one level per column
    # of indentation at most); only a file that could be too deep pays for an exact count
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.split("\n")), default=0)
    bound = text.count("[") + text.count("{") + text.count("- ") + indent + 2
    if bound > MAX_DEPTH:
        _check_depth(text, file)


def _check_depth(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, counted on the parser's events (iterative, so it cannot crash)."""
    _load_yaml()
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError([Problem(file, event.start_mark.line + 1,
                                               f"nested more than {MAX_DEPTH} levels deep; routes.yaml needs 6")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return  # compose reports syntax errors with their line


def _check_tags(root: Node, file: str) -> None:
    """routes.yaml is plain data: an explicit tag such as !!python/object is an error naming the tag and line.

    Nothing is ever constructed from a tag (only the node tree is read); this says so instead of ignoring it.
    Each node is visited once, so aliases (billion laughs) cost no more than the text.
    """
    problems: list[Problem] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in _PLAIN_TAGS:
            shown = "!!" + node.tag[len(_CORE):] if node.tag.startswith(_CORE) else node.tag
            problems.append(Problem(file, line_of(node), f"the tag {shown} is not allowed: routes.yaml holds "
                                                         "plain data (text, numbers, lists, mappings); remove it"))
        if isinstance(node, MappingNode):
            for k, v in node.value:
                stack += (v, k)
        elif isinstance(node, SequenceNode):
            stack += reversed(node.value)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line))


def line_of(node: Node) -> int:
    """1-based line where a node starts."""
    return node.start_mark.line + 1


def did_you_mean(word: str, choices: Any) -> str:
    """' (did you mean 'x'?)' when a close match exists, else '' (and '' among thousands: it would be slow)."""
    names = [str(c) for c in choices]
    if len(names) > 1000 or len(word) > 200:
        return ""
    import difflib  # only when a name is wrong: not on every start

    match = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
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


def _short(value: float) -> str:
    """A number as the user wrote it, cut short when it is enormous."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 20 else text[:17] + "…"


class Reader:
    """Walks a node tree, converting values and collecting every problem instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        _load_yaml()
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
            if knode.tag.endswith(":merge"):
                self.fail(knode, f"{where}: merge keys (<<) are not supported; write the keys out")
                continue
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
            if not name or _CONTROL.search(name):
                self.fail(knode, f"{where}: names must be plain strings without control characters")
            elif name in seen:
                self.fail(knode, f"{where}: '{name}' is defined twice; keep one")
            else:
                seen.add(name)
                yield name, knode, vnode

    def scalar(self, node: Node, want: str, where: str) -> Any:
        """A converted scalar of the wanted kind, or None (with a problem recorded)."""
        if not self.expect(node, want, where):
            return None
        try:
            value = yaml.constructor.SafeConstructor().construct_object(node)
            return float(value) if want == "float" else value
        except (ValueError, OverflowError):  # an int of more than 4,300 digits, or too big for a float
            self.fail(node, f"{where}: '{str(node.value)[:20]}…' is not a usable number")
            return None

    def string(self, node: Node | None, where: str, choices: tuple[str, ...] | None = None) -> str | None:
        """A string, checked against choices when given (numbers are accepted as strings)."""
        if node is None:
            return None
        if kind(node) in ("int", "float"):
            value: Any = str(node.value)
        else:
            value = self.scalar(node, "str", where)
        if value is not None and (bad := _CONTROL.search(value)):
            self.fail(node, f"{where}: holds the control character U+{ord(bad.group()):04X} (written as an escape); "
                            "remove it: it could drive the terminal when shown")
            return None
        if value is not None and choices is not None and value not in choices:
            self.fail(node, f"{where}: '{value}' is not one of {', '.join(choices)}{did_you_mean(value, choices)}")
            return None
        return value

    def number(self, node: Node | None, want: str, where: str, minimum: float, maximum: float) -> Any:
        """A finite int or float within [minimum, maximum] (.nan and .inf would disable a limit silently)."""
        if node is None:
            return None
        value = self.scalar(node, want, where)
        if value is None:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(node, f"{where}: must be a finite number, got {node.value}")
            return None
        if not minimum <= value <= maximum:
            bound = f"at least {minimum:g}" if value < minimum else f"at most {maximum:g}"
            self.fail(node, f"{where}: must be {bound}, got {_short(value)}")
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
