"""The streamed markdown renderer: same screen as a one-shot render, at any chunking, for linear work."""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys

import pytest
from rich.console import Console

from routesh.rendering import rich_markdown
from routesh.rendering import stream as render_stream
from routesh.rendering.rich_markdown import render_markdown_once
from routesh.rendering.stream import StreamRenderer

# ---------------------------------------------------------------------------------------------
# A tiny terminal: applies what rich writes (text, CR, LF, cursor up, erase line, SGR) to a grid,
# so the live region's redraws drop out and only what stays on screen is compared.

_TOKEN = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\]8;[^\x1b]*\x1b\\|\r|\n|[^\x1b\r\n]+")


def screen(raw: str, styles: bool = True) -> str:
    """The final screen (scrollback included) after writing raw; cells keep their SGR when styles."""
    rows: list[list[tuple[str, str]]] = [[]]
    r = c = 0
    sgr = ""
    for m in _TOKEN.finditer(raw):
        tok = m.group(0)
        if tok == "\n":
            r, c = r + 1, 0
            while len(rows) <= r:
                rows.append([])
        elif tok == "\r":
            c = 0
        elif m.group(2):
            arg, cmd = m.group(1), m.group(2)
            if cmd == "A":
                r = max(0, r - int(arg or 1))
            elif cmd == "K":
                rows[r] = rows[r][:c] if arg in ("", "0") else []
            elif cmd == "m":
                sgr = "" if arg in ("", "0") else f"{sgr};{arg}"
            elif cmd not in "hl":  # show/hide cursor
                raise AssertionError(f"unexpected control sequence {tok!r}")
        elif not tok.startswith("\x1b]"):  # OSC 8 hyperlinks carry no cells
            row = rows[r]
            for ch in tok:
                while len(row) < c:
                    row.append((" ", ""))
                cell = (ch, sgr if styles else "")
                if c < len(row):
                    row[c] = cell
                else:
                    row.append(cell)
                c += 1
    lines = ["".join(f"{s}|{ch}" if s else ch for ch, s in row).rstrip() for row in rows]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def term(width: int = 72, height: int = 30, color: bool = True) -> Console:
    """A terminal console writing to a string, isolated from the environment."""
    return Console(file=io.StringIO(), force_terminal=True, width=width, height=height,
                   color_system="truecolor" if color else None, legacy_windows=False, _environ={})


def once(text: str, **kw: object) -> str:
    """Screen of the whole text rendered in one go."""
    console = term(**kw)  # type: ignore[arg-type]
    render_markdown_once(console, text)
    return screen(console.file.getvalue())  # type: ignore[attr-defined]


def once_raw(text: str) -> str:
    """What the one-shot render writes, control codes and all."""
    console = term()
    render_markdown_once(console, text)
    return console.file.getvalue()  # type: ignore[attr-defined]


def streamed(chunks: list[str], renderer_kw: dict[str, object] | None = None, **kw: object
             ) -> tuple[str, render_stream.RenderStats]:
    """Screen after streaming the chunks, and the renderer's counters."""
    console = term(**kw)  # type: ignore[arg-type]
    renderer = StreamRenderer(console, **(renderer_kw or {}))  # type: ignore[arg-type]
    for chunk in chunks:
        renderer.feed(chunk)
    stats = renderer.finish()
    return screen(console.file.getvalue()), stats  # type: ignore[attr-defined]


def split(text: str, size: int) -> list[str]:
    """Equal chunks, as a stream would deliver them."""
    return [text[i:i + size] for i in range(0, len(text), size)]


TRAILING_SPACES = "   "

LONG_PY = "\n".join(
    ['def handler(event: dict) -> str:',
     '    """Route one event.',
     '',
     '    The docstring runs over several lines so that a piece boundary falls inside it,',
     '    and its colour must carry over.',
     '    """'] + [f"    value_{i} = compute({i}, 'text', key=\"v{i}\")  # step {i}" for i in range(30)]
    + ['    return "done"'])

LONG_JS = "\n".join(
    ["/**", " * A JSDoc comment that spans", " * several lines before it closes.", " */",
     "export function f(a, b) {"] + [f"  const x{i} = a + b * {i}; // {i}" for i in range(12)]
    + ["  /* inline", "     block */", "  return `${a}-${b}`;", "}"])

LONG_SH = "\n".join(["set -euo pipefail", "cat <<EOF > out.txt", "line one $HOME", "", "line three", "EOF"]
                    + [f'echo "step {i}" | tee -a log.txt' for i in range(10)])

DOC = f"""# Release notes

Routesh picks a **model** for each prompt, shows *why*, and keeps `usage.db` up to date.
A second line of the same paragraph, with a [link](https://example.com/docs) in it.

## Install

1. Install the package:

   ```bash
   pip install routesh

   routesh doctor
   ```
2. Set a key with `routesh keys set anthropic`.
   - nested bullet
   - another one

- a bullet list
- with **two** items
  and a lazy continuation line

Setext heading
--------------

```python title="handler.py"
{LONG_PY}
```

~~~js
{LONG_JS}
~~~

```sh
{LONG_SH}
```

````markdown
```python
print("a fence inside a longer fence")
```
````

> A quote that spans
> two lines.

| route | model |
|-------|-------|
| quick | haiku |

***

```
plain code, no language	with a tab
```

```nosuchlanguage
whatever this is
```

    indented code block

    with a blank line inside

Wide characters: 漢字 and emoji 🎉 and é, a line long enough to wrap around the terminal width for sure.

```python
x = "a very long line of code that will certainly need to wrap at the console width of seventy-two columns"
\tindented = "with a tab"{TRAILING_SPACES}
```

<!-- an html comment

with a blank line -->

Final paragraph before an unclosed fence.

```python
def unfinished():
    return 1
"""


# ---------------------------------------------------------------------------------------------
# Same screen as a one-shot render


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 61, 500, 10**6])
def test_streaming_shows_the_same_screen_as_one_shot(size: int) -> None:
    shown, _ = streamed(split(DOC, size))
    assert shown == once(DOC)


@pytest.mark.parametrize("kw", [dict(width=40, color=False), dict(width=100, height=12)])
def test_same_screen_at_other_widths_and_heights(kw: dict[str, object]) -> None:
    shown, _ = streamed(split(DOC, 5), **kw)
    assert shown == once(DOC, **kw)


@pytest.mark.parametrize("theme", ["monokai", "default", "ansi_dark"])  # default styles docstrings apart
def test_code_pieces_keep_the_highlighting_of_a_one_shot_render(theme: str) -> None:
    """Docstrings, JSDoc comments and heredocs cut into pieces keep their colours (compared with SGR)."""
    for lang, code in (("python", LONG_PY), ("js", LONG_JS), ("bash", LONG_SH)):
        text = f"```{lang}\n{code}\n```\n"
        expected = term()
        render_markdown_once(expected, text, code_theme=theme)
        for size in (1, 3, 17):
            shown, stats = streamed(split(text, size), {"code_theme": theme})
            assert shown == screen(expected.file.getvalue()), (lang, size)  # type: ignore[attr-defined]
            assert stats.committed_blocks > 1, "a long code block is committed in pieces"


def test_every_split_point_gives_the_same_screen() -> None:
    sample = ("Intro *text*\n\n- a\n- b\n\n  ```py\n  x = 1\n\n  y = 2\n  ```\n\n"
              "~~~python\nz = '''\nq\n'''\n~~~\n\n# Done\nend\n")
    expected = once(sample)
    for i in range(len(sample) + 1):
        shown, _ = streamed([sample[:i], sample[i:]])
        assert shown == expected, f"split at {i}: {sample[:i]!r}"


def test_random_multi_splits_give_the_same_screen() -> None:
    rng = random.Random(5)
    expected = once(DOC)
    for _ in range(6):
        cuts = sorted(rng.sample(range(1, len(DOC)), 300))
        chunks = [DOC[a:b] for a, b in zip([0, *cuts], [*cuts, len(DOC)], strict=True)]
        shown, _ = streamed(chunks)
        assert shown == expected


FRAGMENTS = [
    "# H1 title",
    "## H2 *em*",
    "Para with `code` and **bold** text.",
    "Two\nline para",
    "- a\n- b",
    "- a\n\n- b",
    "1. one\n2. two",
    "3. three\n4. four\n\n   cont",
    "- item\n  ```py\n  x = 1\n\n  y\n  ```",
    "- item\n```py\nx\n```",
    "```\ncode\n```",
    "~~~js\nlet a = 1;\n/* c\nd */\n~~~",
    "````\n```\ninner\n```\n````",
    "  ```py\n  fence\n    more\n  ```",
    "    indented code\n\n    more",
    "> quote\n> more",
    "> q\n```\nx\n```",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "| a |\n|---|\n| 1 |\n    indented code after a table\n\n    more code",
    "``` info `with` backticks\nis not a fence",
    "<div>\n```\nnot a fence inside html\n\n```",
    "text\n    lazy indented\ncont",
    "Setext\n===\n    indented code after a heading\n\n    more",
    "- ```bash\n  echo a fence on the item line\n\n  echo b\n  ```\n- next",
    "> ```\n> quoted fence\n>\n> more\n> ```\n    indented code after a quote\n\n    more",
    "---",
    "***",
    "Setext\n===",
    "Setext2\n---",
    "<div>\nhtml\n\n</div>",
    "<!-- c\n\n-->",
    "[ref]: https://example.com\n\nThen a [ref]",
    "- [ ] task\n- [x] done",
    "* star\n+ plus",
    "10. ten\n11. eleven",
    "text\n# heading right after",
    "text\n```py\nfence right after\n```",
    "```\n\n\nleading blanks\n\n\n```",
    "```py\ntrailing blanks\n\n\n\n```",
    "```py\n```",
    "- a\n    - deep\n        - deeper",
    "trailing spaces  \nhard break",
    "\t- tab list",
    "```python\ndef f():\n    '''doc\n    more\n    '''\n    return 1\n"
    + "\n".join(f"a{i} = {i}" for i in range(9)) + "\n```",
    "```c\n/* multi\n line */\nint x;\n" + "\n".join(f"int y{i};" for i in range(8)) + "\n```",
    "```yaml\na: |\n  block\n  scalar\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n```",
]


def test_random_documents_give_the_same_screen() -> None:
    """Random mixes of tricky blocks (fences in lists, HTML with blank lines, setext, tables...) at random cuts."""
    rng = random.Random(11)
    for _ in range(40):
        parts = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 7))]
        doc = "".join(part + rng.choice(["\n", "\n\n", "\n\n\n"]) for part in parts)
        if rng.random() < 0.15:
            doc = doc.replace("\n", "\r\n")
        expected = once(doc, width=50)
        cuts = sorted(rng.sample(range(1, len(doc)), min(len(doc) - 1, rng.randint(1, 30))))
        pieces = [doc[a:b] for a, b in zip([0, *cuts], [*cuts, len(doc)], strict=True)]
        for chunks in (split(doc, rng.randint(1, 9)), pieces):
            shown, _ = streamed(chunks, width=50)
            assert shown == expected, doc


def test_an_html_comment_with_blank_lines_is_one_block_even_after_a_table_or_list() -> None:
    for text in ("| a |\n|---|\n| 1 |\n<!-- c\n\n-->\nafter\n", "- a\n<!-- c\n\nd -->\n\nafter\n"):
        shown, _ = streamed(split(text, 1))
        assert shown == once(text)


def test_link_definitions_apply_to_later_blocks() -> None:
    text = "[docs]: https://example.com/docs\n\nSee [docs] for more.\n"
    shown, _ = streamed(split(text, 2))
    assert shown == once(text)
    assert "[docs]" not in shown  # rendered as a link, not as brackets


def test_fence_markers_split_across_chunks() -> None:
    chunks = ["Text\n", "\n`", "`", "`pyth", "on\nif x:\n", "    y = '```'\n`", "``", "\n", "\n", "after\n"]
    text = "".join(chunks)
    shown, _ = streamed(chunks)
    assert shown == once(text)
    assert "after" in shown.splitlines()[-1].replace("|", "")


def test_a_shorter_or_different_fence_does_not_close_a_fence() -> None:
    text = "~~~~\n```\n~~~\nstill code\n~~~~\n\nafter\n"
    shown, _ = streamed(split(text, 1))
    assert shown == once(text)


def test_blank_lines_inside_a_fence_in_a_list_do_not_end_the_list() -> None:
    text = "- step one\n\n  ```bash\n  a\n\n\n  b\n  ```\n- step two\n\nAfter.\n"
    console = term()
    renderer = StreamRenderer(console)
    renderer.feed(text[: text.index("- step two")])
    assert renderer.stats.committed_blocks == 0  # the list is still open
    renderer.feed(text[text.index("- step two"):])
    renderer.finish()
    assert screen(console.file.getvalue()) == once(text)  # type: ignore[attr-defined]


def test_crlf_and_characters_split_across_chunks() -> None:
    """CRLF split between chunks, a combining accent after its letter, a surrogate pair split in two."""
    chunks = ["# T\r", "\n\r\nsome e", "\u0301 and \ud83d", "\ude00 end\r\n\r", "\n```py\r\nx=1\r\n```\r\n"]
    text = "".join(chunks).replace("\ud83d\ude00", "\U0001f600")
    shown, _ = streamed(chunks)
    assert shown == once(text)
    assert "\U0001f600" in shown


# ---------------------------------------------------------------------------------------------
# Committing: finished blocks go to the scrollback once; the live part stays small


def test_finished_blocks_are_committed_as_soon_as_they_are_certain() -> None:
    renderer = StreamRenderer(term())
    renderer.feed("# Heading\n")
    assert renderer.stats.committed_blocks == 1  # a heading is done at its newline
    renderer.feed("para\ngraph\n")
    assert renderer.stats.committed_blocks == 1
    renderer.feed("\n")
    assert renderer.stats.committed_blocks == 2  # a blank line ends the paragraph
    renderer.feed("- a\n- b\n\n")
    assert renderer.stats.committed_blocks == 2  # a list may go on after a blank line
    renderer.feed("  continued\n\n")
    assert renderer.stats.committed_blocks == 2
    renderer.feed("Next para")
    assert renderer.stats.committed_blocks == 2  # lines are judged when complete
    renderer.feed("\n")
    assert renderer.stats.committed_blocks == 3  # a non-list paragraph ends the list
    renderer.feed("\n```\ncode\n```\n")
    assert renderer.stats.committed_blocks == 5  # the paragraph, then the closed fence
    renderer.finish()


def test_a_long_open_code_block_keeps_a_small_live_tail() -> None:
    code = "\n".join(f"print({i}, 'some text to make the line longer')" for i in range(400))
    text = f"```python\n{code}\n```\n"
    _, stats = streamed(split(text, 7))
    assert stats.committed_blocks > 50
    assert stats.max_live_chars < 600  # lookahead + batch lines and the partial one


def test_a_huge_block_renders_only_what_fits_on_screen() -> None:
    text = " ".join(f"word{i}" for i in range(20000)) + "\n"  # one 170 KB paragraph, no newline inside
    console = term(width=80, height=24)
    renderer = StreamRenderer(console)
    for chunk in split(text, 500):
        renderer.feed(chunk)
    stats = renderer.finish()
    assert stats.max_live_chars <= 2 * 80 * 24 + 1000


@pytest.mark.parametrize("shape", ["paragraph", "list", "code", "blocks", "realistic"])
def test_rendering_work_is_linear_in_the_answer(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Characters handed to the markdown and syntax renderers stay within a constant times the answer."""
    seen = {"markdown": 0}
    real_call = rich_markdown._MarkdownFactory.__call__

    def counting(self: rich_markdown._MarkdownFactory, text: str, commit: bool = True) -> object:
        seen["markdown"] += len(text)
        return real_call(self, text, commit)

    monkeypatch.setattr(rich_markdown._MarkdownFactory, "__call__", counting)

    def make(n: int) -> str:
        if shape == "paragraph":
            return ("lorem *ipsum* dolor " * n)[: n * 20]
        if shape == "list":
            return "".join(f"- item {i} with `code`\n" for i in range(n))
        if shape == "code":
            return "```python\n" + "".join(f"x_{i} = f({i})  # c\n" for i in range(n)) + "```\n"
        if shape == "blocks":
            return "".join(f"p{i}\n\n" for i in range(n))
        return DOC * max(1, n // 400)

    ratios = []
    for n in (200, 800):
        text = make(n)
        seen["markdown"] = 0
        _, stats = streamed(split(text, 3), width=80, height=24)
        total = stats.rendered_chars
        assert seen["markdown"] <= total  # the counters do include every markdown render
        ratios.append(total / len(text))
        assert total <= 8 * len(text), (shape, n, stats)
    assert ratios[1] <= ratios[0] * 1.5 + 0.5, ratios  # no growth with the length


# ---------------------------------------------------------------------------------------------
# Plain mode, partial answers, lifecycle


def test_plain_mode_writes_exactly_the_input_as_it_arrives() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=40, _environ={})
    renderer = StreamRenderer(console)
    assert renderer.plain
    fed = ""
    for chunk in split(DOC, 11):
        renderer.feed(chunk)
        fed += chunk
        assert out.getvalue() == fed  # unbuffered
    renderer.finish()
    assert out.getvalue() == DOC
    assert "\x1b" not in out.getvalue()


def test_plain_mode_keeps_a_split_surrogate_pair_together() -> None:
    out = io.StringIO()
    renderer = StreamRenderer(Console(file=out, force_terminal=False, _environ={}))
    renderer.feed("a\ud83d")
    assert out.getvalue() == "a"
    renderer.feed("\ude00b\ud83d")
    renderer.finish()
    assert out.getvalue() == "a\U0001f600b\ufffd"  # a half that never got its pair cannot be written


def test_plain_mode_partial_note_starts_on_its_own_line() -> None:
    out = io.StringIO()
    renderer = StreamRenderer(Console(file=out, force_terminal=False, _environ={}))
    renderer.feed("half a sent")
    renderer.mark_partial("stream dropped")
    assert out.getvalue() == "half a sent\n[partial answer: stream dropped]\n"


def test_plain_mode_partial_note_can_go_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = StreamRenderer(Console(file=out, force_terminal=False, _environ={}), note_file=err)
    renderer.feed("answer")
    renderer.finish("cancelled")
    assert (out.getvalue(), err.getvalue()) == ("answer", "[partial answer: cancelled]\n")


def test_a_partial_answer_keeps_what_was_shown_and_says_so() -> None:
    text = "Intro.\n\n```python\ndef f():\n    return 1\n" + "\n".join(f"y{i} = {i}" for i in range(20))
    cut = text.index("y15")
    console = term()
    renderer = StreamRenderer(console)
    for chunk in split(text[:cut], 4):
        renderer.feed(chunk)
    renderer.mark_partial("interrupted by Ctrl-C")
    raw = console.file.getvalue()  # type: ignore[attr-defined]
    lines = screen(raw, styles=False).splitlines()
    assert lines[-1] == "[partial answer: interrupted by Ctrl-C]"
    assert "\n".join(lines[:-1]).rstrip("\n") == screen(once_raw(text[:cut]), styles=False)
    assert "\x1b[2m[partial answer" in raw  # dim
    with pytest.raises(RuntimeError):
        renderer.feed("more")


def test_ctrl_c_inside_the_with_block_marks_the_answer_partial() -> None:
    console = term(color=False)
    with pytest.raises(KeyboardInterrupt):
        with StreamRenderer(console) as renderer:
            renderer.feed("Some **answer** text")
            raise KeyboardInterrupt
    shown = screen(console.file.getvalue(), styles=False)  # type: ignore[attr-defined]
    assert shown == "Some answer text\n[partial answer: interrupted]"
    assert console._render_hooks == []  # the live region is gone


def test_finish_without_input_prints_nothing_and_is_idempotent() -> None:
    console = term()
    renderer = StreamRenderer(console)
    renderer.finish()
    renderer.finish()
    renderer.mark_partial()
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_max_fps_and_max_lag_use_the_clock() -> None:
    now = [0.0]
    text = "word " * 400
    capped = StreamRenderer(term(), max_fps=10, clock=lambda: now[0])
    for chunk in split(text, 5):
        capped.feed(chunk)  # the clock never moves: no redraw after the first
    assert capped.stats.live_refreshes == 1
    capped.flush()
    assert capped.stats.live_refreshes == 2
    lagging = StreamRenderer(term(), refresh_ratio=1e9, max_lag=0.125, clock=lambda: now[0])
    for chunk in split(text, 5):
        now[0] += 0.0625  # exact in binary
        lagging.feed(chunk)
    assert lagging.stats.live_refreshes == len(split(text, 5)) // 2
    capped.finish()
    lagging.finish()


def test_importing_the_module_does_not_import_rich_or_pygments() -> None:
    code = ("import sys, routesh.rendering.stream; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'pygments', 'markdown_it')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
