"""Time to first token: routesh.engines.anthropic_api.stream vs the same anthropic SDK call made
directly, against a local test upstream started here (in its own process). Runs interleaved
(ABBA order) so drift hits both sides alike, and prints medians, the added ms and the ratio.

    python benchmarks/ttft.py [--iterations 400] [--text "..."]

Target (issue 4): routesh adds < 5 ms at the median. Reported, not asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from routesh.core.events import EngineRequest, Message, TextDelta  # noqa: E402
from routesh.engines import anthropic_api  # noqa: E402

MODEL = "claude-sonnet-4-6"
KEY = "sk-bench-not-a-real-key"


def start_upstream(text: str) -> tuple[subprocess.Popen[str], str]:
    """`python -m tests.upstream` on a free port, in its own process; returns it and its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.upstream", "--port", "0", "--text", text],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("upstream listening on "):
        proc.kill()
        raise SystemExit(f"upstream did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1]


def direct_ttft(client: Any) -> float:
    """Seconds to the first text delta with the SDK used directly (stream drained afterwards)."""
    t0 = time.perf_counter()
    first = 0.0
    stream = client.messages.create(model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "hi"}],
                                    stream=True, timeout=30.0)
    with stream:
        for ev in stream:
            if not first and ev.type == "content_block_delta" and ev.delta.type == "text_delta":
                first = time.perf_counter() - t0
    return first


def routesh_ttft(req: EngineRequest) -> float:
    """Seconds to the first TextDelta through routesh's engine (stream drained afterwards)."""
    t0 = time.perf_counter()
    first = 0.0
    for ev in anthropic_api.stream(req):
        if not first and isinstance(ev, TextDelta):
            first = time.perf_counter() - t0
    return first


def sdk_import_ms() -> float:
    """What preload() keeps off the critical path: a cold `import anthropic`, in a fresh process."""
    code = "import time; t=time.perf_counter(); import anthropic; print((time.perf_counter()-t)*1000)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    """Run the comparison and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--text", default="Hello from {model}. " * 5)
    args = ap.parse_args()

    proc, url = start_upstream(args.text)
    try:
        anthropic_api.preload()
        import anthropic

        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=30.0)
        req = EngineRequest(model=MODEL, messages=(Message("user", "hi"),), max_output_tokens=1024,
                            timeout_s=30.0, base_url=url, api_key=KEY)
        sides: dict[str, Callable[[], float]] = {"direct": lambda: direct_ttft(client),
                                                 "routesh": lambda: routesh_ttft(req)}
        for _ in range(args.warmup):
            for run in sides.values():
                run()
        times: dict[str, list[float]] = {"direct": [], "routesh": []}
        for i in range(args.iterations):
            order = ("direct", "routesh") if i % 4 in (0, 3) else ("routesh", "direct")  # ABBA
            for name in order:
                times[name].append(sides[name]() * 1000)
    finally:
        proc.terminate()
        proc.wait(5)

    d, r = times["direct"], times["routesh"]
    md, mr = statistics.median(d), statistics.median(r)
    paired = statistics.median([b - a for a, b in zip(d, r, strict=True)])
    print(f"time to first token, {args.iterations} interleaved iterations each, local upstream at {url}")
    print(f"  {'':8} {'median':>9} {'p10':>9} {'p90':>9}")
    for name, v in (("direct", d), ("routesh", r)):
        print(f"  {name:8} {statistics.median(v):8.3f}ms {pct(v, .1):8.3f}ms {pct(v, .9):8.3f}ms")
    print(f"  routesh adds {mr - md:+.3f} ms at the median (paired median {paired:+.3f} ms), "
          f"ratio {mr / md:.3f}x (target: < 5 ms added)")
    print(f"  SDK import kept off the critical path by preload(): {sdk_import_ms():.0f} ms")


if __name__ == "__main__":
    main()
