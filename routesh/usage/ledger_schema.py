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
    # migration 4 (outcomes): the baseline price and the outcome signals, on the request's first row only
    "baseline_cost_usd", "tool_calls", "failed_tool_calls", "edits", "rejected_edits", "tools", "turn", "prompt_sketch",
)  # fmt: skip

# The `routesh log --json` contract (DESIGN.md), then the extra fields routesh adds.
LOG_FIELDS: tuple[str, ...] = (
    "ts", "request_id", "attempt", "profile", "route", "provider", "model", "via", "status",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
    "latency_ms", "ttft_ms", "error",
)  # fmt: skip
LOG_EXTRA_FIELDS: tuple[str, ...] = ("rule", "tag", "prompt_sha256", "prompt_chars", "session_id", "miss", "miss_note",
                                     "usage_estimated", "baseline_cost_usd")

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
    (
        4,
        "baseline price and outcome signals",
        (
            # what the attempt would have cost on the baseline model, same token counts (core/baseline.py)
            "ALTER TABLE attempts ADD COLUMN baseline_cost_usd REAL",
            # outcome signals (gateway/signals.py), counted once per request on its first recorded row; NULL: not seen
            "ALTER TABLE attempts ADD COLUMN tool_calls INTEGER",
            "ALTER TABLE attempts ADD COLUMN failed_tool_calls INTEGER",
            "ALTER TABLE attempts ADD COLUMN edits INTEGER",
            "ALTER TABLE attempts ADD COLUMN rejected_edits INTEGER",
            "ALTER TABLE attempts ADD COLUMN tools TEXT",  # "Bash=2,Read=1": new tool calls by tool name
            "ALTER TABLE attempts ADD COLUMN turn INTEGER",  # 1: a prompt the user typed; 0: a continuation
            "ALTER TABLE attempts ADD COLUMN prompt_sketch INTEGER",  # 64-bit simhash of a turn's prompt (re-asks)
            "CREATE INDEX IF NOT EXISTS attempts_session ON attempts(session_id, ts)",
        ),
    ),
)
SCHEMA_VERSION = max(m[0] for m in MIGRATIONS)

_INSERT = f"INSERT INTO attempts ({', '.join(COLUMNS)}, extra) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
