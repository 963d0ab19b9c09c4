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


def mask_keys(text: str, *known: str | None) -> str:
    """The text with the given secrets removed, then anything shaped like a key cut after its public prefix."""
    for secret in known:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[key removed]")
    return _SHAPES.sub(lambda m: next((g for g in m.groups() if g), "") + "…", text)
