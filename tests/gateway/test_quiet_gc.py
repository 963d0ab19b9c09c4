"""`routesh serve` tunes the cyclic collector for many short-lived objects, and cycles are still collected."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import gc, weakref
from routesh.gateway.server import GC_YOUNG, quiet_gc

startup = [{"config": i} for i in range(1000)]  # what the gateway holds for its lifetime
quiet_gc()
assert gc.get_threshold()[0] == GC_YOUNG, gc.get_threshold()
assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()

class Node:
    pass

gone = []
def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    weakref.finalize(a, gone.append, 1)

for _ in range(50):
    cycle()
churn = [[i] for i in range(3 * GC_YOUNG)]  # a busy gateway's allocations: the young collection runs by itself
print(len(gone))
"""


def test_serve_freezes_startup_and_still_collects_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == 50  # no explicit gc.collect(): the raised threshold was still reached
