"""claude-code-router's config.json read as that tool reads it: JSON with // and /* */ comments and trailing commas."""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.errors import UserError


class CCRImportError(UserError):
    """The file is not a claude-code-router config routesh can convert."""


def parse_config_text(text: str) -> dict[str, Any]:
    """config.json text as a dict; like claude-code-router, tolerates // and /* */ comments and trailing commas."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = json.loads(_strip_json5(text))
        except ValueError as exc:
            raise CCRImportError(f"config.json is not valid JSON ({exc}); fix it or pass another file") from None
    if not isinstance(data, dict):
        raise CCRImportError("config.json should hold one JSON object with Providers and Router")
    return data


def _strip_json5(text: str) -> str:
    """Comments and trailing commas removed, outside strings."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))
