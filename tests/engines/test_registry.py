"""The engine registry: a new engine is a change in engines/ only, because it registers its provider type with
the core, which validates routes.yaml before any engine is loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from routesh.core import config as core_config
from routesh.core.configfile import ConfigError, parse
from routesh.engines import registry

CONFIG = "providers:\n  local: {type: %s, key: none}\nroutes:\n  default: {provider: local, model: m}\n"


def test_every_engine_but_claude_code_is_a_provider_type() -> None:
    assert set(core_config.provider_types()) >= {name for name in registry._MODULES if name != "claude-code"}
    assert "claude-code" not in core_config.provider_types()


def test_a_registered_type_is_accepted_and_an_unknown_one_still_gets_a_did_you_mean(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        parse(CONFIG % "ollama", "routes.yaml")
    assert "providers.local.type" in str(info.value) and "anthropic" in str(info.value)
    monkeypatch.setattr(core_config, "_PROVIDER_TYPES", [*core_config._PROVIDER_TYPES])
    core_config.register_provider_type("ollama")
    core_config.register_provider_type("ollama")  # twice is once
    assert core_config.provider_types().count("ollama") == 1
    assert parse(CONFIG % "ollama", "routes.yaml").providers["local"].type == "ollama"
    with pytest.raises(ConfigError) as info:
        parse(CONFIG % "olama", "routes.yaml")
    assert "ollama" in str(info.value)  # the did-you-mean knows the registered name


def test_the_cli_registers_the_engines_before_it_reads_a_config() -> None:
    code = "import sys, routesh.commands.cli; print('routesh.engines.registry' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
