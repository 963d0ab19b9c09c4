"""routesh.keys.secrets against the real Secret Service (scripts/test's throwaway gnome-keyring)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import os
import pickle
import shutil
import subprocess
import textwrap
import traceback
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from keyring_fixtures import (  # noqa: F401  (pytest fixtures are used by name)
    ThrowawayKeyring,
    bare_bus,
    keyrings_alt_path,
    real_keyring,
    run_python,
    skip_or_fail,
)

from routesh.core.config import Config, Profile, Provider, ProviderOverride, Route
from routesh.keys.entries import KeyLookup, KeyringUnavailable, Secret, mask
from routesh.keys.secrets import delete_key, keyring_status, list_keys, lookup_key, set_key, username_for

ANTHROPIC = Provider("anthropic", "anthropic", key_env="ANTHROPIC_API_KEY")
OPENROUTER = Provider("openrouter", "openai", base_url="https://openrouter.ai/api/v1", key_env="OPENROUTER_API_KEY")
OLLAMA = Provider("ollama", "openai", base_url="http://127.0.0.1:11434/v1", needs_key=False)

WORK_KEY = "sk-ant-api03-WORKworkWORKworkWORKwork0000-w0rK"
PERSONAL_KEY = "sk-ant-api03-PERSONALpersonalPERSONAL1111-pErS"
ENV_KEY = "sk-ant-api03-ENVenvENVenvENVenvENVenv2222-eNvK"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _no_dbus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No session bus at all: no address, and no $XDG_RUNTIME_DIR/bus to fall back on."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)


def _config() -> Config:
    """Three providers; work-approved reads anthropic's key from its own env var."""
    route = Route("default", "anthropic", "claude-sonnet-4-6")
    return Config(
        default_route="default",
        default_profile="personal",
        providers={"anthropic": ANTHROPIC, "openrouter": OPENROUTER, "ollama": OLLAMA},
        routes={"default": route},
        rules=(),
        profiles={
            "personal": Profile("personal"),
            "work-approved": Profile(
                "work-approved", allow_providers=("anthropic",),
                providers={"anthropic": ProviderOverride(key_env="WORK_ANTHROPIC_API_KEY")},
            ),
        },
    )


# ----------------------------------------------------------------------------- real keyring


def test_set_then_lookup_from_the_keyring(real_keyring: ThrowawayKeyring) -> None:
    set_key("work-approved", "anthropic", WORK_KEY)
    found = lookup_key("work-approved", ANTHROPIC, strict=True)
    assert (found.source, found.present, found.value) == ("keyring", True, WORK_KEY)
    assert found.masked == "sk-…w0rK"
    assert found.problem is None
    [attrs] = real_keyring.routesh_items()
    assert attrs["service"] == "routesh" and attrs["username"] == "work-approved/anthropic"
    assert attrs["profile"] == "work-approved" and attrs["provider"] == "anthropic"


def test_the_naming_scheme_works_with_secret_tool_and_keyring(real_keyring: ThrowawayKeyring) -> None:
    if shutil.which("secret-tool") is None:
        skip_or_fail("secret-tool is not installed (Debian: apt-get install libsecret-tools)")
    set_key("personal", "anthropic", PERSONAL_KEY)
    out = subprocess.run(["secret-tool", "lookup", "service", "routesh", "username", "personal/anthropic"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and _sha(out.stdout) == _sha(PERSONAL_KEY)
    # The python `keyring` library, left to its own discovery in another process, picks the
    # SecretService backend and finds the same entry.
    code = textwrap.dedent("""
        import hashlib, keyring
        ring = keyring.get_keyring()  # the chainer when keyrings.alt is installed too
        print("+".join(sorted(type(b).__module__ for b in getattr(ring, "backends", [ring]))))
        print(hashlib.sha256(keyring.get_password("routesh", "personal/anthropic").encode()).hexdigest())
    """)
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    backends, digest = res.stdout.split()
    assert "keyring.backends.SecretService" in backends.split("+") and digest == _sha(PERSONAL_KEY)
    # ...and an entry made by secret-tool is found by routesh.
    subprocess.run(["secret-tool", "store", "--label", "made by hand", "service", "routesh", "username",
                    "personal/openrouter"], input="sk-or-v1-handmadeHANDMADEhandmade-HaNd", text=True,
                   check=True, timeout=30)
    assert lookup_key("personal", OPENROUTER, strict=True).masked == "sk-…HaNd"


def test_lookup_order_keyring_then_key_env_then_none(
    real_keyring: ThrowawayKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = lookup_key("personal", ANTHROPIC, strict=True)
    assert (found.source, found.present, found.value, found.env_var) == ("none", False, None, "ANTHROPIC_API_KEY")

    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    found = lookup_key("personal", ANTHROPIC, strict=True)
    assert (found.source, found.present, found.value) == ("env", True, ENV_KEY)
    assert found.masked == "sk-…eNvK"

    set_key("personal", "anthropic", PERSONAL_KEY)
    found = lookup_key("personal", ANTHROPIC, strict=True)
    assert (found.source, found.value) == ("keyring", PERSONAL_KEY)  # the keyring beats key_env

    assert delete_key("personal", "anthropic") is True
    assert lookup_key("personal", ANTHROPIC, strict=True).source == "env"


def test_providers_without_a_key_need_none(real_keyring: ThrowawayKeyring) -> None:
    set_key("personal", "ollama", "sk-not-used-by-a-local-model-xxxx")
    found = lookup_key("personal", OLLAMA, strict=True)
    assert (found.source, found.present, found.needed, found.value) == ("none", False, False, None)
    sub = dataclasses.replace(ANTHROPIC, auth="subscription")
    assert lookup_key("personal", sub, strict=True).needed is False


def test_profiles_never_share_a_key(real_keyring: ThrowawayKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    set_key("work-approved", "anthropic", WORK_KEY)
    personal = lookup_key("personal", ANTHROPIC, strict=True)
    assert personal.source == "none" and personal.value is None

    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    assert lookup_key("personal", ANTHROPIC, strict=True).value == ENV_KEY
    set_key("personal", "anthropic", PERSONAL_KEY)
    assert lookup_key("personal", ANTHROPIC, strict=True).value == PERSONAL_KEY
    assert lookup_key("work-approved", ANTHROPIC, strict=True).value == WORK_KEY

    assert delete_key("personal", "anthropic")
    assert lookup_key("work-approved", ANTHROPIC, strict=True).value == WORK_KEY
    assert lookup_key("personal", ANTHROPIC, strict=True).value == ENV_KEY


def test_a_second_process_sees_the_key_and_its_deletion(real_keyring: ThrowawayKeyring) -> None:
    code = textwrap.dedent("""
        import hashlib, sys
        from routesh.core.config import Provider
        from routesh.keys.secrets import lookup_key
        provider = Provider("anthropic", "anthropic", key_env="ANTHROPIC_API_KEY")
        found = lookup_key("work-approved", provider, strict=True)
        print(found.source, hashlib.sha256((found.value or "").encode()).hexdigest())
    """)
    set_key("work-approved", "anthropic", WORK_KEY)
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["keyring", _sha(WORK_KEY)]
    assert WORK_KEY not in res.stdout + res.stderr

    # and the other way round: a key set by another process is visible here
    res = run_python("from routesh.keys.secrets import set_key\n"
                     "set_key('personal', 'openrouter', 'sk-or-v1-fromTheOtherProcess0-0thr')")
    assert res.returncode == 0, res.stderr
    assert lookup_key("personal", OPENROUTER, strict=True).masked == "sk-…0thr"

    assert delete_key("work-approved", "anthropic") is True
    res = run_python(code)
    assert res.stdout.split() == ["none", _sha("")]


def test_set_replaces_and_delete_removes_every_copy(real_keyring: ThrowawayKeyring) -> None:
    set_key("personal", "anthropic", "sk-ant-first-key-0000000000000-AAAA")
    # a second entry for the same username, made by the keyring CLI/library (other attributes)
    res = run_python("import keyring\n"
                     "keyring.set_password('routesh', 'personal/anthropic', 'sk-ant-other-tool-0000000000-BBBB')")
    assert res.returncode == 0, res.stderr
    assert len(real_keyring.routesh_items()) == 2
    set_key("personal", "anthropic", "  sk-ant-third-key-000000000000-CCCC\n")  # stdin's newline is stripped
    assert len(real_keyring.routesh_items()) == 1
    assert lookup_key("personal", ANTHROPIC).value == "sk-ant-third-key-000000000000-CCCC"
    assert delete_key("personal", "anthropic") is True
    assert delete_key("personal", "anthropic") is False
    assert real_keyring.routesh_items() == []


def test_presence_only_lookup(real_keyring: ThrowawayKeyring) -> None:
    set_key("personal", "anthropic", PERSONAL_KEY)
    found = lookup_key("personal", ANTHROPIC, strict=True, fetch=False)
    assert (found.source, found.present, found.value, found.masked) == ("keyring", True, None, "")


def test_list_keys_rows(real_keyring: ThrowawayKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    set_key("work-approved", "anthropic", WORK_KEY)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-fromTheEnvironment0000000-EnvO")
    rows = {(r.profile, r.provider): r for r in list_keys(_config())}
    assert set(rows) == {(p, q) for p in ("personal", "work-approved") for q in ("anthropic", "openrouter", "ollama")}
    work = rows[("work-approved", "anthropic")]
    assert (work.source, work.env_var, work.masked) == ("keyring", "WORK_ANTHROPIC_API_KEY", "sk-…w0rK")
    personal = rows[("personal", "anthropic")]
    assert (personal.source, personal.present, personal.env_var) == ("none", False, "ANTHROPIC_API_KEY")
    assert rows[("personal", "openrouter")].source == "env" and rows[("personal", "openrouter")].masked == "sk-…EnvO"
    assert rows[("personal", "ollama")].needed is False
    assert all(WORK_KEY not in repr(r) for r in rows.values())
    assert [r.profile for r in list_keys(_config(), ["work-approved"])] == ["work-approved"] * 3


def test_explicit_secret_service_backend_uses_the_same_entries(
    real_keyring: ThrowawayKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_key("personal", "anthropic", PERSONAL_KEY)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
    assert lookup_key("personal", ANTHROPIC, strict=True).value == PERSONAL_KEY
    monkeypatch.setenv("KEYRING_PROPERTY_APPID", "routesh-test")  # forces the keyring library path
    assert lookup_key("personal", ANTHROPIC, strict=True).value == PERSONAL_KEY
    assert keyring_status().backend.startswith("keyring.backends.SecretService.Keyring")


def test_keyring_status_reports_the_daemon(real_keyring: ThrowawayKeyring) -> None:
    status = keyring_status()
    assert status.usable and status.problem is None
    assert "Secret Service" in status.backend and "gnome-keyring-daemon" in status.backend
    assert status.detail is not None and "unlocked" in status.detail


def test_a_locked_collection_gives_the_clear_message(
    real_keyring: ThrowawayKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_key("work-approved", "anthropic", WORK_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    real_keyring.lock()
    try:
        assert real_keyring.is_locked()
        with pytest.raises(KeyringUnavailable) as info:
            lookup_key("work-approved", ANTHROPIC, strict=True)  # the locked key must win, not the env var
        exc = info.value
        assert exc.kind == "locked" and not exc.soft
        lines = str(exc).splitlines()
        assert len(lines) == 2
        assert "locked" in lines[0] and "work-approved/anthropic" in lines[0] and "'Login'" in lines[0]
        assert lines[1].startswith("Unlock it") and "gnome-keyring-daemon --replace --unlock" in lines[1]

        soft = lookup_key("work-approved", ANTHROPIC)  # what --dry-run shows
        assert (soft.source, soft.value) == ("env", ENV_KEY) and soft.problem == str(exc)

        # no entry for this pair: a locked keyring cannot be hiding one, so key_env is simply used
        assert lookup_key("personal", ANTHROPIC, strict=True).source == "env"

        with pytest.raises(KeyringUnavailable) as info:
            set_key("personal", "anthropic", PERSONAL_KEY)
        assert info.value.kind == "locked" and PERSONAL_KEY not in str(info.value)
        assert "default collection" in str(info.value)
        with pytest.raises(KeyringUnavailable, match="locked"):
            delete_key("work-approved", "anthropic")
        # prompt=True asks the Secret Service to unlock; with no display the prompt cannot be shown
        with pytest.raises(KeyringUnavailable) as info:
            lookup_key("work-approved", ANTHROPIC, strict=True, prompt=True)
        assert info.value.kind == "locked"

        status = keyring_status()
        assert not status.usable and status.kind == "locked"
    finally:
        real_keyring.unlock()
    assert lookup_key("work-approved", ANTHROPIC, strict=True).value == WORK_KEY


def test_secret_service_value_is_never_in_errors(real_keyring: ThrowawayKeyring) -> None:
    real_keyring.lock()
    try:
        with pytest.raises(KeyringUnavailable) as info:
            set_key("personal", "anthropic", PERSONAL_KEY)
    finally:
        real_keyring.unlock()
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert PERSONAL_KEY not in rendered and PERSONAL_KEY[-8:] not in rendered


# ----------------------------------------------------------------------------- no usable keyring


def test_no_dbus_gives_the_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_dbus(monkeypatch, tmp_path)
    with pytest.raises(KeyringUnavailable) as info:
        lookup_key("personal", ANTHROPIC, strict=True)
    exc = info.value
    lines = str(exc).splitlines()
    assert exc.kind == "no-dbus" and len(lines) == 2
    assert "DBUS_SESSION_BUS_ADDRESS is not set" in lines[0]
    assert "dbus-run-session" in lines[1] and "or set ANTHROPIC_API_KEY instead" in lines[1]

    soft = lookup_key("personal", ANTHROPIC)
    assert (soft.source, soft.present) == ("none", False) and "D-Bus" in (soft.problem or "")

    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)  # no keyring on this machine: key_env stands in
    found = lookup_key("personal", ANTHROPIC, strict=True)
    assert (found.source, found.value) == ("env", ENV_KEY) and "D-Bus" in (found.problem or "")

    with pytest.raises(KeyringUnavailable, match="no D-Bus session bus"):
        set_key("personal", "anthropic", PERSONAL_KEY)
    assert keyring_status().kind == "no-dbus"


def test_dbus_address_pointing_nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_dbus(monkeypatch, tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/nothing-here")
    with pytest.raises(KeyringUnavailable) as info:
        lookup_key("personal", ANTHROPIC, strict=True)
    assert info.value.kind == "no-dbus"
    assert "cannot connect to the D-Bus session bus" in str(info.value)
    with pytest.raises(KeyringUnavailable, match="cannot connect"):
        delete_key("personal", "anthropic")


def test_a_bus_that_never_answers_does_not_hang(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import socket
    import time

    import routesh.keys.secret_service as secret_service

    _no_dbus(monkeypatch, tmp_path)
    monkeypatch.setattr(secret_service, "_TIMEOUT_S", 0.5)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mute:  # accepts connections, says nothing
        mute.bind(str(tmp_path / "mute"))
        mute.listen(5)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/mute")
        start = time.monotonic()
        found = lookup_key("personal", ANTHROPIC)
        assert time.monotonic() - start < 5
    assert found.source == "none" and "cannot connect to the D-Bus session bus" in (found.problem or "")


def test_runtime_dir_bus_is_found_without_the_variable(
    real_keyring: ThrowawayKeyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    address = os.environ["DBUS_SESSION_BUS_ADDRESS"]
    path = dict(kv.split("=", 1) for kv in address.split(":", 1)[1].split(",")).get("path")
    if path is None:
        pytest.skip(reason="the session bus is not a unix:path= socket")
    os.symlink(path, tmp_path / "bus")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    set_key("personal", "anthropic", PERSONAL_KEY)
    assert lookup_key("personal", ANTHROPIC, strict=True).value == PERSONAL_KEY


def test_no_secret_service_on_the_bus(bare_bus: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_dbus(monkeypatch, tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bare_bus)
    with pytest.raises(KeyringUnavailable) as info:
        lookup_key("personal", ANTHROPIC, strict=True)
    lines = str(info.value).splitlines()
    assert info.value.kind == "no-service" and len(lines) == 2
    assert "no Secret Service (org.freedesktop.secrets) is running" in lines[0]
    assert "gnome-keyring-daemon --start --components=secrets" in lines[1]
    assert lines[1].endswith("or set ANTHROPIC_API_KEY instead.")
    with pytest.raises(KeyringUnavailable, match="no Secret Service"):
        set_key("personal", "anthropic", PERSONAL_KEY)


@pytest.mark.parametrize(
    ("backend", "words"),
    [("keyring.backends.fail.Keyring", "fail backend"), ("keyring.backends.null.Keyring", "null backend")],
)
def test_fail_and_null_backends_are_refused(
    backend: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    with pytest.raises(KeyringUnavailable) as info:
        lookup_key("personal", ANTHROPIC, strict=True)
    assert info.value.kind == "disabled" and words in str(info.value)
    assert "Unset PYTHON_KEYRING_BACKEND" in str(info.value)
    with pytest.raises(KeyringUnavailable, match=words):
        set_key("personal", "anthropic", PERSONAL_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    assert lookup_key("personal", ANTHROPIC, strict=True).source == "env"


def test_plaintext_backend_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if keyrings_alt_path() is None:
        skip_or_fail("keyrings.alt is not installed (pip install keyrings.alt; .ci/run does)")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    with pytest.raises(KeyringUnavailable) as info:
        set_key("personal", "anthropic", PERSONAL_KEY)
    exc = info.value
    assert exc.kind == "insecure" and "Refusing keyring backend keyrings.alt.file.PlaintextKeyring" in str(exc)
    assert "PYTHON_KEYRING_BACKEND" in str(exc)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    with pytest.raises(KeyringUnavailable, match="Refusing"):  # env does not paper over a bad choice
        lookup_key("personal", ANTHROPIC, strict=True)
    assert lookup_key("personal", ANTHROPIC).problem is not None
    written = [p for p in Path(os.environ["HOME"]).rglob("*") if p.is_file()]
    assert written == [] and PERSONAL_KEY not in str(exc)


def test_plaintext_backend_in_keyringrc_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    if keyrings_alt_path() is None:
        skip_or_fail("keyrings.alt is not installed (pip install keyrings.alt; .ci/run does)")
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    cfg = Path(os.environ["XDG_CONFIG_HOME"]) / "python_keyring" / "keyringrc.cfg"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[backend]\ndefault-keyring=keyrings.alt.file.PlaintextKeyring\n")
    with pytest.raises(KeyringUnavailable) as info:
        set_key("personal", "anthropic", PERSONAL_KEY)
    assert info.value.kind == "insecure" and str(cfg) in str(info.value)


def test_low_priority_backend_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "weak_backend.py").write_text(textwrap.dedent("""
        from keyring.backend import KeyringBackend
        class Keyring(KeyringBackend):
            priority = 0.5
            def get_password(self, service, username): return None
            def set_password(self, service, username, password): raise AssertionError("must not be called")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "weak_backend.Keyring")
    with pytest.raises(KeyringUnavailable) as info:
        set_key("personal", "anthropic", PERSONAL_KEY)
    assert info.value.kind == "insecure" and "not recommended (priority 0.5)" in str(info.value)


def test_unknown_backend_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no.such.Backend")
    with pytest.raises(KeyringUnavailable) as info:
        lookup_key("personal", ANTHROPIC, strict=True)
    assert info.value.kind == "backend" and "PYTHON_KEYRING_BACKEND=no.such.Backend cannot be used" in str(info.value)


# ----------------------------------------------------------------------------- values stay hidden


def test_key_lookup_never_shows_the_value() -> None:
    found = KeyLookup("personal", "anthropic", "keyring", True, "ANTHROPIC_API_KEY", secret=Secret(PERSONAL_KEY))
    assert found.value == PERSONAL_KEY
    for shown in (repr(found), str(found), f"{found}", f"{found!r}", f"{found.secret}", f"{found.secret:>80}",
                  repr(found.secret), str(found.secret), json.dumps(found.public()), repr([found]),
                  repr(dataclasses.replace(found)), repr(copy.deepcopy(found))):
        assert PERSONAL_KEY not in shown and PERSONAL_KEY[3:-4] not in shown
    with pytest.raises(TypeError):
        json.dumps(dataclasses.asdict(found))  # asdict keeps the Secret object, which JSON refuses
    with pytest.raises(TypeError):
        pickle.dumps(found)


def test_logging_a_lookup_does_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    found = KeyLookup("personal", "anthropic", "env", True, "ANTHROPIC_API_KEY", secret=Secret(ENV_KEY))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("routesh.test").debug("lookup %s %r", found, found.secret)
    assert ENV_KEY not in caplog.text and "sk-…eNvK" in caplog.text


def test_secrets_compare_by_value_without_exposing_it() -> None:
    assert Secret("a" * 20) == Secret("a" * 20) and Secret("a" * 20) != Secret("b" * 20)
    with pytest.raises(TypeError):
        hash(Secret("x"))


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("sk-ant-api03-abcdefghijklmnop-x7Q2", "sk-…x7Q2"),
        ("sk-short", "sk-…"),
        ("0123456789abcdefWXYZ", "…WXYZ"),
        ("0123456789abcde", "…"),
        ("", "…"),
    ],
)
def test_mask_examples(value: str, masked: str) -> None:
    assert mask(value) == masked


@given(st.text())
def test_mask_shows_at_most_the_last_four_characters(value: str) -> None:
    shown = mask(value)
    prefix, _, tail = shown.partition("…")
    assert prefix in ("", "sk-") and value.startswith(prefix)
    assert len(tail) <= 4 and value.endswith(tail)
    if tail:
        assert len(value) - len(prefix) >= 16  # never a large share of a short value


def test_bad_names_and_values_are_rejected_without_echoing_the_value(real_keyring: ThrowawayKeyring) -> None:
    for profile, provider in (("a/b", "anthropic"), ("personal", ""), ("per sonal", "anthropic")):
        with pytest.raises(ValueError):
            username_for(profile, provider)
    with pytest.raises(ValueError, match="empty"):
        set_key("personal", "anthropic", " \n")
    with pytest.raises(ValueError) as info:
        set_key("personal", "anthropic", "sk-two words-secretvalue-zzzz")
    assert "secretvalue" not in str(info.value)
    assert real_keyring.routesh_items() == []


# ----------------------------------------------------------------------------- cost on every run


def _imports_after(code: str, env: dict[str, str]) -> set[str]:
    """Which keyring-related top-level packages `code` imported in a fresh interpreter."""
    probe = code + "\nimport sys; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    res = run_python(probe, env)
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split()) & {"keyring", "secretstorage", "cryptography", "jeepney"}


LOOKUP = textwrap.dedent("""
    from routesh.core.config import Provider
    from routesh.keys.secrets import lookup_key
    lookup_key("personal", Provider("anthropic", "anthropic", key_env="ANTHROPIC_API_KEY"), fetch={fetch})
""")


def test_without_dbus_the_lookup_imports_nothing(tmp_path: Path) -> None:
    env = {"DBUS_SESSION_BUS_ADDRESS": "", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert _imports_after(LOOKUP.format(fetch=True), env) == set()


def test_dry_run_lookup_skips_crypto_and_the_keyring_library(real_keyring: ThrowawayKeyring) -> None:
    set_key("personal", "anthropic", PERSONAL_KEY)
    assert _imports_after(LOOKUP.format(fetch=False), {}) == {"jeepney"}
    assert "keyring" not in _imports_after(LOOKUP.format(fetch=True), {})
