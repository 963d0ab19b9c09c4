"""`baseline:` in routes.yaml: validated with a did-you-mean, resolved to a priced model, applied per attempt."""

from __future__ import annotations

from pathlib import Path

import pytest

from routesh.core.baseline import baseline_cost, resolve, usage_baseline
from routesh.core.catalog import Catalog
from routesh.core.configfile import builtin_text, parse
from routesh.core.events import Usage
from routesh.core.yamlnodes import ConfigError

BASE = builtin_text()


def cfg(extra: str):  # type: ignore[no-untyped-def]
    return parse(BASE + "\n" + extra + "\n", "routes.yaml")


def problems(extra: str) -> str:
    with pytest.raises(ConfigError) as e:
        cfg(extra)
    return str(e.value)


def test_default_is_the_default_route() -> None:
    c = cfg("")
    b = resolve(c, Catalog(c.models))
    assert b is not None and b.route == c.default_route == "default" and b.model == "claude-sonnet-4-6"


def test_route_and_model_forms() -> None:
    c = cfg("baseline: {route: architect}")
    assert resolve(c, Catalog(c.models)).route == "architect"  # type: ignore[union-attr]
    c = cfg("baseline: {model: opus}")  # an alias resolves to its model
    b = resolve(c, Catalog(c.models))
    assert b is not None and b.route is None and b.model == "claude-opus-4-7" and b.info is not None


@pytest.mark.parametrize(("extra", "want"), [
    ("baseline: {route: architekt}", "no route 'architekt' (did you mean 'architect'?)"),
    ("baseline: {rout: default}", "did you mean 'route'"),
    ("baseline: {route: default, model: opus}", "either `route:` or `model:`, not both"),
    ("baseline: default", "baseline"),
    ("baseline: {}", "give `route: NAME` or `model: ID`"),
])
def test_bad_baselines_are_named_with_a_fix(extra: str, want: str) -> None:
    text = problems(extra)
    assert want in text and "routes.yaml:" in text


def test_same_tokens_priced_on_the_baseline() -> None:
    c = cfg("baseline: {model: claude-opus-4-7}")
    cat = Catalog(c.models)
    opus = cat.get("claude-opus-4-7")
    assert opus is not None and opus.input is not None and opus.output is not None
    want = (1000 * opus.input + 100 * opus.output) / 1e6
    assert baseline_cost(c, cat, 1000, 100, 0, 0) == pytest.approx(want)
    assert usage_baseline(c, cat, Usage(1000, 100)) == pytest.approx(want)
    assert baseline_cost(c, cat, None, None, None, None) is None and usage_baseline(c, cat, None) is None
    c = cfg("baseline: {model: unpriced-model-x}")
    assert baseline_cost(c, Catalog(c.models), 10, 10, 0, 0) is None  # unknown, never $0


def test_cli_config_check_rejects_a_bad_baseline(tmp_path: Path) -> None:
    from clirun import routesh

    f = tmp_path / "routes.yaml"
    f.write_text(BASE + "\nbaseline: {route: defualt}\n")
    out = routesh("--config", str(f), "stats", "--outcomes")
    assert out.returncode == 0, out.stderr  # stats still answer with a broken config (built-in prices)
    check = routesh("--config", str(f), "config", "check")
    assert check.returncode == 2 and "did you mean 'default'" in check.stderr + check.stdout
