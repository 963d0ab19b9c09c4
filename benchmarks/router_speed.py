"""Router decision time: 1 KB prompt with 100 keyword rules (target < 50 µs) and a 1 MB prompt (< 20 ms).

Also prints the cost of one pass of `str.lower()` over the same text as a same-run baseline.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime

from routesh.core.configfile import parse
from routesh.core.router import decide

WORDS = ("the parser fails when the input has a trailing comma and the test suite reports an error in "
         "module config loading while the worker restarts after a timeout def class return import").split()


def config_with_rules(n: int):  # type: ignore[no-untyped-def]
    rules = "\n".join(f"  - {{keywords: [kw{i}alpha, phrase number {i}], route: r{i % 5}}}" for i in range(n))
    routes = "\n".join(f"  r{i}: {{provider: a, model: m}}" for i in range(5))
    return parse(f"providers: {{a: {{type: anthropic}}}}\nroutes:\n  default: {{provider: a, model: m}}\n{routes}\n"
                 f"rules:\n{rules}\n  - {{min_tokens: 100000, route: r1}}\n", "bench.yaml")


def text_of(size: int, rng: random.Random) -> str:
    out: list[str] = []
    n = 0
    while n < size:
        w = rng.choice(WORDS)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:size]


def bench(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    rng = random.Random(7)
    cfg = config_with_rules(100)
    now = datetime(2026, 1, 1, 12)
    small, big = text_of(1024, rng), text_of(1024 * 1024, rng)
    decide(small, cfg, now)  # compile the rules once, as a running shell would have
    t_small = bench(lambda: decide(small, cfg, now), 2000)
    t_big = bench(lambda: decide(big, cfg, now), 30)
    base_big = bench(lambda: big.lower(), 30)
    print(f"1 KB, 100 keyword rules: {t_small * 1e6:8.1f} µs   (target < 50 µs)")
    print(f"1 MB, 100 keyword rules: {t_big * 1e3:8.2f} ms   (target < 20 ms); "
          f"{t_big / base_big:.1f}x one str.lower() pass over the same text ({base_big * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
