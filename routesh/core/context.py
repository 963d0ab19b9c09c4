"""The config and profile in effect for one invocation, shared by every front door (CLI, shell, gateway)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog
from .config import Config, Profile
from .policy import ProfileChoice, choose_profile
from .sources import Loaded, load


@dataclass(frozen=True)
class Context:
    """Everything decided before the prompt is read."""

    loaded: Loaded
    choice: ProfileChoice
    env: Mapping[str, str]
    cwd: Path
    catalog: Catalog

    @property
    def config(self) -> Config:
        """The config in effect."""
        return self.loaded.config

    @property
    def profile(self) -> Profile:
        """The active profile."""
        return self.config.profiles[self.choice.name]

    def with_profile(self, name: str, why: str = "set by /profile") -> Context:
        """The same context under another profile (the shell's /profile), saying who chose it."""
        choice = choose_profile(self.config, name, {}, self.cwd, Path.home())
        return Context(self.loaded, ProfileChoice(choice.name, why), self.env, self.cwd, self.catalog)

    def with_loaded(self, loaded: Loaded) -> Context:
        """The same context with a reloaded config, keeping the profile if it still exists."""
        name = self.choice.name if self.choice.name in loaded.config.profiles else None
        choice = choose_profile(loaded.config, name, self.env if name is None else {}, self.cwd, Path.home())
        if name is not None:
            choice = ProfileChoice(name, self.choice.why)
        return Context(loaded, choice, self.env, self.cwd, Catalog(loaded.config.models))


def build(config_flag: str | None = None, profile_flag: str | None = None,
          env: Mapping[str, str] | None = None, cwd: Path | None = None, *, blank_ok: bool = False) -> Context:
    """Load the config and choose the profile; raises ConfigError or UnknownProfile (blank_ok: see sources.load)."""
    own_env = env is None
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    loaded = load(config_flag, env, cwd, blank_ok=blank_ok)
    if own_env and loaded.config.ledger:
        # `ledger:` becomes the process's (and its children's, e.g. a gateway's) unless --ledger or the env chose
        os.environ.setdefault("ROUTESH_LEDGER", loaded.config.ledger)
    choice = choose_profile(loaded.config, profile_flag, env, cwd, Path.home())
    return Context(loaded, choice, env, cwd, Catalog(loaded.config.models))


def announce(loaded: Loaded) -> None:
    """Say on stderr what the user should know about the config in effect (an ignored project file, an empty one)."""
    for warning in loaded.warnings:
        print(f"routesh: {warning}", file=sys.stderr)
