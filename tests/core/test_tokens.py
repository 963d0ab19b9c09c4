"""routesh.core.tokens: the estimate is exact about its own arithmetic and within ±15% of real BPE counts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routesh.core import tokens
from routesh.core.tokens import estimate_tokens

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark() -> ModuleType:
    """Import benchmarks/tokens_accuracy.py, which owns the corpus and the reference tokenizer."""
    path = ROOT / "benchmarks" / "tokens_accuracy.py"
    spec = importlib.util.spec_from_file_location("tokens_accuracy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("tokens_accuracy", module)
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


def _unsliced_units(data: bytes) -> int:
    """The start-weight sum computed in one piece, to check that slicing changes nothing."""
    masks = int.from_bytes(data.translate(tokens._CLASSES), "little")
    starts = masks ^ (masks & (masks << 8))
    return int.from_bytes(starts.to_bytes(len(data), "little").translate(tokens._WEIGHTS), "little").bit_count()


def test_empty_is_zero_and_anything_else_at_least_one() -> None:
    assert estimate_tokens("") == 0
    for text in ("a", " ", "\n", "?", "\x00", "é", "\ud800", "😀"):
        assert estimate_tokens(text) >= 1


def test_ordinary_sentences_are_in_the_right_range() -> None:
    # Reference counts (cl100k_base): 10 and 19 tokens; short texts get a looser ±30%.
    assert 7 <= estimate_tokens("Please fix the failing test in the billing module.") <= 13
    assert 14 <= estimate_tokens("def add(a: int, b: int) -> int:\n    return a + b\n") <= 24


def test_slicing_at_64k_boundaries_changes_nothing() -> None:
    line = "    value_42 = compute(Alpha, beta)  # résumé 日本\n"
    for size in (tokens._SLICE - 1, tokens._SLICE, tokens._SLICE + 1, 3 * tokens._SLICE + 17):
        text = (line * (size // len(line) + 2))[:size]
        data = text.encode("utf-8", "surrogatepass")
        assert tokens._start_units(data) == _unsliced_units(data)


def test_a_seam_inside_a_run_is_not_counted_twice() -> None:
    text = "x" * (tokens._SLICE - 3) + "1234567" + "y" * 10
    data = text.encode()
    assert tokens._start_units(data) == _unsliced_units(data)


def test_estimate_grows_with_the_text() -> None:
    para = "The router decides which model handles each prompt, and says why. "
    counts = [estimate_tokens(para * n) for n in (1, 10, 100, 1000)]
    assert counts == sorted(counts)
    assert counts[3] == pytest.approx(1000 * counts[0], rel=0.15)


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_never_raises_on_arbitrary_text(text: str) -> None:
    n = estimate_tokens(text)
    assert isinstance(n, int)
    assert (n == 0) == (text == "")
    assert n <= 4 * len(text.encode("utf-8", "surrogatepass")) + 1


@given(st.text(alphabet=st.characters(codec="utf-8")), st.text(alphabet=st.characters(codec="utf-8")))
@settings(max_examples=200, deadline=None)
def test_roughly_additive(a: str, b: str) -> None:
    # Joining two texts can merge or split a run at the seam, worth at most a couple of tokens.
    assert abs(estimate_tokens(a + b) - estimate_tokens(a) - estimate_tokens(b)) <= 3


# ----------------------------------------------------------------------------------------------
# Accuracy against a real BPE tokenizer (bpe-openai ships cl100k_base and o200k_base).

try:
    COUNTERS = bench.reference_counters()
except ImportError:
    COUNTERS = None

needs_reference = pytest.mark.skipif(
    COUNTERS is None, reason="reference tokenizer not installed (pip install bpe-openai, in the test extra)")

# A few real files per kind; all of them ship with the Python stdlib or in tests/data.
ACCURACY_FILES = {
    "prose": ["stdlib/LICENSE.txt", "stdlib/idlelib/README.txt", "python reference: compound",
              "python reference: execmodel"],
    "python": ["stdlib/argparse.py", "stdlib/dataclasses.py", "stdlib/json/decoder.py", "stdlib/textwrap.py"],
    "js": ["tests/data/tokens/semver-range.js", "tests/data/tokens/semver-semver.js", "tests/data/tokens/ini.js"],
}


def _samples() -> list[object]:
    by_name = {s.name: s for s in bench.corpus(include_informational=False)}
    return [by_name[name] for names in ACCURACY_FILES.values() for name in names if name in by_name]


def test_accuracy_corpus_is_there() -> None:
    names = {s.name for s in _samples()}  # type: ignore[attr-defined]
    wanted = {n for names in ACCURACY_FILES.values() for n in names}
    assert names == wanted, f"missing corpus files: {sorted(wanted - names)}"


@needs_reference
@pytest.mark.parametrize("sample", _samples(), ids=lambda s: s.name)
def test_within_15_percent_of_real_bpe(sample: object) -> None:
    assert COUNTERS is not None
    text = sample.text  # type: ignore[attr-defined]
    estimate = estimate_tokens(text)
    for encoding, count in COUNTERS.items():
        reference = count(text)
        assert abs(estimate / reference - 1) <= bench.BOUND, (
            f"{sample.name}: estimate {estimate}, {encoding} {reference}")  # type: ignore[attr-defined]


@needs_reference
def test_pooled_error_per_kind_is_small() -> None:
    assert COUNTERS is not None
    measures = bench.measure(_samples(), COUNTERS)  # type: ignore[arg-type]
    for kind in ACCURACY_FILES:
        ms = [m for m in measures if m.sample.kind == kind]
        for encoding in COUNTERS:
            assert abs(bench.summary(ms, encoding)["pooled"]) <= 0.08, (kind, encoding)


def test_very_long_texts_are_sampled_within_two_percent_of_a_full_pass():
    import sysconfig
    from pathlib import Path

    from routesh.core import tokens

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(stdlib.glob("*.py"))[:120])
    assert len(code) > tokens.SAMPLE_ABOVE
    prose = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text() * 200
    for text in (code, prose, code[:700_000] + prose[:700_000]):
        full = tokens._exact(text)
        assert abs(tokens.estimate_tokens(text) - full) / full < 0.02
