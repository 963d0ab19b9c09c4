"""One-off overrides from the command line (-m MODEL, -s TEXT), applied to the decided route only."""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType

from .context import Context
from .errors import UserError
from .yamlnodes import did_you_mean


@dataclass(frozen=True)
class Overrides:
    """What -m and -s asked for; empty when neither was given."""

    model: str | None = None
    system: str | None = None

    def __bool__(self) -> bool:
        return self.model is not None or self.system is not None


def split_model(spec: str, providers: list[str]) -> tuple[str | None, str]:
    """'provider/model' → (provider, model) when the part before the slash names a provider; else (None, spec)."""
    head, slash, tail = spec.partition("/")
    if slash and head in providers:
        if not tail:
            raise UserError(f"-m {spec}: no model after the provider; e.g. -m {head}/claude-sonnet-4-6")
        return head, tail
    return None, spec


def apply(ctx: Context, route: str, wanted: Overrides) -> tuple[Context, tuple[str, ...]]:
    """The context with the route's model, provider or system replaced, and the notes saying so."""
    config = ctx.config
    r = config.routes[route]
    notes: list[str] = []
    changes: dict[str, object] = {}
    if wanted.model is not None:
        if not wanted.model.strip():
            raise UserError("-m needs a model, e.g. -m claude-haiku-4-5 or -m anthropic/claude-opus-4-7")
        provider, model = split_model(wanted.model.strip(), list(config.providers))
        model = ctx.catalog.resolve(model)
        if provider is None and "/" in model and config.providers[r.provider].type == "anthropic":
            head = model.partition("/")[0]  # Anthropic ids have no slash: this was meant as provider/model
            raise UserError(f"-m {wanted.model}: no provider named '{head}'{did_you_mean(head, config.providers)}; "
                            f"providers: {', '.join(config.providers)} (a bare model goes to the route's provider)")
        provider = provider or r.provider
        if r.via == "claude-code" and config.providers[provider].type != "anthropic":
            raise UserError(f"-m {wanted.model}: route {route} runs via Claude Code, which needs an anthropic "
                            "provider; pick one, or add --route for an API route")
        changes.update(model=model, provider=provider)
        was = f"{r.provider}/{ctx.catalog.resolve(r.model)}"
        notes.append(f"model overridden by -m: {provider}/{model} instead of {was}")
    if wanted.system is not None:
        changes["system"] = wanted.system
        notes.append("system prompt set by -s" + (" (replaces the route's own)" if r.system else ""))
    routes = dict(config.routes)
    routes[route] = replace(r, **changes)  # type: ignore[arg-type]
    loaded = replace(ctx.loaded, config=replace(config, routes=MappingProxyType(routes)))
    return replace(ctx, loaded=loaded), tuple(notes)
