"""The --dry-run panel as rows, and written as plain text with ANSI styles: importing rich.console for a dozen
lines cost the dry-run ~30 ms of its ~120 (issue 11). The shell's /why renders the same rows with rich."""

from __future__ import annotations

import os
from typing import TextIO

from ..core.estimate import explain
from ..core.plan import Plan

__all__ = ["Row", "plan_rows", "write_plan", "wants_color"]

Row = tuple[str, str, str]  # label, text, style ("" or a rich-style name from _SGR)

_SGR = {"": "", "bold": "1", "bold red": "1;31", "dim": "2", "yellow": "33", "green": "32", "red": "31"}
GAP = "  "


def plan_rows(plan: Plan) -> list[Row]:
    """The evidence under the decision line: why, notes, input, profile, key, secrets, budget, policy, cost."""
    from .render import input_sizes

    allowed = plan.verdict.allowed
    rows: list[Row] = [("why", plan.decision.reason, "")]
    rows += [("note", note, "yellow") for note in plan.notes]
    if plan.attachments:
        rows.append(("input", input_sizes(plan), ""))
    rows.append(("profile", f"{plan.profile} ({plan.profile_why})", ""))
    if not plan.key_needed:
        rows.append(("key", "none needed", ""))
    elif plan.key_present:
        rows.append(("key", f"found in {plan.key_source}", ""))
    else:
        from ..keys.secrets import how_to_set

        rows.append(("key", f"missing: {how_to_set(plan.profile, plan.provider)}", "yellow"))
    rows += [("key shared", s.sentence(plan.profile), "dim" if s.allowed else "yellow") for s in plan.shared_keys]
    if plan.key_problem and not plan.key_present:  # a keyring problem matters only when no key was found
        rows.append(("keyring", plan.key_problem.replace("\n", " "), "dim"))
    if plan.secrets:
        rows.append(("secrets", plan.secrets, "yellow"))
    if plan.budget is not None:
        rows.append(("budget", plan.budget.message, "red" if plan.budget.over else ""))
    if allowed:
        why = f": {plan.verdict.why}" if plan.budget and plan.budget.over else ""
        rows.append(("policy", "allowed" + why, "green"))
    else:
        rows.append(("policy", f"refused: {plan.verdict.why}", "red"))
    if plan.decision.fallbacks:
        skipped = dict(plan.verdict.skipped)
        rows.append(("fallback", " → ".join(fb + (" (skipped: not allowed)" if fb in skipped else "")
                                            for fb in plan.decision.fallbacks), ""))
    rows.append(("cost", explain(plan.estimate), ""))
    return rows


def wants_color(out: TextIO) -> bool:
    """Styles on a terminal only, and never with NO_COLOR set or TERM=dumb (as rich decides)."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _style(text: str, style: str, color: bool) -> str:
    code = _SGR.get(style, "")
    return f"\x1b[{code}m{text}\x1b[0m" if color and code and text else text


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap; a word longer than the width is cut (model ids and paths stay whole on pipes)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


def write_plan(plan: Plan, out: TextIO, *, color: bool | None = None, width: int | None = None) -> None:
    """The human --dry-run: the decision line, then the evidence; wrapped to the terminal, never on a pipe."""
    from .render import decision_line

    color = wants_color(out) if color is None else color
    if width is None and color:
        import shutil

        width = shutil.get_terminal_size().columns
    rows = plan_rows(plan)
    label_w = max(len(label) for label, _, _ in rows)
    head = decision_line(plan)
    parts = [_style(head, "bold" if plan.verdict.allowed else "bold red", color), "\n"]
    room = max(20, width - label_w - len(GAP)) if width else None
    for label, text, style in rows:
        pieces = _wrap(text, room) if room else [text]
        for i, piece in enumerate(pieces):
            lead = _style(label.ljust(label_w) if i == 0 else " " * label_w, "dim", color)
            line = f"{lead}{GAP}{_style(piece, style, color)}" if piece else lead
            parts.append((line if color else line.rstrip(" ")) + "\n")
    out.write("".join(parts))
    out.flush()
