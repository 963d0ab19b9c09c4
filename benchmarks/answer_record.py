"""Benchmark: what keeping the answer (log_prompts) adds to recording an attempt, as a ratio to a row without text.

Run: python benchmarks/answer_record.py [--records 400]

Three kinds of row are written one by one into fresh WAL ledgers in a temp dir, interleaved so load
on the machine hits them alike: no text (a `log_prompts: false` profile), a 200-character prompt with
a 2 KB answer (a typical chat turn), and a 64 KB answer (the cap). Every kept text is screened and
redacted on the way in (kept.py), which is most of the cost. Figures are medians, printed as ratios
to the no-text row measured in the same run, with the absolute median alongside for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routesh.core.answers import ANSWER_CAP  # noqa: E402
from routesh.core.events import AttemptRecord  # noqa: E402
from routesh.usage.ledger import Ledger  # noqa: E402

PROMPT = "Why does the billing test fail on CI but pass locally? The fixture loads rates from disk. " * 2
ANSWER = ("The fixture reads `rates.json` relative to the working directory; CI runs pytest from the repo "
          "root, so the path resolves elsewhere. Use `Path(__file__).parent / 'rates.json'`.\n\n") * 10


def row(i: int, prompt: str | None, answer: str | None) -> AttemptRecord:
    return AttemptRecord(ts=time.time(), request_id=f"{i:016x}", attempt=1, profile="personal", route="default",
                         provider="anthropic", model="claude-sonnet-4-6", via="api", status="ok", input_tokens=1200,
                         output_tokens=300, cost_usd=0.0081, latency_ms=2100.0, ttft_ms=640.0, prompt=prompt,
                         prompt_chars=len(prompt or ""), session_id="conv", answer=answer)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=400)
    n = ap.parse_args().records
    kinds = {"no text": (None, None), "prompt + 2 KB answer": (PROMPT, ANSWER[:2048]),
             "64 KB answer (the cap)": (PROMPT, (ANSWER * 40)[:ANSWER_CAP])}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        ledgers = {k: Ledger(Path(tmp) / f"{i}.db") for i, k in enumerate(kinds)}
        for k, led in ledgers.items():
            led.record(row(-1 & 0xFFFF, *kinds[k]))  # open and migrate outside the timing
        for i in range(n):
            for k, (prompt, answer) in kinds.items():
                rec = row(i, prompt, answer)
                t0 = time.perf_counter()
                ledgers[k].record(rec)
                times[k].append((time.perf_counter() - t0) * 1e6)
        for led in ledgers.values():
            led.close()
    base = statistics.median(times["no text"])
    for k, us in times.items():
        med = statistics.median(us)
        print(f"{k:<24} {med / base:6.1f}x the no-text row   (median {med:,.0f} µs over {len(us)} records)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
