"""routes.yaml edits take effect between prompts: the shell watches the file in use, reads it ahead while the user
types (for the toolbar), and adopts it (or keeps the last good config) when a line is sent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import UserError

if TYPE_CHECKING:
    from ..core.context import Context
    from ..core.sources import Loaded
    from .out import Out
    from .repl import Sticky


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """(mtime_ns, size) of the file, or None when it does not exist: cheap enough for every prompt."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class HotReload:
    """The Shell's hot reload (a mixin): the watched file's stamp, the config read ahead, the switch on a change."""

    ctx: Context
    out: Out
    sticky: Sticky | None
    config_flag: str | None
    _watched: Path | None
    _seen: tuple[int, int] | None
    _peeked: tuple[tuple[int, int] | None, Context | None] | None

    def switch(self, ctx: Context) -> None:
        raise NotImplementedError  # the Shell starts afresh in another profile

    def _watch_path(self) -> Path | None:
        """The file whose edits take effect: the config in use, else where the user's own would be."""
        if self.ctx.loaded.path is not None:
            return self.ctx.loaded.path
        from ..core.paths import user_config_file

        return user_config_file() if self.ctx.loaded.kind == "builtin" else None

    def reload(self, *, force: bool = False) -> bool:
        """Pick up routes.yaml edits; an invalid file is reported and the last good config kept. True if it read."""
        stamp = _stamp(self._watched)
        if not force and stamp == self._seen:
            return False
        self._seen = stamp
        from ..core.sources import load

        try:
            loaded = load(self.config_flag, self.ctx.env, self.ctx.cwd)
        except UserError as exc:
            self.out.error(f"routes.yaml not reloaded, the last good config stays in use:\n{exc}")
            return True
        self._adopt(loaded)
        return True

    def _view_ctx(self) -> Context:
        """The context the toolbar previews with: an edited routes.yaml is read ahead (quietly) while typing,
        so a newly added prefix is known before Enter; reporting and adopting it stays with reload()."""
        stamp = _stamp(self._watched)
        if stamp == self._seen:
            return self.ctx
        if self._peeked is None or self._peeked[0] != stamp:
            from ..core.sources import load

            try:
                ahead: Context | None = self.ctx.with_loaded(load(self.config_flag, self.ctx.env, self.ctx.cwd))
            except Exception:  # noqa: BLE001 - a broken edit is reported by reload() when the line is sent
                ahead = None
            self._peeked = (stamp, ahead)
        return self._peeked[1] or self.ctx

    def _adopt(self, loaded: Loaded) -> None:
        old = self.ctx
        new = old.with_loaded(loaded)
        self.ctx = new
        self._watched = self._watch_path()
        self._seen = _stamp(self._watched)
        where = loaded.path or "the built-in routes.yaml"
        self.out.note(f"reloaded {where}: {len(new.config.routes)} routes, {len(new.config.rules)} rules")
        for warning in loaded.warnings:
            self.out.warn(f"routesh: {warning}")
        if self.sticky and self.sticky.route not in new.config.routes:
            self.out.warn(f"route {self.sticky.route} is gone, so {self.sticky.label} is no longer sticky")
            self.sticky = None
        if new.profile.name != old.profile.name:
            self.out.warn(f"profile {old.profile.name} is gone; now in {new.profile.name} ({new.choice.why})")
            self.switch(new)
