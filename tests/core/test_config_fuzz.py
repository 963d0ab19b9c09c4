"""Fuzzing routes.yaml: whatever the file holds, `config check` answers ok or located problems, never a traceback."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routesh.commands.cli import main
from routesh.core.configfile import builtin_text, parse
from routesh.core.yamlnodes import ConfigError

BASE: dict[str, Any] = yaml.safe_load(builtin_text())
BASE["models"] = {"m": {"input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1.25, "context_window": 1000,
                        "aliases": ["mm"]}}
BASE["rules"].append({"max_tokens": 50, "route": "quick"})
BASE["code"] = {"default": "default", "long_context_threshold": 100}
BASE["profiles"]["work-approved"]["budget"] = {"daily_usd": 1, "monthly_usd": 20, "on_exceed": "downgrade",
                                                  "downgrade": "quick"}
BASE["routes"]["quick"].update(retries=2, timeout_s=30, max_output_tokens=100, env={"A": "b"}, on_refusal="default")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["default", "quick", "anthropic", "personal", "/debug", ".nan", "-1", "1e9", "~", "", " ",
                     "\x00", "\x1b]52;c;x\x07", "\ud800", "{", "[", "&a", "*a", "!!python/object:os.system",
                     "a" * 5000, "9" * 5000]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into the data, so a mutation can land anywhere in the schema."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = paths(BASE)


def mutate(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    """A deep copy of data with one place replaced (or removed)."""
    import copy

    data = copy.deepcopy(data)
    if not path:
        return value
    target = data
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, UnicodeEncodeError, ValueError):
        return yaml.safe_dump(data, allow_unicode=False, sort_keys=False)


def check_only_config_errors(text: str) -> None:
    try:
        config = parse(text, "routes.yaml")
    except ConfigError as exc:
        assert exc.problems and all(p.file == "routes.yaml" and p.line >= 0 for p in exc.problems)
        assert "\x1b" not in str(exc) and "\x00" not in str(exc)
        return
    for route in config.routes.values():  # what loads is usable at run time
        assert route.timeout_s is None or math.isfinite(route.timeout_s)
        assert route.retries is None or 0 <= route.retries <= 10
        assert route.fallback == () or all(fb in config.routes for fb in route.fallback)
        assert route.max_output_tokens is None or 1 <= route.max_output_tokens <= 10**8
    for model in config.models.values():
        assert all(v is None or (math.isfinite(v) and 0 <= v <= 10_000)
                   for v in (model.input, model.output, model.cache_read, model.cache_write))
        assert model.context_window is None or 1 <= model.context_window <= 10**8
    assert 1 <= config.code.long_context_threshold <= 10**8
    for profile in config.profiles.values():
        if profile.budget is not None:
            assert all(v is None or (math.isfinite(v) and 0 <= v <= 1e6)
                       for v in (profile.budget.daily_usd, profile.budget.monthly_usd))
    assert config.default_route in config.routes and config.default_profile in config.profiles


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_PATHS), values, st.booleans())
def test_any_value_anywhere_in_the_schema(path, value, delete):
    check_only_config_errors(dump(mutate(BASE, path, value, delete and bool(path))))


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


NUMBER_PATHS = [p for p in ALL_PATHS if p and type(_get(BASE, p)) in (int, float)]
numbers = st.one_of(st.integers(), st.integers(min_value=-(10**400), max_value=10**400), st.floats(),
                    st.booleans(), st.sampled_from([0, -0.0, 1e-300, 10, 11, 86_400, 86_401, 10**8, 10**8 + 1]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NUMBER_PATHS), numbers)
def test_any_number_in_any_numeric_field(path, value):
    assert len(NUMBER_PATHS) == 14  # every number routes.yaml has
    check_only_config_errors(dump(mutate(BASE, path, value, False)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(builtin_text())), st.integers(min_value=0, max_value=40),
       st.text(alphabet=st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
           [":", "- ", "  ", "\n", "{", "}", "[", "]", "&x ", "*x", "!!binary ", "\t", "'", '"', "? ", "<<: "]))
def test_any_edit_of_the_builtin_text(at, cut, insert):
    text = builtin_text()
    check_only_config_errors(text[:at] + insert + text[at + cut:])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200) | st.builds(lambda t, b, at: (t[:at] + b + t[at:]),
                                           st.just(builtin_text().encode()), st.binary(min_size=1, max_size=6),
                                           st.integers(min_value=0, max_value=len(builtin_text()))))
def test_config_check_never_tracebacks(tmp_path_factory, data):
    f: Path = tmp_path_factory.mktemp("fuzz") / "routes.yaml"
    f.write_bytes(data)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["config", "check", str(f)])
    assert code in (0, 2), err.getvalue()
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
    if code == 2:
        assert err.getvalue().startswith("routesh: ") and str(f) in err.getvalue()
    else:
        assert out.getvalue().startswith(f"ok: {f}")
