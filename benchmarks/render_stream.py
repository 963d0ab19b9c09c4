"""Benchmark: streamed markdown rendering must cost a small constant times rendering the answer once.

Run: python benchmarks/render_stream.py [--size-kb 200] [--chunks 4000]

A deterministic, realistic answer (prose, lists, headings, many fenced code blocks in
python/js/bash, a few long ones) is streamed in equal chunks into a StreamRenderer on a
Console that writes to a null file (force_terminal=True, width 100), and its CPU time is
compared with render_markdown_once on the same text. The ratio is printed for 50/100/200 KB
to show the work is linear in the answer's length (a quadratic renderer's ratio would grow
with the size).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402

from routesh.rendering.rich_markdown import render_markdown_once  # noqa: E402
from routesh.rendering.stream import RenderStats, StreamRenderer  # noqa: E402

_WORDS = (
    "the router picks a model for each prompt and the shell shows which route key and engine it used "
    "before anything is sent so you can see the cost of a request the latency of the first token and "
    "why a fallback was taken when the upstream answered with an overloaded error after three retries "
    "configuration lives in routes yaml and is reloaded before the next prompt without a restart"
).split()

_PY = [
    "def {name}(items: list[str], limit: int = 10) -> dict[str, int]:",
    '    """Count how often each item appears, keeping the {limit} most common."""',
    "    counts: dict[str, int] = {{}}",
    "    for item in items:",
    "        counts[item] = counts.get(item, 0) + 1  # tally",
    "    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))",
    "    return dict(ranked[:limit])",
    "",
    "class {cls}:",
    "    def __init__(self, path: str) -> None:",
    "        self.path = path",
    "        self._cache: dict[str, bytes] = {{}}",
    "",
    "    async def fetch(self, key: str) -> bytes | None:",
    "        if key in self._cache:",
    "            return self._cache[key]",
    "        data = await read_file(f\"{{self.path}}/{{key}}\")",
    "        self._cache[key] = data",
    "        return data",
]
_JS = [
    "export async function {name}(url, options = {{}}) {{",
    "  const controller = new AbortController();",
    "  const timer = setTimeout(() => controller.abort(), options.timeout ?? 5000);",
    "  try {{",
    "    const res = await fetch(url, {{ ...options, signal: controller.signal }});",
    "    if (!res.ok) throw new Error(`HTTP ${{res.status}}: ${{res.statusText}}`);",
    "    return await res.json();",
    "  }} finally {{",
    "    clearTimeout(timer); // always clear",
    "  }}",
    "}}",
    "",
    "const {cls} = items.filter((x) => x.enabled).map((x) => ({{ id: x.id, name: x.name }}));",
]
_SH = [
    "#!/usr/bin/env bash",
    "set -euo pipefail",
    'for f in "$@"; do',
    '  if [[ -f "$f" ]]; then',
    '    echo "processing $f"',
    "    grep -n 'TODO' \"$f\" | sort -u > \"${{f%.py}}.todo\" || true",
    "  fi",
    "done",
    "export ROUTESH_PROFILE={name}",
    "routesh --dry-run --json \"review {cls}\" | jq .route",
]


def _sentence(rng: random.Random) -> str:
    """One prose sentence with occasional inline markup, as models write them."""
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 22))]
    i = rng.randrange(len(words))
    kind = rng.random()
    if kind < 0.2:
        words[i] = f"`{words[i]}()`"
    elif kind < 0.35:
        words[i] = f"**{words[i]}**"
    elif kind < 0.45:
        words[i] = f"*{words[i]}*"
    elif kind < 0.5:
        words[i] = f"[{words[i]}](https://example.com/{words[i]})"
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random) -> str:
    """A prose paragraph of a few sentences, on one line as models usually emit them."""
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _code(rng: random.Random, long: bool) -> str:
    """A fenced code block in python, js or bash; some are long (hundreds of lines)."""
    lang, lines = rng.choice((("python", _PY), ("js", _JS), ("javascript", _JS), ("bash", _SH)))
    n = rng.randint(120, 400) if long else rng.randint(4, 30)
    name = "fn_" + "".join(rng.choice("abcdefghij") for _ in range(6))
    cls = "Thing" + str(rng.randint(1, 999))
    start = rng.randrange(len(lines))
    body = [lines[(start + k) % len(lines)].format(name=name, cls=cls, limit=rng.randint(3, 30)) for k in range(n)]
    fence = rng.choice(("```", "```", "```", "~~~"))
    return f"{fence}{lang}\n" + "\n".join(body) + f"\n{fence}"


def _list(rng: random.Random) -> str:
    """A bullet or numbered list, sometimes with a code block inside an item."""
    ordered = rng.random() < 0.4
    items = []
    for k in range(rng.randint(3, 8)):
        marker = f"{k + 1}." if ordered else "-"
        item = f"{marker} {_sentence(rng)}"
        if rng.random() < 0.1:
            item += "\n\n   ```bash\n   routesh stats --since 7d\n   ```"
        items.append(item)
    return "\n".join(items)


def make_answer(size: int, seed: int = 7) -> str:
    """A deterministic realistic markdown answer of about `size` characters."""
    rng = random.Random(seed)
    blocks: list[str] = []
    total = 0
    while total < size:
        r = rng.random()
        if r < 0.08:
            block = "#" * rng.randint(1, 3) + " " + _sentence(rng).rstrip(".")
        elif r < 0.45:
            block = _paragraph(rng)
        elif r < 0.6:
            block = _list(rng)
        elif r < 0.62:
            block = _code(rng, long=True)
        else:
            block = _code(rng, long=False)
        blocks.append(block)
        total += len(block) + 2
    return "\n\n".join(blocks) + "\n"


def _console() -> Console:
    """A terminal console that writes to the null device: measures rendering, not the terminal."""
    return Console(file=open(os.devnull, "w", encoding="utf-8"), force_terminal=True, width=100,
                   height=40, color_system="truecolor")


def _cpu(fn: Callable[[], object], repeat: int) -> float:
    """Least CPU seconds over `repeat` calls (GC collected first), so runs do not bill each other."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def measure(text: str, chunks: int, repeat: int = 1, max_fps: float | None = None
            ) -> tuple[float, float, RenderStats]:
    """(streamed CPU s, one-shot CPU s, the stream's counters) for `text` cut into `chunks` equal pieces."""
    step = max(1, -(-len(text) // chunks))
    pieces = [text[i:i + step] for i in range(0, len(text), step)]
    stats: list[RenderStats] = []

    def streamed() -> None:
        renderer = StreamRenderer(_console(), max_fps=max_fps)
        for piece in pieces:
            renderer.feed(piece)
        stats.append(renderer.finish())

    def once() -> None:
        render_markdown_once(_console(), text)

    once()  # warm imports, lexers and style caches for both
    warm = StreamRenderer(_console())
    for i in range(0, min(len(text), 20_000), step):
        warm.feed(text[i:i + step])
    warm.finish()
    return _cpu(streamed, repeat), _cpu(once, repeat), stats[-1]


def main() -> None:
    """Print CPU time of streaming vs one-shot rendering, and the ratio at three sizes."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-kb", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (default 1)")
    parser.add_argument("--fps", type=float, default=None,
                        help="cap live redraws per second (default: no cap, every redraw the throttle allows)")
    args = parser.parse_args()

    text = make_answer(args.size_kb * 1000)
    fences = text.count("```") + text.count("~~~")
    print(f"answer: {len(text):,} chars, {text.count(chr(10)):,} lines, ~{fences // 2} fenced blocks; "
          f"{args.chunks} chunks; console 100x40 writing to {os.devnull}")
    streamed, once, stats = measure(text, args.chunks, args.repeat, args.fps)
    print(f"streamed: {streamed:.3f} s CPU   one-shot: {once:.3f} s CPU   ratio: {streamed / once:.2f}x "
          f"(target < 3x)")
    print(f"  work: {stats.rendered_chars / len(text):.2f} chars rendered per answer char "
          f"({stats.committed_blocks} pieces committed, {stats.live_refreshes} live redraws, "
          f"largest live tail {stats.max_live_chars} chars)")
    print("scaling (same 50-char chunks; a whole-answer re-render per chunk would grow with the size):")
    for kb in (50, 100, 200):
        t = make_answer(kb * 1000)
        s, o, st = measure(t, max(1, len(t) // 50), args.repeat, args.fps)
        print(f"  {kb:>3} KB: streamed {s:.3f} s  one-shot {o:.3f} s  ratio {s / o:.2f}x  "
              f"rendered/char {st.rendered_chars / len(t):.2f}")


if __name__ == "__main__":
    main()
