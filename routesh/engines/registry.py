"""The engine registry: which module speaks for a provider type; one wire protocol each, nothing about routes.

Every engine module exposes the same two functions:

``stream(req: EngineRequest, cancel: threading.Event | None = None) -> Generator[Event, None, None]``
    yields TextDelta as text arrives, then Usage (when the provider reported any), then
    Done (a Usage with final=False may come earlier: the counts so far, e.g. message_start's,
    so an attempt that is cancelled or breaks off is still counted); raises EngineError
    (kind/status/retry_after/context_too_long set) on failure,
    EngineError(kind="timeout") when req.timeout_s passes, EngineError(kind="cancelled")
    when ``cancel`` is set. Closing the generator early stops the work (HTTP stream closed,
    child process group killed).
``preload() -> None``
    imports the heavy SDK so the first real call does not pay for it (run it in a
    background thread while the user types).

This package imports no SDK: ``import routesh.engines.anthropic_api`` stays cheap; the SDKs
are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, cast

from ..core.config import register_provider_type

if TYPE_CHECKING:  # annotations only: every command imports this module, the dry-run makes no request
    import threading

    from ..core.events import EngineRequest, Event


class Engine(Protocol):
    """What dispatch needs from an engine module."""

    def stream(self, req: EngineRequest, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Run one attempt."""
        ...

    def preload(self) -> None:
        """Import the SDK ahead of time."""
        ...


_MODULES: dict[str, str] = {
    "anthropic": "routesh.engines.anthropic_api",
    "openai": "routesh.engines.openai_api",
    "claude-code": "routesh.engines.claude_code",
}
for _type in _MODULES:  # every engine but claude-code (a route's `via:`, not a type) is a provider `type:`
    if _type != "claude-code":
        register_provider_type(_type)


def engine_for(provider_type: str, via: str = "api") -> Engine:
    """The engine module for a provider type and a route's `via` (claude-code wins over type)."""
    name = "claude-code" if via == "claude-code" else provider_type
    try:
        module: ModuleType = importlib.import_module(_MODULES[name])
    except KeyError:
        raise ValueError(f"no engine for provider type {provider_type!r} via {via!r}") from None
    return cast(Engine, module)


def preload(*provider_types: str) -> None:
    """Import the SDKs for these provider types (default: both); safe to call from any thread."""
    for t in provider_types or ("anthropic", "openai"):
        engine_for(t).preload()
