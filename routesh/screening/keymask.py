"""Cut credentials out of text that leaves routesh's hands (errors, logs, ledger rows): one place, one list.

Prompt screening (screen.py) decides what may be *sent*; this masks what comes *back* or is *kept*.
"""

from __future__ import annotations

import re

_SHAPES = re.compile(
    r"(?i:(bearer\s+))[A-Za-z0-9._~+/=-]{6,}"  # Authorization values
    r"|\b((?:sk|pk|rk|ak)-(?:[a-z]+\d*-){0,2})[A-Za-z0-9_-]{6,}"  # sk-…, sk-ant-api03-…, sk-proj-…: kind kept
    r"|\b((?:key|api|gsk|xai)[-_])[A-Za-z0-9]{16,}"  # key_…, gsk_…: only long unbroken tails, not api-version
    r"|(?i:\b(x-api-key[\"']?\s*[:=]\s*[\"']?))[^\s\"',}]{6,}"  # x-api-key: value
    r"|\b((?:gh[pousr]|github_pat)_)[A-Za-z0-9_]{20,}"  # GitHub tokens
    r"|\b(xox[abposr]-)[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\b(AKIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\b(AIza)[0-9A-Za-z_-]{30,}"  # Google API keys
)


# Every match of _SHAPES starts with one of these (lower-cased), or one character before the ones marked 1: the
# places worth trying the pattern at. The leading "x" of xai-/xox…- is left out because a search for a needle whose
# first character fills the text ("xxxx…") is slow.
_ANCHORS = ((b"bearer", 0), (b"sk-", 0), (b"pk-", 0), (b"rk-", 0), (b"ak-", 0), (b"key-", 0), (b"key_", 0),
            (b"api-", 0), (b"api_", 0), (b"gsk-", 0), (b"gsk_", 0), (b"ai-", 1), (b"ai_", 1), (b"x-api-key", 0),
            (b"ghp_", 0), (b"gho_", 0), (b"ghu_", 0), (b"ghs_", 0), (b"ghr_", 0), (b"github_pat_", 0), (b"oxa-", 1),
            (b"oxb-", 1), (b"oxp-", 1), (b"oxo-", 1), (b"oxs-", 1), (b"oxr-", 1), (b"akia", 0), (b"aiza", 0))
_SHORT = 256  # below this many characters the pattern's own scan is cheaper than finding anchors


def _cut(m: re.Match[str]) -> str:
    return next((g for g in m.groups() if g), "") + "…"


def _folded(text: str) -> bytes | None:
    """The text lower-cased as one byte a character (non-ASCII as "?"), or None when positions would shift.

    re.I also matches "ı" with i and "ſ" with s (they stay themselves in lower()); the Kelvin sign lowers to k,
    and "İ" lowers to two characters, which is the None case.
    """
    low = text.lower()
    if len(low) != len(text):
        return None
    if low.isascii():
        return low.encode("ascii")
    if "ı" in low or "ſ" in low:
        low = low.replace("ı", "i").replace("ſ", "s")
    return low.encode("ascii", "replace")


def mask_keys(text: str, *known: str | None) -> str:
    """The text with the given secrets removed, then anything shaped like a key cut after its public prefix.

    Why the anchors: _SHAPES starts with a case-insensitive alternative, so `re` tries it at every position
    (~100 ns a character: 375 ms for 1 MB). A key-shaped match can only start where one of _ANCHORS starts,
    bytes.find finds those at memory speed, and the pattern is tried at those positions only.
    """
    for secret in known:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[key removed]")
    folded = _folded(text) if len(text) >= _SHORT else None
    if folded is None:
        return _SHAPES.sub(_cut, text)
    starts: list[int] = []
    for anchor, back in _ANCHORS:
        at = folded.find(anchor)
        while at >= 0:
            starts.append(at - back)
            at = folded.find(anchor, at + 1)
    if not starts:
        return text
    out: list[str] = []
    done = 0  # text[:done] is settled
    for at in sorted(starts):
        if at < done or at < 0:
            continue
        m = _SHAPES.match(text, at)
        if m is None:
            continue
        out += (text[done:at], _cut(m))
        done = m.end()
    return "".join(out) + text[done:] if out else text
