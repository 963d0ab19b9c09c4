"""Fast offline token estimate: close to a real BPE count (cl100k/o200k) at a few ms per MB.

How it works (details and measurements in docs/tokens.md). A BPE tokenizer first cuts text
into pieces at changes of character class (a run of letters, a run of digits, a run of
punctuation, a run of spaces, a newline...), then splits long or rare pieces further. So the
token count is well predicted by the number of *run starts* of each class plus a small cost
per character. Both are counted with C-speed primitives only, never a Python loop per
character:

1. ``bytes.translate`` maps every UTF-8 byte to a bit mask of its classes;
2. the masks, read as one big integer ``x``, give every run start at once:
   ``x & ~(x << 8)`` keeps a class bit only where the previous byte lacks it;
3. a second ``bytes.translate`` turns each start mask into a byte with as many set bits as
   that kind of start is worth (in units of ``_UNIT`` tokens), and ``int.bit_count`` adds
   them all up.

The text is processed in 64 KiB slices so the working buffers stay in the CPU cache (twice
as fast on 1 MB as one big slice); each slice re-reads one byte of its predecessor so a run
crossing the seam is not counted twice, making the result independent of the slicing.
"""

from __future__ import annotations

from typing import Final

__all__ = ["estimate_tokens"]

# Character classes: one bit each in the first-stage mask of a byte.
_LETTER: Final = 1 << 0  # ASCII letter
_UPPER: Final = 1 << 1  # ASCII upper-case letter (also has _LETTER)
_DIGIT: Final = 1 << 2
_PUNCT: Final = 1 << 3  # any other ASCII byte that is not white space
_SPACE: Final = 1 << 4  # space, tab, form feed, vertical tab
_NEWLINE: Final = 1 << 5  # \n or \r
_NON_ASCII: Final = 1 << 6  # any byte of a multi-byte UTF-8 character

# Fitted against cl100k_base and o200k_base on ~300 files (stdlib Python, npm JavaScript,
# C headers, English docs and licences, package READMEs): see benchmarks/tokens_accuracy.py.
_UNIT: Final = 0.2  # tokens per set bit in the second stage
_START_UNITS: Final[dict[int, int]] = {  # start mask -> units (at most 8: one byte's bits)
    _LETTER | _UPPER: 2,  # a capitalised word or identifier: 0.4 extra tokens
    _DIGIT: 8,  # a number: 1.6 (BPE splits digits into groups of three)
    _PUNCT: 3,  # a run of punctuation: 0.6
    _SPACE: 3,  # a run of spaces, i.e. roughly one per word or indentation: 0.6
    _NEWLINE: 2,  # a run of newlines: 0.4
}
_PER_CHAR: Final = 0.0969  # every character: long words and long runs cost more
_PER_EXTRA_UTF8_BYTE: Final = 0.35  # non-ASCII: ~0.35 per Cyrillic char, ~0.7 per CJK char

_SLICE: Final = 64 * 1024


def _class_table() -> bytes:
    """Map each byte value to its class mask (first stage)."""
    table = bytearray(256)
    for value in range(256):
        char = chr(value)
        if value >= 0x80:
            mask = _NON_ASCII
        elif char.isalpha():
            mask = _LETTER | (_UPPER if char.isupper() else 0)
        elif char.isdigit():
            mask = _DIGIT
        elif char in "\n\r":
            mask = _NEWLINE
        elif char in " \t\f\v":
            mask = _SPACE
        else:
            mask = _PUNCT
        table[value] = mask
    return bytes(table)


def _weight_table() -> bytes:
    """Map each run-start mask to a byte whose popcount is its weight in units (second stage)."""
    return bytes((1 << _START_UNITS[mask]) - 1 if mask in _START_UNITS else 0 for mask in range(256))


_CLASSES: Final = _class_table()
_WEIGHTS: Final = _weight_table()
# Units a byte scores when it starts a slice, to undo the seam's re-read byte.
_LEAD_UNITS: Final = tuple(_WEIGHTS[_CLASSES[value]].bit_count() for value in range(256))


def _start_units(data: bytes) -> int:
    """Sum the weights of all class-run starts in ``data``, in units of ``_UNIT`` tokens."""
    total = 0
    for offset in range(0, len(data), _SLICE):
        lead = offset - 1 if offset else 0
        piece = data[lead : offset + _SLICE]
        masks = int.from_bytes(piece.translate(_CLASSES), "little")
        starts = masks ^ (masks & (masks << 8))
        total += int.from_bytes(starts.to_bytes(len(piece), "little").translate(_WEIGHTS), "little").bit_count()
        if offset:
            total -= _LEAD_UNITS[data[lead]]
    return total


SAMPLE_ABOVE: Final = 512 * 1024  # characters; longer texts are estimated from evenly spaced windows
_WINDOWS: Final = 64
_WINDOW: Final = 4096


def estimate_tokens(text: str) -> int:
    """Estimate the BPE token count of ``text`` (±15% on English and code) without a tokenizer.

    Texts over SAMPLE_ABOVE characters are estimated from 64 evenly spaced 4 KiB windows, scaled up:
    the router sees multi-megabyte pastes, and a whole pass would cost more than the decision.
    """
    if not text:
        return 0
    if len(text) > SAMPLE_ABOVE:
        step = len(text) // _WINDOWS
        windows = [text[i * step : i * step + _WINDOW] for i in range(_WINDOWS)]
        sampled = sum(_exact(w) for w in windows)
        return max(1, round(sampled * len(text) / sum(map(len, windows))))
    return max(1, round(_exact(text)))


def _exact(text: str) -> float:
    """The full-pass estimate, unrounded."""
    data = text.encode("utf-8", "surrogatepass")
    return _start_units(data) * _UNIT + len(text) * _PER_CHAR + (len(data) - len(text)) * _PER_EXTRA_UTF8_BYTE
