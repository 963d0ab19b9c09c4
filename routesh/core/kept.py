"""What routesh keeps (ledger rows, shell history, gateway log) never holds a secret screening would find.

Screening (screen.py) decides what may be *sent* under the profile's on_secret policy; whatever is
sent, the copy routesh itself stores is always the redacted one, then masked for key shapes.
"""

from __future__ import annotations


def redact_kept(text: str) -> str:
    """The text with every screened secret replaced by its [REDACTED:kind] placeholder and key shapes masked."""
    if not text:
        return text
    from ..screening.keymask import mask_keys
    from ..screening.screen import redact, scan

    findings = scan(text)
    if findings:
        text = redact(text, findings)
    return mask_keys(text)


def shown(text: str) -> str:
    """A message with outside text in it (upstream errors, notices, log lines), safe to print: no secret, no escapes."""
    from .termsafe import clean

    return clean(redact_kept(text))
