"""The ledger's schema: the attempts table's columns, the `log --json` fields and the migrations, in order.

Kept apart from the store (ledger.py) so a schema change is read and reviewed in one place.
"""

from __future__ import annotations

# Every AttemptRecord field except `extra` (stored as JSON), in table order.
COLUMNS: tuple[str, ...] = (
    "ts", "request_id", "attempt", "profile", "route", "provider", "model", "via", "status",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
    "latency_ms", "ttft_ms", "error", "rule", "prompt_sha256", "prompt_chars", "prompt", "tag", "session_id",
    "answer",
)  # fmt: skip

# The `routesh log --json` contract (DESIGN.md), then the extra fields routesh adds.
LOG_FIELDS: tuple[str, ...] = (
    "ts", "request_id", "attempt", "profile", "route", "provider", "model", "via", "status",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
    "latency_ms", "ttft_ms", "error",
)  # fmt: skip
LOG_EXTRA_FIELDS: tuple[str, ...] = ("rule", "tag", "prompt_sha256", "prompt_chars", "session_id", "miss", "miss_note",
                                     "usage_estimated")

# Numbered schema migrations, applied in order, each in its own transaction. Append; never edit.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "attempts and routing misses",
        (
            """CREATE TABLE attempts (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL,
                request_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                profile TEXT NOT NULL,
                route TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                via TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'partial', 'refused', 'cancelled')),
                input_tokens INTEGER,
                output_tokens INTEGER,
                cache_read_tokens INTEGER,
                cache_write_tokens INTEGER,
                cost_usd REAL,
                latency_ms REAL,
                ttft_ms REAL,
                error TEXT,
                rule TEXT,
                prompt_sha256 TEXT,
                prompt_chars INTEGER,
                prompt TEXT,
                tag TEXT,
                session_id TEXT,
                extra TEXT
            )""",
            "CREATE INDEX attempts_ts ON attempts(ts)",
            "CREATE INDEX attempts_profile_ts ON attempts(profile, ts, cost_usd)",
            "CREATE INDEX attempts_request ON attempts(request_id)",
            """CREATE TABLE misses (
                request_id TEXT PRIMARY KEY,
                ts REAL NOT NULL,
                note TEXT
            )""",
        ),
    ),
    (
        2,
        "answers kept with their prompts (log_prompts), for log --show, -c/--cid and /history",
        (
            "ALTER TABLE attempts ADD COLUMN answer TEXT",
            "CREATE INDEX attempts_session ON attempts(session_id, ts)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_INSERT = f"INSERT INTO attempts ({', '.join(COLUMNS)}, extra) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
