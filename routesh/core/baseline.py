"""The baseline (pure): what every attempt would have cost on one fixed model, so savings are measured.

`baseline: {route: NAME}` or `baseline: {model: ID}` in routes.yaml; without it, the default route.
The same token counts are priced on the baseline model when the attempt is recorded (one column,
`baseline_cost_usd`), so a sum over any window or grouping is the baseline spend there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yaml.nodes import Node

    from .catalog import Catalog
    from .config import Config, ModelInfo
    from .events import Usage
    from .yamlnodes import Reader

BASELINE_KEYS = ("route", "model")


@dataclass(frozen=True)
class Baseline:
    """`baseline:` as written: a route (its model) or a model id; neither means the default route."""

    route: str | None = None
    model: str | None = None
    line: int = 0


def parse_baseline(r: Reader, node: Node | None, routes: dict[str, object]) -> Baseline | None:
    """Validate `baseline:` (exactly one of route/model; a route that exists, with a did-you-mean)."""
    if node is None or node.tag.endswith(":null"):
        return None
    from .yamlnodes import did_you_mean, line_of

    m = r.mapping(node, "baseline", BASELINE_KEYS)
    if not m:
        if not r.problems or r.problems[-1].line != line_of(node):
            r.fail(node, "baseline: give `route: NAME` or `model: ID`, e.g. `baseline: {route: default}`")
        return None
    if len(m) != 1:
        r.fail(node, "baseline: give either `route:` or `model:`, not both")
        return None
    route = r.string(m.get("route"), "baseline.route")
    model = r.string(m.get("model"), "baseline.model")
    if route is not None and route not in routes:
        r.fail(m["route"], f"baseline.route: no route '{route}'{did_you_mean(route, list(routes))}; "
                           f"routes: {', '.join(routes) or 'none'}")
        return None
    if route is None and model is None:
        return None
    return Baseline(route, model, line_of(node))


@dataclass(frozen=True)
class BaselineModel:
    """The baseline resolved against a config: the route it came from (if any), the model id and its prices."""

    route: str | None
    model: str
    info: ModelInfo | None


@lru_cache(maxsize=8)
def resolve(config: Config, catalog: Catalog) -> BaselineModel | None:
    """The baseline model for a config (cached: configs are compared by identity); None when there is none."""
    spec: Baseline | None = getattr(config, "baseline", None)
    if spec is not None and spec.model is not None:
        model = catalog.resolve(spec.model)
        return BaselineModel(None, model, catalog.get(model))
    name = spec.route if spec is not None and spec.route else config.default_route
    route = config.routes.get(name)
    if route is None:
        return None
    model = catalog.resolve(route.model)
    return BaselineModel(name, model, catalog.get(model))


def baseline_cost(config: Config, catalog: Catalog, input_tokens: int | None, output_tokens: int | None,
                  cache_read: int | None, cache_write: int | None) -> float | None:
    """The same token counts priced on the baseline model; None when it has no price or nothing was counted."""
    if input_tokens is None and output_tokens is None:
        return None
    base = resolve(config, catalog)
    if base is None or base.info is None:
        return None
    from .cost import cost_usd

    return cost_usd(base.info, input_tokens or 0, output_tokens or 0, cache_read or 0, cache_write or 0)


def usage_baseline(config: Config, catalog: Catalog, usage: Usage | None) -> float | None:
    """baseline_cost() of an engine's Usage (None: nothing was used)."""
    if usage is None:
        return None
    return baseline_cost(config, catalog, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                         usage.cache_write_tokens)
