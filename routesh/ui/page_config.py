"""The config in use (where it came from, its problems) and the routing playground (the dry-run, live)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import Config
from ..core.context import Context, build
from ..core.errors import UserError
from ..core.plan import SpentFn
from ..core.yamlnodes import ConfigError, Problem
from .html import esc, page


@dataclass(frozen=True)
class ConfigState:
    """The config in effect now, or why there is none: loaded fresh per page so edits show at once."""

    ctx: Context | None
    problems: tuple[Problem, ...] = ()
    error: str | None = None  # a problem that is not located in a file (an unknown profile, say)
    path: Path | None = None


def load(config_flag: str | None, profile_flag: str | None) -> ConfigState:
    """Build the context the CLI would; a broken config becomes its list of problems, never an exception."""
    try:
        ctx = build(config_flag, profile_flag, blank_ok=True)
        return ConfigState(ctx, path=ctx.loaded.path)
    except ConfigError as exc:
        path = Path(exc.problems[0].file) if exc.problems and exc.problems[0].file else None
        return ConfigState(None, tuple(exc.problems), path=path)
    except UserError as exc:
        return ConfigState(None, error=str(exc))


def config_page(state: ConfigState, token: str) -> str:
    """Where the config comes from, its validation problems (each with its line), and its text, lines numbered."""
    parts = []
    if state.ctx is not None:
        loaded = state.ctx.loaded
        origin = str(loaded.path) if loaded.path else "the built-in default"
        parts.append(f'<p><strong class="ok">Valid:</strong> <code>{esc(origin)}</code> ({esc(loaded.kind)}); '
                     f"{esc(_summary(state.ctx.config))}. Profile in use: "
                     f"<strong>{esc(state.ctx.choice.name)}</strong> "
                     f'<span class="muted">({esc(state.ctx.choice.why)})</span></p>')
        parts += [f'<p class="warn">{esc(w)}</p>' for w in loaded.warnings]
    if state.problems:
        items = "".join(f"<li><code>{esc(p.file)}{':' + str(p.line) if p.line else ''}</code> {esc(p.message)}</li>"
                        for p in state.problems)
        parts.append(f'<div class="problem"><p><strong>{len(state.problems)} problem'
                     f'{"s" if len(state.problems) != 1 else ""} in the config</strong>; routesh refuses to run with '
                     f"it until they are fixed (<code>routesh config check</code> says the same).</p><ul>{items}</ul>"
                     "</div>")
    if state.error:
        parts.append(f'<div class="problem"><p>{esc(state.error)}</p></div>')
    text = _text(state.path)
    title = str(state.path)
    if text is None and state.ctx is not None and state.ctx.loaded.path is None:
        from ..core.configfile import builtin_text

        text, title = builtin_text(), "The built-in default"
    if text is not None:
        bad = {p.line for p in state.problems if p.line}
        lines = "".join(f'<li{" class=bad" if i in bad else ""} id="L{i}"><code>{esc(line) or " "}</code></li>'
                        for i, line in enumerate(text.splitlines(), 1))
        parts.append(f'<h2>{esc(title)}</h2><ol class="source">{lines}</ol>')
    return page("Config", "".join(parts), token=token, active="/config")


def _summary(c: Config) -> str:
    """'2 providers, 3 routes, …; default route R, default profile P' (as `routesh config check` says it)."""
    n = lambda k, word: f"{k} {word}{'' if k == 1 else 's'}"  # noqa: E731
    return ", ".join((n(len(c.providers), "provider"), n(len(c.routes), "route"), n(len(c.rules), "rule"),
                      n(len(c.profiles), "profile"))) + \
        f"; default route {c.default_route}, default profile {c.default_profile}"


def _text(path: Path | None) -> str | None:
    """The config file's text for display (capped), or None when it cannot be read."""
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            return f.read(512 * 1024).decode("utf-8", "replace")
    except OSError:
        return None


def playground_page(token: str) -> str:
    """A prompt box; app.js posts it to /api/dry-run as you type and shows the plan (built with textContent)."""
    body = ('<p class="muted">Type or paste a prompt: where it would go and why, against the config in use now. '
            "Nothing is sent to any model (this is <code>routesh --dry-run</code>).</p>"
            '<div class="playground"><div><label for="prompt">Prompt</label>'
            '<textarea id="prompt" rows="10" spellcheck="false" placeholder="/debug why does the login test flake?">'
            "</textarea>"
            '<label>Route override <input id="route" size="12" placeholder="(rules decide)"></label></div>'
            '<div><div id="plan" aria-live="polite"><p class="muted">The plan appears here.</p></div>'
            '<details><summary>The dry-run JSON</summary><pre id="plan-json"></pre></details></div></div>')
    return page("Playground", body, token=token, active="/playground")


def dry_run(state: ConfigState, prompt: str, route: str | None, spent: SpentFn) -> dict[str, Any]:
    """The `routesh --dry-run --json` object for a prompt (the same producer), or the error the CLI would print."""
    if state.ctx is None:
        detail = state.error or "; ".join(str(p) for p in state.problems[:5])
        return {"error": f"the config has problems, so nothing can be routed: {detail}"}
    from ..pipeline.prepare import plan_for

    try:
        plan = plan_for(state.ctx, prompt, route or None, spent=spent)
    except UserError as exc:
        from ..core.kept import shown

        return {"error": shown(str(exc))}
    return {"plan": plan.to_json()}
