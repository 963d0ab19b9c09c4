"""rich's Markdown, made cheap to build once per block: one shared markdown-it parser, where rich puts its blank
lines, and the whole-answer render the stream is measured against. rich is imported on first use."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.markdown import Markdown


class _MarkdownFactory:
    """rich Markdown objects sharing one markdown-it parser (rich builds a new one per object)."""

    def __init__(self, code_theme: str, hyperlinks: bool) -> None:
        """One template and one parser per renderer."""
        from markdown_it import MarkdownIt
        from rich.markdown import Markdown

        self.template = Markdown("", code_theme=code_theme, hyperlinks=hyperlinks)
        self.parser = MarkdownIt().enable("strikethrough").enable("table")  # as rich.markdown does
        self.env: dict[str, Any] = {}  # link reference definitions of committed blocks, for later ones

    def __call__(self, text: str, commit: bool = True) -> Markdown:
        """A Markdown for text, as rich.markdown.Markdown(text, ...) would be, knowing earlier [refs]: urls.

        Only committed text may add definitions (a live tail may hold half of one).
        """
        md = copy.copy(self.template)
        md.markup = text
        env = self.env
        if not commit:
            env = {"references": dict(env["references"])} if env.get("references") else {}
        md.parsed = self.parser.parse(text, env)
        return md


def _ends_with_new_line(md: Markdown) -> bool | None:
    """Whether rich puts a blank line after this markdown's last top-level element (None: none)."""
    from rich.markdown import Markdown as RichMarkdown
    from rich.markdown import UnknownElement

    for token in reversed(md.parsed):
        if token.level != 0:
            continue
        ttype = token.type
        if token.nesting == -1:
            ttype = ttype[: -len("_close")] + "_open"
        return bool((RichMarkdown.elements.get(ttype) or UnknownElement).new_line)
    return None


def _starts_with_leaf(md: Markdown) -> bool:
    """Whether the first top-level element holds no elements of its own (a paragraph, heading, fence).

    rich.markdown puts a blank line before an element when the last element closed before it
    asked for one. Before a leaf that is the previous top-level block, so a separately rendered
    leaf block needs the separator added; a list or quote closes its own items first, so its
    separate render already starts with the blank line the whole render would have.
    """
    tokens = md.parsed
    for i, token in enumerate(tokens):
        if token.level != 0:
            continue
        if token.nesting != 1:
            return True
        for inner in tokens[i + 1:]:
            if inner.level == 0:
                return True
            if inner.type != "inline":
                return False
        return True
    return True


def render_markdown_once(console: Console, text: str, *, code_theme: str = "monokai",
                         hyperlinks: bool = True) -> None:
    """Render a whole answer in one go with rich: the reference the stream is measured against."""
    from rich.markdown import Markdown

    console.print(Markdown(text, code_theme=code_theme, hyperlinks=hyperlinks))
