"""The usage ledger: rows round-trip, files are private, writes never break a request, crashes lose nothing."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from routesh.core.events import AttemptRecord
from routesh.usage import ledger as ledger_mod
from routesh.usage import stats
from routesh.usage.ledger import COLUMNS, Ledger, LedgerError
from routesh.usage.ledger_schema import LOG_FIELDS

T0 = 1_736_510_400.0  # 2025-01-10T12:00:00Z


def rec(**kw: object) -> AttemptRecord:
    """An attempt with sensible defaults."""
    base: dict[str, object] = dict(
        ts=T0, request_id="req-1", attempt=1, profile="personal", route="default", provider="anthropic",
        model="claude-sonnet-4-6", via="api", status="ok",
    )  # fmt: skip
    base.update(kw)
    return AttemptRecord(**base)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "routesh" / "usage.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, db: Path) -> Path | str:
    """The behaviour tests run on both backends: a SQLite file, and a new database on a throwaway PostgreSQL."""
    if request.param == "sqlite":
        return db
    return str(request.getfixturevalue("pg_url"))


# -- schema and files ---------------------------------------------------------------------------


def test_columns_cover_every_attempt_record_field() -> None:
    names = [f.name for f in dataclasses.fields(AttemptRecord)]
    assert [*COLUMNS, "extra"] == names


def test_default_path_is_the_xdg_ledger(isolated_home: Path) -> None:
    with Ledger() as led:
        assert led.record(rec())
    assert (isolated_home / ".local/share/routesh/usage.db").exists()


def test_migrates_a_new_file_with_private_permissions(db: Path) -> None:
    old = os.umask(0)  # permissions must not depend on the user's umask
    try:
        with Ledger(db) as led:
            assert led.record(rec())
            assert led.schema_version() == ledger_mod.SCHEMA_VERSION
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [v for (v,) in versions] == [m[0] for m in ledger_mod.MIGRATIONS]


def test_wal_and_shm_files_are_private_too(db: Path) -> None:
    led = Ledger(db)
    assert led.record(rec())
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        assert side.exists()
        assert stat.S_IMODE(side.stat().st_mode) == 0o600
    led.close()


def test_existing_directories_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    with Ledger(shared / "u.db") as led:
        led.record(rec())
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_migration_from_an_empty_file(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.touch()
    with Ledger(db) as led:
        assert led.count() == 0
        assert led.record(rec())
        assert led.count() == 1


def test_reopening_does_not_reapply_migrations(target: Path | str) -> None:
    with Ledger(target) as led:
        led.record(rec())
    with Ledger(target) as led:
        assert led.count() == 1
        assert led.select("SELECT COUNT(*) FROM schema_migrations")[0][0] == len(ledger_mod.MIGRATIONS)


def test_a_new_migration_applies_in_order_and_keeps_rows(target: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger(target) as led:
        led.record(rec(request_id="old"))
    extra = (ledger_mod.SCHEMA_VERSION + 1, "test column", ("ALTER TABLE attempts ADD COLUMN test_col TEXT",))
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", (*ledger_mod.MIGRATIONS, extra))
    monkeypatch.setattr(ledger_mod, "SCHEMA_VERSION", extra[0])
    with Ledger(target) as led:
        assert led.schema_version() == extra[0]
        assert [r["request_id"] for r in led.recent()] == ["old"]
        assert led.select("SELECT test_col FROM attempts") == [(None,)]


def test_wal_and_normal_sync_on_the_connection(db: Path) -> None:
    led = Ledger(db)
    led.record(rec())
    conn = led._connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    led.close()


# -- rows ---------------------------------------------------------------------------------------

STATUS_ROWS = [
    rec(request_id="a", status="ok", input_tokens=1000, output_tokens=500, cache_read_tokens=2000,
        cache_write_tokens=4000, cost_usd=0.0261, latency_ms=1234.5, ttft_ms=210.0, rule="prefix /debug", tag="ci",
        prompt_sha256="ab" * 32, prompt_chars=42, prompt="fix the failing test", session_id="s1",
        extra={"stop_reason": "end_turn"}),
    rec(ts=T0 + 1, request_id="b", status="error", error="HTTP 529 overloaded", latency_ms=80.0),
    rec(ts=T0 + 2, request_id="b", attempt=2, route="quick", model="claude-haiku-4-5", status="partial",
        input_tokens=10, output_tokens=3, cost_usd=0.000025, latency_ms=900.0, ttft_ms=300.0, error="stream cut"),
    rec(ts=T0 + 3, request_id="c", status="refused", error="provider openai not allowed in profile work"),
    rec(ts=T0 + 4, request_id="d", status="cancelled", input_tokens=50, output_tokens=0, cost_usd=0.00015),
]  # fmt: skip


def test_rows_for_every_status_round_trip_in_log_json_shape(target: Path | str) -> None:
    with Ledger(target) as led:
        for r in STATUS_ROWS:
            assert led.record(r)
        rows = led.recent(10)
    assert [r["status"] for r in rows] == ["cancelled", "refused", "partial", "error", "ok"]  # newest first
    for row in rows:
        for name in LOG_FIELDS:
            assert name in row
        for name in ("rule", "tag", "prompt_sha256", "prompt_chars"):
            assert name in row
        assert "prompt" not in row
        json.dumps(row)  # serialisable as is
    ok = rows[-1]
    assert ok["ts"] == "2025-01-10T12:00:00.000+00:00"
    assert datetime.fromisoformat(ok["ts"]) == datetime.fromtimestamp(T0, UTC)
    assert (ok["input_tokens"], ok["output_tokens"], ok["cache_read_tokens"], ok["cache_write_tokens"]) == (
        1000,
        500,
        2000,
        4000,
    )
    assert ok["cost_usd"] == pytest.approx(0.0261)
    assert (ok["latency_ms"], ok["ttft_ms"]) == (1234.5, 210.0)
    assert (ok["rule"], ok["tag"], ok["prompt_chars"], ok["session_id"]) == ("prefix /debug", "ci", 42, "s1")
    assert ok["miss"] is False
    partial = rows[2]
    assert (partial["attempt"], partial["route"], partial["error"]) == (2, "quick", "stream cut")
    refused = rows[1]
    assert refused["cost_usd"] is None and refused["input_tokens"] is None


def test_prompt_text_only_when_asked(target: Path | str) -> None:
    with Ledger(target) as led:
        led.record(STATUS_ROWS[0])
        led.record(rec(ts=T0 + 1, request_id="no-prompt"))
        rows = led.recent(include_prompt=True)
    assert [r["prompt"] for r in rows] == [None, "fix the failing test"]


def test_extra_is_stored_as_json(target: Path | str) -> None:
    with Ledger(target) as led:
        led.record(STATUS_ROWS[0])
        ((extra,),) = led.select("SELECT extra FROM attempts")
    assert json.loads(extra) == {"stop_reason": "end_turn"}


def test_key_shaped_strings_in_errors_are_masked(target: Path | str) -> None:
    key = "sk-ant-api03-" + "x" * 40
    with Ledger(target) as led:
        led.record(rec(status="error", error=f"401 invalid x-api-key {key} (Bearer abcdefghijklmnopqrstuvwxyz)"))
        (row,) = led.recent()
    assert key not in row["error"] and "abcdefghijklmnopqrstuvwxyz" not in row["error"]
    assert "401 invalid x-api-key" in row["error"]
    if isinstance(target, Path):
        assert key.encode() not in target.read_bytes()  # closed: the WAL has been checkpointed into the file


def test_recent_filters(target: Path | str) -> None:
    with Ledger(target) as led:
        for i in range(30):
            led.record(rec(ts=T0 + i, request_id=f"r{i}", route="quick" if i % 3 == 0 else "default",
                           profile="work" if i % 2 else "personal"))  # fmt: skip
        assert len(led.recent()) == 20
        assert len(led.recent(5)) == 5
        assert led.recent(0) == []
        assert len(led.recent(None)) == 30
        assert {r["route"] for r in led.recent(100, route="quick")} == {"quick"}
        assert len(led.recent(100, route="quick")) == 10
        assert [r["request_id"] for r in led.recent(100, since=T0 + 27)] == ["r29", "r28", "r27"]
        since_dt = datetime.fromtimestamp(T0 + 27, UTC)
        assert len(led.recent(100, since=since_dt)) == 3
        assert {r["profile"] for r in led.recent(100, profile="work")} == {"work"}
        assert len(led.recent(100, route="quick", profile="work")) == 5
        with pytest.raises(ValueError):
            led.recent(-1)
        with pytest.raises(ValueError):
            led.recent(5, since=datetime(2025, 1, 1))  # naive


def test_spent_sums_known_costs_per_profile_since(target: Path | str) -> None:
    with Ledger(target) as led:
        led.record(rec(ts=T0 - 100, cost_usd=1.0))  # before the window
        led.record(rec(ts=T0, cost_usd=0.25))
        led.record(rec(ts=T0 + 1, cost_usd=0.5, status="partial"))
        led.record(rec(ts=T0 + 2, cost_usd=None, status="error", input_tokens=10))  # unknown price: not counted
        led.record(rec(ts=T0 + 2, cost_usd=None, status="error", input_tokens=None, output_tokens=None))  # $0
        led.record(rec(ts=T0 + 3, cost_usd=9.0, profile="work"))
        assert led.spent("personal", T0) == pytest.approx(0.75)
        assert led.spent("personal", datetime.fromtimestamp(T0, UTC)) == pytest.approx(0.75)
        assert led.spent("personal", T0 - 1000) == pytest.approx(1.75)
        assert led.spent("personal", T0, T0 + 1) == pytest.approx(0.25)
        assert led.spent("work", T0) == pytest.approx(9.0)
        assert led.spent(None, T0) == pytest.approx(9.75)
        assert led.spent("nobody", T0) == 0.0
        assert led.unpriced("personal", T0) == 1


def test_mark_miss(target: Path | str) -> None:
    with Ledger(target) as led:
        assert led.mark_miss() is None  # nothing to mark yet
        led.record(rec(ts=T0, request_id="aaaa-1111"))
        led.record(rec(ts=T0 + 1, request_id="bbbb-2222"))
        led.record(rec(ts=T0 + 2, request_id="bbbb-2222", attempt=2))
        led.record(rec(ts=T0 + 3, request_id="cccc-3333", profile="work"))
        assert led.mark_miss(note="should have been quick") == "cccc-3333"
        assert led.mark_miss(profile="personal") == "bbbb-2222"
        assert led.mark_miss("aaaa", note="prefix works") == "aaaa-1111"
        with pytest.raises(LedgerError, match="no request"):
            led.mark_miss("zzzz")
        led.record(rec(ts=T0 + 4, request_id="aaab-4444"))
        with pytest.raises(LedgerError, match="ambiguous"):
            led.mark_miss("aaa")
        assert led.mark_miss("cccc-3333") == "cccc-3333"  # again, no note: the old note stays
        rows = {(r["request_id"], r["attempt"]): r for r in led.recent(None)}
    assert rows[("cccc-3333", 1)]["miss"] and rows[("cccc-3333", 1)]["miss_note"] == "should have been quick"
    assert rows[("bbbb-2222", 1)]["miss"] and rows[("bbbb-2222", 2)]["miss"]
    assert rows[("aaaa-1111", 1)]["miss_note"] == "prefix works"
    assert not rows[("aaab-4444", 1)]["miss"]


def test_rows_since_for_stats(target: Path | str) -> None:
    with Ledger(target) as led:
        for r in STATUS_ROWS:
            led.record(r)
        led.mark_miss("a")
        rows = led.rows_since(T0 + 1)
        assert [r["request_id"] for r in rows] == ["b", "b", "c", "d"]  # oldest first
        assert isinstance(rows[0]["ts"], float)
        everything = led.rows_since(None)
        assert everything[0]["miss"] == 1 and not everything[1]["miss"]


# -- failures never reach the request ------------------------------------------------------------


def test_record_never_raises_and_warns_once(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    err = io.StringIO()
    led = Ledger(blocker / "usage.db", warn=err)
    assert led.record(rec()) is False
    assert led.record(rec()) is False
    assert led.failures == 2 and not led.ok
    assert led.last_error
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "usage not recorded" in lines[0] and "answers are unaffected" in lines[0]


def test_record_survives_bad_values_and_keeps_working(target: Path | str) -> None:
    err = io.StringIO()
    with Ledger(target, warn=err) as led:
        assert led.record(rec(status="bogus")) is False  # type: ignore[arg-type]  # CHECK constraint
        assert led.record("not a record") is False  # type: ignore[arg-type]
        assert led.record(rec()) is True
        assert led.count() == 1
        assert led.failures == 2
    assert len(err.getvalue().splitlines()) == 1


def test_record_survives_a_closed_stderr(tmp_path: Path) -> None:
    stream = io.StringIO()
    stream.close()
    led = Ledger(tmp_path / "f" / "x.db", warn=stream)
    (tmp_path / "f").write_text("file")
    assert led.record(rec()) is False


def test_corrupt_file_reads_fail_clearly_and_writes_do_not_raise(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not sqlite" * 100)
    led = Ledger(db, warn=io.StringIO())
    assert led.record(rec()) is False
    with pytest.raises(LedgerError, match="move the file aside"):
        led.recent()


# -- crashes and concurrency ----------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys, time
    from routesh.usage.ledger import Ledger
    from routesh.core.events import AttemptRecord
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    prompt = "x" * int(sys.argv[4])
    go = sys.argv[5] if len(sys.argv) > 5 else None
    if go:
        import os
        while not os.path.exists(go):
            time.sleep(0.001)
    led = Ledger(path)
    i = 0
    while n < 0 or i < n:
        ok = led.record(AttemptRecord(ts=time.time(), request_id=f"{tag}-{i}", attempt=1, profile="p", route="default",
                                      provider="anthropic", model="m", via="api", status="ok", input_tokens=i,
                                      cost_usd=0.001, prompt=prompt, prompt_chars=len(prompt)))
        if not ok:
            print("FAIL", led.last_error, flush=True)
            sys.exit(1)
        i += 1
        print(i, flush=True)
    """
)


@pytest.mark.timeout(60)
def test_kill_9_mid_write_leaves_a_readable_database(db: Path) -> None:
    db.parent.mkdir(parents=True)
    expected_min = 0
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db), f"k{round_}", "-1", "60000"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        target = random.randint(30, 120)
        seen = 0
        for line in proc.stdout:
            seen = int(line)
            if seen >= target:
                break
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()  # what the reader had buffered plus the pipe, up to the child's death
        assert proc.wait(timeout=10) == -signal.SIGKILL
        acknowledged = int(rest.split()[-1]) if rest.split() else seen
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = conn.execute("SELECT COUNT(*) FROM attempts WHERE request_id LIKE ?", (f"k{round_}-%",)).fetchone()[0]
        # Every acknowledged row is there; at most the one in flight (committed, not yet printed) extra.
        assert acknowledged <= n <= acknowledged + 1
        torn = conn.execute(
            "SELECT COUNT(*) FROM attempts WHERE length(prompt) != 60000 OR prompt_chars != 60000"
        ).fetchone()[0]
        assert torn == 0
        conn.close()
        expected_min += acknowledged
    with Ledger(db) as led:
        assert led.count() >= expected_min
        assert led.recent(1)[0]["request_id"].startswith("k2-")


@pytest.mark.timeout(90)
def test_two_processes_write_at_once_without_losing_rows(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "usage.db"  # both race to create and migrate it too
    go = tmp_path / "go"
    n = 1500
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(db), tag, str(n), "200", str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("p1", "p2")
    ]  # fmt: skip
    time.sleep(0.3)  # let both interpreters start and wait at the gate
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=80)
        assert p.returncode == 0, (out[-500:], err[-2000:])
        assert "FAIL" not in out
    with Ledger(db) as led:
        assert led.count() == 2 * n
        ids = {r["request_id"] for r in led.recent(None)}
    assert ids == {f"{t}-{i}" for t in ("p1", "p2") for i in range(n)}


def test_threads_share_one_ledger(target: Path | str) -> None:
    led = Ledger(target)
    results: list[bool] = []

    def work(t: int) -> None:
        for i in range(100):
            results.append(led.record(rec(request_id=f"t{t}-{i}", ts=T0 + i)))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results) and len(results) == 400
    assert led.count() == 400
    led.close()


# -- stats in SQL agree with the pure aggregation --------------------------------------------------


def test_ledger_stats_match_pure_aggregate(target: Path | str) -> None:
    rnd = random.Random(7)
    models = ["claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5", "local-llm"]
    prices = {"claude-opus-4-7": 5.0, "claude-sonnet-4-6": 3.0, "claude-haiku-4-5": 1.0}
    with Ledger(target) as led:
        for i in range(600):
            rid = f"r{i // 2}"
            led.record(rec(
                ts=T0 + rnd.uniform(0, 6 * 86400), request_id=rid, attempt=i % 2 + 1,
                route=rnd.choice(["default", "quick", "architect"]), profile=rnd.choice(["personal", "work"]),
                model=rnd.choice(models),
                status=rnd.choice(["ok", "ok", "ok", "error", "partial", "refused", "cancelled"]),
                cost_usd=rnd.choice([None, rnd.uniform(0, 0.1)]), latency_ms=rnd.choice([None, rnd.uniform(10, 5000)]),
                ttft_ms=rnd.choice([None, rnd.uniform(5, 900)]),
            ))  # fmt: skip
        for j in range(0, 300, 17):
            led.mark_miss(f"r{j}")
        for by in stats.BY_CHOICES:
            for since in (None, T0 + 2 * 86400):
                fast = led.stats(since, by, input_price=prices.get)
                pure = stats.aggregate(led.rows_since(since), by, input_price=prices.get,
                                       since=None if since is None else datetime.fromtimestamp(since, UTC))  # fmt: skip
                assert _approx_dict(fast.as_dict()) == pure.as_dict()
                assert fast.total.requests > 0


def _approx_dict(d: object) -> object:
    """Floats compared approximately (SQL and Python sum in different orders)."""
    if isinstance(d, dict):
        return {k: _approx_dict(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_approx_dict(v) for v in d]
    if isinstance(d, float):
        return pytest.approx(d, abs=1e-6)
    return d


def test_checkpoint_when_idle(db: Path) -> None:
    led = Ledger(db)
    assert led.checkpoint() is False  # nothing open yet
    led.record(rec())
    assert led.checkpoint() is True
    led.close()


def test_ledger_and_stats_do_not_import_rich() -> None:
    code = "import sys, routesh.usage.ledger, routesh.usage.stats, routesh.core.cost; print('rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stats_reads_a_wide_window_in_order_and_a_narrow_one_by_index_with_the_same_answer(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(7)
    with ledger_mod.Ledger(db) as led:
        for i in range(400):
            ok = rnd.random() < 0.8
            led.record(rec(ts=T0 + i * 3600, request_id=f"r{i // 2}", attempt=i % 2 + 1, status="ok" if ok else "error",
                           route=rnd.choice(["default", "cheap"]), input_tokens=10, output_tokens=5,
                           cost_usd=rnd.random() if ok else None, latency_ms=100.0))
        narrow, wide = T0 + 390 * 3600, T0 + 100 * 3600
        assert not led._wide(narrow) and led._wide(wide) and led._wide(None)
        for since in (narrow, wide, None):  # each window read both ways gives the same report
            monkeypatch.setattr(type(led), "_wide", lambda self, since: False)
            by_index = led.stats(since)
            monkeypatch.setattr(type(led), "_wide", lambda self, since: True)
            assert led.stats(since) == by_index
            monkeypatch.undo()
