"""The gateway's batching ledger writer: rows arrive without close(), together, and large prompts are capped."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from test_gateway_server import GW, msg
from test_gateway_server import gw as gw  # noqa: F401 - fixture
from upstream import upstream_fixture  # noqa: F401 - fixture

from routesh.core.events import AttemptRecord
from routesh.gateway import ledger_writer
from routesh.gateway.ledger_writer import LedgerWriter
from routesh.gateway.records import PROMPT_CAP, capped


def row(i: int) -> AttemptRecord:
    return AttemptRecord(ts=time.time(), request_id=f"r{i:04d}", attempt=1, profile="p", route="r", provider="x",
                         model="m", via="gateway", status="ok", cost_usd=0.001)


def count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM attempts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_rows_are_written_within_the_flush_interval_without_close(tmp_path: Path) -> None:
    w = LedgerWriter(str(tmp_path / "u.db"))
    try:
        for i in range(50):
            w.record(row(i))
        deadline = time.monotonic() + ledger_writer.FLUSH_S * 8 + 2
        while count(tmp_path / "u.db") < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert count(tmp_path / "u.db") == 50 and w.pending == 0
    finally:
        w.close()


def test_many_rows_wake_the_writer_early_and_all_are_kept(tmp_path: Path) -> None:
    w = LedgerWriter(str(tmp_path / "u.db"))
    for i in range(ledger_writer.FLUSH_ROWS * 3 + 7):
        w.record(row(i))
    w.close()
    assert count(tmp_path / "u.db") == ledger_writer.FLUSH_ROWS * 3 + 7


def test_an_unusable_ledger_drops_rows_and_says_so_once(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    w = LedgerWriter(str(blocker / "sub" / "u.db"))
    for i in range(5):
        w.record(row(i))
    w.close()
    err = capfd.readouterr().err
    assert w.pending == 0 and err.count("usage not recorded") == 1 and "Traceback" not in err


def test_capped_prompt_keeps_short_ones_whole() -> None:
    assert capped("short") == "short"
    long = "x" * (PROMPT_CAP + 500)
    out = capped(long)
    assert out.startswith("x" * PROMPT_CAP) and "500 more characters not stored" in out and len(out) < PROMPT_CAP + 60


def test_the_gateway_stores_a_1_mb_prompt_capped_with_its_full_length_and_hash(gw: GW) -> None:  # noqa: F811
    text = "word " * 200_000
    status, _, _ = gw.post(msg(text))
    assert status == 200
    (r,) = gw.rows()
    assert r["prompt_chars"] == len(text) and len(r["prompt_sha256"]) == 64
    assert len(r["prompt"]) < PROMPT_CAP + 60
