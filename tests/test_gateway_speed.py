"""The gateway's speed work changes no result: fast paths agree with the plain ones, batches store every row."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from routesh.events import AttemptRecord
from routesh.gateway.thinking import _ULTRATHINK, _asks_ultrathink
from routesh.keymask import _SHAPES, _cut, mask_keys
from routesh.ledger import Ledger

# Pieces that start, end or imitate key shapes, in every case, with the characters re.I folds oddly.
PIECES = ["sk-", "sk-ant-api03-", "pk-", "rk-", "ak-", "key_", "key-", "api-", "API_", "gsk_", "xai-", "XAI_",
          "x-api-key: ", "X-API-KEY=", "ghp_", "github_pat_", "xoxb-", "xoxa-", "AKIA", "akia", "AIza", "aiza",
          "bearer ", "Bearer\t", "BEARER  ", "beareR ", "ı", "İ", "ſ", "K", "é", "-", "_", " ", "\n", "x", "xx",
          "A1b2C3d4E5f6G7h8", "0123456789ABCDEF", "abcdefghijklmnop", "ultrathink", "ULTRATHINK", "ultrathİnk",
          "ultrathınk", "ultrathinK", "trath", "ultra think", "'", '"', ":", "=", "."]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=120), st.integers(0, 400))
def test_mask_keys_long_text_path_masks_exactly_what_the_pattern_masks(pieces: list[str], pad: int) -> None:
    text = "y" * pad + "".join(pieces)
    assert mask_keys(text) == _SHAPES.sub(_cut, text)


def test_mask_keys_on_a_long_text_still_cuts_keys_and_keeps_the_rest() -> None:
    text = "x" * 100_000 + " Authorization: Bearer abcdef123456 and sk-ant-api03-SECRETSECRET here; xai-" + "Z" * 20
    out = mask_keys(text, "my-own-secret-value")
    assert "abcdef123456" not in out and "SECRETSECRET" not in out and "Z" * 20 not in out
    assert out.startswith("x" * 100_000) and "Bearer …" in out and "sk-ant-api03-…" in out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=60), st.integers(4097, 4300))
def test_ultrathink_check_on_long_turns_agrees_with_the_pattern(pieces: list[str], pad: int) -> None:
    text = "z" * pad + " ".join(pieces)
    assert _asks_ultrathink(text) == bool(_ULTRATHINK.search(text))


def row(i: int, **kw: object) -> AttemptRecord:
    return AttemptRecord(ts=time.time(), request_id=f"r{i:04d}", attempt=1, profile="p", route="r",  # type: ignore[arg-type]
                         provider="x", model="m", via="gateway", status="ok", cost_usd=0.001, **kw)


def test_record_many_stores_a_batch_in_one_transaction(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "u.db")
    statements: list[str] = []
    ledger._connect().set_trace_callback(statements.append)
    assert ledger.record_many([row(i, prompt=f"prompt {i} sk-ant-api03-abcdefghijkl") for i in range(200)]) == 200
    assert ledger.count() == 200
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT")] == ["BEGIN IMMEDIATE", "COMMIT"]
    stored = [r["prompt"] for r in ledger.recent(200, include_prompt=True)]
    assert all(p is not None and "abcdefghijkl" not in p for p in stored)  # free text scrubbed in batches too
    ledger.close()


def test_record_many_with_a_bad_row_keeps_the_others(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "u.db")
    rows = [row(i) for i in range(5)]
    rows[2] = row(2, tag=["not", "bindable"])
    assert ledger.record_many(rows) == 4
    assert ledger.count() == 4 and ledger.failures == 1
    ledger.close()
