"""Hostile routes.yaml text: every failure is a ConfigError with the file and, where there is one, the line."""

from __future__ import annotations

import time

import pytest

from routesh.core.configfile import parse
from routesh.core.yamlnodes import MAX_CHARS, ConfigError

OK = "routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai}}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, "routes.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ufffe", "\ud800"])
def test_characters_yaml_refuses_get_a_line_and_column(char):
    [p] = problems(OK + f"profiles:\n  personal: {{description: ab{char}c}}\n")
    assert p.startswith("routes.yaml:4: control character U+") and "column 29" in p
    assert char not in p  # the byte itself never reaches the terminal


def test_tabs_crlf_and_a_bom_are_fine():
    parse("\ufeff" + OK.replace("\n", "\r\n") + "profiles:\r\n  p: {description: \"a\tb\"}\r\n", "routes.yaml")


@pytest.mark.parametrize(("tag", "shown"), [
    ("!!python/object:os.system", "!!python/object:os.system"),
    ("!!python/object/apply:os.system", "!!python/object/apply:os.system"),
    ("!!python/name:builtins.eval", "!!python/name:builtins.eval"),
    ("!custom", "!custom"),
    ("!!binary", "!!binary"),
    ("!!set", "!!set"),
    ("!<tag:example.com,2000:x>", "tag:example.com,2000:x"),
])
def test_non_standard_tags_are_named_with_their_line(tag, shown):
    ps = problems(OK + f"profiles:\n  personal:\n    description: {tag} x\n")
    assert ps == [f"routes.yaml:5: the tag {shown} is not allowed: routes.yaml holds plain data "
                  "(text, numbers, lists, mappings); remove it"]


def test_a_tag_on_a_key_or_a_collection_is_found_too():
    ps = problems("routes: !!python/object:x {default: {provider: a, model: m}}\n"
                  "providers: {!!python/name:os.system a: {type: openai}}\n")
    assert [p.split(":")[1] for p in ps] == ["1", "2"]


def test_standard_tags_written_out_are_accepted():
    c = parse(OK.replace("model: m", "model: !!str 4.5, retries: !!int 2"), "routes.yaml")
    assert c.routes["default"].model == "4.5" and c.routes["default"].retries == 2


def test_deep_nesting_is_refused_without_crashing():
    for text in ("a: " + "[" * 200_000 + "]" * 200_000, "a: " + "{x: " * 100_000 + "1" + "}" * 100_000,
                 "".join(" " * i + f"k{i}:\n" for i in range(2_000)) + " " * 2_000 + "v: 1\n",
                 "a: " + "- " * 50_000 + "x\n"):
        ps = problems(text)
        assert len(ps) == 1 and ("nested more than" in ps[0] or "invalid YAML" in ps[0]), ps


def test_alias_bombs_cost_no_more_than_their_text():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 30)]
    bomb = "\n".join(lines) + "\n"
    start = time.perf_counter()
    for text in (OK + bomb,
                 OK + "rules:\n  - {keywords: *a29, route: default}\n" + bomb.replace("a0: ", "q: ", 1),
                 OK.replace("{default:", "{dflt: &r {provider: a, model: m, fallback: *a29}, default:")
                 + bomb.replace("a0: ", "q: ", 1)):
        assert problems(text)
    assert time.perf_counter() - start < 5


def test_a_self_referencing_alias_is_an_error_not_a_hang():
    ps = problems(OK + "rules: &r [*r]\n")
    assert ps and all(p.startswith("routes.yaml:") for p in ps)


def test_huge_file_is_refused_by_size():
    [p] = problems("# " + "x" * MAX_CHARS + "\n" + OK)
    assert "may be at most 4 MB" in p


def test_thousands_of_problems_are_summed_up():
    text = OK + "profiles:\n" + "".join(f"  p{i}: {{on_secret: nope}}\n" for i in range(5_000))
    with pytest.raises(ConfigError) as info:
        parse(text, "routes.yaml")
    message = str(info.value)
    assert len(info.value.problems) == 5_000
    assert message.startswith("5000 problems") and "and 4980 more" in message and len(message.splitlines()) == 22


def test_merge_keys_say_they_are_not_supported():
    ps = problems("base: &b {provider: a}\n" + OK.replace("{provider: a, model: m}", "{<<: *b, model: m}"))
    assert any("merge keys (<<) are not supported" in p for p in ps)


@pytest.mark.parametrize("escape", ["\\e]52;c;aGk=\\a", "\\x1b[2J", "\\x9b", "\\0", "\\r"])
def test_control_characters_written_as_escapes_are_refused_in_values_and_names(escape):
    ps = problems(OK + f'profiles:\n  personal: {{description: "a{escape}"}}\n')
    assert ps == [f"routes.yaml:4: profiles.personal.description: holds the control character U+"
                  f"{ps[0].split('U+')[1][:4]} (written as an escape); remove it: it could drive the terminal when shown"]
    ps = problems(OK.replace("{default:", f'{{"x{escape}": {{provider: a, model: m}}, default:'))
    assert any("names must be plain strings without control characters" in p for p in ps)
    assert not any("\x1b" in p or "\x9b" in p for p in ps)


def test_tabs_and_newlines_in_values_are_fine():
    c = parse(OK.replace("model: m}", 'model: m, system: "line one\\n\\tline two"}'), "routes.yaml")
    assert c.routes["default"].system == "line one\n\tline two"
