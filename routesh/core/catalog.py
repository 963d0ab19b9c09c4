"""Model prices, context windows and aliases, so costs are estimated without asking anyone."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .config import ModelInfo

# USD per million tokens. Cached reads cost 10% of input; 5-minute cache writes 125%.
BUILTIN: tuple[ModelInfo, ...] = (
    ModelInfo("claude-opus-4-7", input=5.0, output=25.0, context_window=1_000_000, aliases=("opus",)),
    ModelInfo("claude-sonnet-4-6", input=3.0, output=15.0, context_window=1_000_000, aliases=("sonnet",)),
    ModelInfo("claude-haiku-4-5", input=1.0, output=5.0, context_window=200_000, aliases=("haiku",)),
)

# Input tokens Claude Code adds to every main-turn request (system prompt, 24 tool definitions, reminders), by
# Claude Code version, as routesh's estimator counts them in the real request body (`claude -p` against the test
# upstream; tests/core/test_estimate_claude.py re-measures the installed claude and fails when this is off by >10%).
# Real bills run ~15% above the estimate (31.4k billed for 27.2k estimated on 2.1.197).
CLAUDE_CODE_OVERHEAD: dict[str, int] = {
    "2.1.197": 27_200,
}

_DATE_SUFFIX = re.compile(r"-(?:\d{8}|latest)$")


class Catalog:
    """Looks models up by id, alias or dated id; user entries from routes.yaml win."""

    def __init__(self, user: Mapping[str, ModelInfo] | None = None) -> None:
        self._by_name: dict[str, ModelInfo] = {}
        for info in (*BUILTIN, *(user or {}).values()):
            merged = self._merge(self._by_name.get(info.id), info)
            self._by_name[info.id] = merged
            for alias in merged.aliases:
                self._by_name[alias] = merged

    @staticmethod
    def _merge(old: ModelInfo | None, new: ModelInfo) -> ModelInfo:
        """A user entry may set just a price; the rest comes from the built-in."""
        if old is None:
            return new
        return ModelInfo(
            new.id,
            input=new.input if new.input is not None else old.input,
            output=new.output if new.output is not None else old.output,
            cache_read=new.cache_read if new.cache_read is not None else old.cache_read,
            cache_write=new.cache_write if new.cache_write is not None else old.cache_write,
            context_window=new.context_window or old.context_window,
            aliases=tuple(dict.fromkeys((*old.aliases, *new.aliases))),
        )

    def get(self, name: str) -> ModelInfo | None:
        """The model's info, or None when its price is unknown."""
        info = self._by_name.get(name)
        if info is None and _DATE_SUFFIX.search(name):
            info = self._by_name.get(_DATE_SUFFIX.sub("", name))
        return info

    def resolve(self, name: str) -> str:
        """The current id for an alias (opus → claude-opus-4-7); other names unchanged."""
        info = self._by_name.get(name)
        return info.id if info is not None and name in info.aliases else name

    def models(self) -> list[ModelInfo]:
        """Every known model once."""
        return list({id(m): m for m in self._by_name.values()}.values())
