"""What the first answer needs (rich, the runner, the SDKs the routes use), imported on a background thread once
the first prompt is on screen, so start-up stays fast and the first answer does not wait for imports."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.context import Context


def preload(ctx: Context) -> None:
    """Import what the first answer needs (rich, the runner, the SDKs the routes use) ahead of time."""
    try:
        import rich.console  # noqa: F401
        import rich.markdown  # noqa: F401
        import rich.syntax  # noqa: F401

        from ..engines.registry import preload as engines
        from ..keys import secrets  # noqa: F401
        from ..pipeline import runner  # noqa: F401
        from ..rendering import stream as render_stream  # noqa: F401

        types = sorted({ctx.config.providers[r.provider].type for r in ctx.config.routes.values() if r.via == "api"})
        if types:
            engines(*types)
    except Exception:  # noqa: BLE001 - a failed preload only means the first request imports it
        pass


def _preload_once(session: object, ctx: Context) -> None:
    """Start the preload after the first prompt is drawn, so it never delays the prompt."""
    app = session.app  # type: ignore[attr-defined]
    started = threading.Event()

    def start(_: object) -> None:
        if not started.is_set():
            started.set()
            threading.Thread(target=preload, args=(ctx,), name="routesh-preload", daemon=True).start()

    app.after_render += start
