"""Work and personal never mix: every way a profile is chosen × every way a key is found, checked at a real
test upstream (which key actually arrived), through the one-shot, the shell's /profile and the gateway."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clirun import routesh
from keyring_fixtures import ThrowawayKeyring, real_keyring  # noqa: F401 - fixture
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.core.configfile import builtin_text, parse
from routesh.core.keyshare import may_share, refusal, shared_keys
from routesh.core.yamlnodes import ConfigError
from routesh.keys.entries import KeyRow, fingerprint

PERSONAL = "sk-ant-api03-personalPERSONALpersonal0123456789"
WORK = "sk-ant-api03-workWORKworkWORKwork0123456789abcd"

CONFIG = """\
version: 1
default_route: default
default_profile: personal
providers:
  up: {{type: anthropic, base_url: "{url}", key_env: KS_UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6}}
profiles:
  personal: {{}}
  work:
    allow_providers: [up]
    paths: ["{work_dir}"]
    providers:
      up: {{key_env: KS_WORK_UP_KEY}}
{extra}"""


def write_config(tmp: Path, up: Upstream, extra: str = "") -> Path:
    (tmp / "work").mkdir(exist_ok=True)
    cfg = tmp / "routes.yaml"
    cfg.write_text(CONFIG.format(url=up.url, work_dir=tmp / "work", extra=extra), encoding="utf-8")
    return cfg


def sent_key(req) -> str | None:  # type: ignore[no-untyped-def]
    """The credential a request carried (this SDK version sends an api key as x-api-key or as a bearer token)."""
    return req.header("x-api-key") or (req.header("authorization") or "").removeprefix("Bearer ") or None


def row(profile: str, provider: str, *, source: str = "env", env_var: str | None = "V",
        value: str | None = "k" * 20) -> KeyRow:
    return KeyRow(profile, provider, source, value is not None, env_var, "", True, None,  # type: ignore[arg-type]
                  fingerprint(value) if value else None)


# ------------------------------------------------------------------------------------------------ pure core


def test_same_variable_or_same_value_is_shared_and_different_is_not() -> None:
    config = parse(builtin_text(), "<built-in>")
    same_var = [row("personal", "anthropic", env_var="ANTHROPIC_API_KEY"),
                row("work-approved", "anthropic", env_var="ANTHROPIC_API_KEY")]
    [s] = shared_keys(config, "work-approved", same_var)
    assert s.other == "personal" and "$ANTHROPIC_API_KEY" in s.how and not s.allowed
    same_value = [row("personal", "anthropic", source="keyring", env_var=None, value=PERSONAL),
                  row("work-approved", "anthropic", env_var="WORK_ANTHROPIC_KEY", value=PERSONAL)]
    [s] = shared_keys(config, "work-approved", same_value)
    assert s.how == "the same key value"
    assert refusal(config, "work-approved", [s]) is not None  # restricted: refuses
    assert refusal(config, "personal", shared_keys(config, "personal", same_value)) is None  # says so, sends
    apart = [row("personal", "anthropic", value=PERSONAL, env_var="A"),
             row("work-approved", "anthropic", value=WORK, env_var="B")]
    assert shared_keys(config, "work-approved", apart) == ()
    absent = [row("personal", "anthropic", value=None), row("work-approved", "anthropic", value=None)]
    assert shared_keys(config, "work-approved", absent) == ()  # no credential is not a shared credential


def test_share_keys_with_allows_it_from_either_side() -> None:
    text = builtin_text().replace("    # share_keys_with: personal", "    share_keys_with: personal")
    config = parse(text, "t.yaml")
    assert may_share(config, "work-approved", "personal") and may_share(config, "personal", "work-approved")
    rows = [row("personal", "anthropic", value=WORK), row("work-approved", "anthropic", value=WORK, env_var="X")]
    [s] = shared_keys(config, "work-approved", rows)
    assert s.allowed and refusal(config, "work-approved", [s]) is None


@pytest.mark.parametrize(("value", "needle"), [("persnal", "did you mean 'personal'"), ("work-approved", "itself")])
def test_share_keys_with_is_validated(value: str, needle: str) -> None:
    text = builtin_text().replace("    # share_keys_with: personal", f"    share_keys_with: {value}")
    with pytest.raises(ConfigError) as err:
        parse(text, "t.yaml")
    assert needle in str(err.value) and "share_keys_with" in str(err.value)


def test_the_builtin_work_profile_never_reads_the_generic_variable() -> None:
    p = routesh("--profile", "work-approved", "--dry-run", "--json", "hi", env={"ANTHROPIC_API_KEY": PERSONAL})
    key = json.loads(p.stdout)["key"]
    assert key["present"] is False and key["shared_with"] == []
    p = routesh("--profile", "work-approved", "--dry-run", "--json", "hi",
                env={"ANTHROPIC_API_KEY": PERSONAL, "WORK_ANTHROPIC_KEY": WORK})
    assert json.loads(p.stdout)["key"]["present"] is True and p.returncode == 0


# ------------------------------------------------------------------------------------------------ one-shot matrix

CHOOSERS = ["flag", "ROUTESH_PROFILE", "CLAUDE_CODE_ROUTE", "paths"]


def run_as_work(how: str, cfg: Path, tmp: Path, env: dict[str, str], *extra: str):  # type: ignore[no-untyped-def]
    """routesh under profile work, chosen the given way."""
    import subprocess

    from clirun import ROUTESH

    args = ["--config", str(cfg), *extra, "hello there"]
    env = dict(os.environ, **env)
    cwd = str(tmp)
    if how == "flag":
        args = ["--profile", "work", *args]
    elif how == "paths":
        cwd = str(tmp / "work")
    else:
        env[how] = "work"
    p = subprocess.run([ROUTESH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    assert "Traceback" not in p.stderr
    return p


@dataclass
class Keys:
    """Puts keys where the parametrized source says: env variables or keyring entries."""

    source: str
    keyring: ThrowawayKeyring | None

    def give(self, personal: str, work: str) -> dict[str, str]:
        if self.source == "env":
            return {"KS_UP_KEY": personal, "KS_WORK_UP_KEY": work}
        for profile, value in (("personal", personal), ("work", work)):
            p = routesh("keys", "set", "up", "--profile", profile, stdin=value)
            assert p.returncode == 0, p.stderr
        return {}


@pytest.fixture(params=["env", "keyring"])
def keys(request: pytest.FixtureRequest) -> Iterator[Keys]:
    if request.param == "keyring":
        yield Keys("keyring", request.getfixturevalue("real_keyring"))
    else:
        yield Keys("env", None)


@pytest.mark.parametrize("how", CHOOSERS)
def test_work_sends_its_own_key_and_refuses_the_personal_one(how: str, keys: Keys, upstream: Upstream,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path, upstream)
    if keys.source == "keyring":
        monkeypatch.setenv("ROUTESH_CONFIG", str(cfg))
    env = keys.give(PERSONAL, WORK)
    p = run_as_work(how, cfg, tmp_path, env)
    assert p.returncode == 0, p.stderr
    [req] = upstream.generation_requests()
    assert sent_key(req) == WORK

    upstream.clear()
    env = keys.give(PERSONAL, PERSONAL)  # the work profile now resolves to the personal key
    p = run_as_work(how, cfg, tmp_path, env)
    assert p.returncode == 3, p.stderr
    assert "personal" in p.stderr and "share_keys_with" in p.stderr and PERSONAL not in p.stderr + p.stdout
    assert upstream.requests == []  # refused before any byte was sent
    dry = run_as_work(how, cfg, tmp_path, env, "--dry-run", "--json")
    plan = json.loads(dry.stdout)
    assert dry.returncode == 3 and plan["policy"]["allowed"] is False
    assert plan["key"]["shared_with"][0]["profile"] == "personal"


def test_shared_on_purpose_is_sent_and_said(upstream: Upstream, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, upstream, "    share_keys_with: [personal]\n")
    env = {"KS_UP_KEY": PERSONAL, "KS_WORK_UP_KEY": PERSONAL}
    p = run_as_work("flag", cfg, tmp_path, env)
    assert p.returncode == 0, p.stderr
    assert sent_key(upstream.generation_requests()[0]) == PERSONAL
    dry = run_as_work("flag", cfg, tmp_path, env, "--dry-run")
    assert "shared on purpose" in dry.stdout


def test_keys_list_and_doctor_say_when_two_profiles_share_a_key(upstream: Upstream, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, upstream)
    env = {"KS_UP_KEY": PERSONAL, "KS_WORK_UP_KEY": PERSONAL}
    listed = json.loads(routesh("--config", str(cfg), "keys", "list", "--json", env=env).stdout)
    work = next(r for r in listed if r["profile"] == "work")
    assert work["shared_with"][0]["profile"] == "personal" and work["shared_with"][0]["allowed"] is False
    text = routesh("--config", str(cfg), "keys", "list", env=env)
    assert "shared" in text.stdout and "refuses" in text.stdout
    doc = routesh("--config", str(cfg), "doctor", "--json", env=env)
    checks = json.loads(doc.stdout)
    assert any("refuses to send" in c["detail"] and not c["ok"] for c in checks)
    assert doc.returncode == 1 and PERSONAL not in doc.stdout
    apart = {"KS_UP_KEY": PERSONAL, "KS_WORK_UP_KEY": WORK}
    assert not any("also" in c["detail"] for c in json.loads(
        routesh("--config", str(cfg), "doctor", "--json", env=apart).stdout))


# ------------------------------------------------------------------------------------------------ gateway


def gateway_post(cfg: Path, profile: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    """One request through an in-process gateway under the profile; returns the HTTP status."""
    from routesh.core.context import build
    from routesh.gateway.server import Gateway, RunningGateway, bind

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    gw = Gateway(build(str(cfg), profile), "tok", log=lambda s: None)
    running = RunningGateway(gw, bind("127.0.0.1", 0)).start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", running.port, timeout=20)
        body = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        c.request("POST", "/v1/messages", json.dumps(body), {"authorization": "Bearer tok",
                                                             "content-type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        running.stop()


def test_gateway_under_work_sends_the_work_key_and_refuses_the_personal_one(
        keys: Keys, upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path, upstream)
    monkeypatch.setenv("ROUTESH_CONFIG", str(cfg))
    assert gateway_post(cfg, "work", keys.give(PERSONAL, WORK), monkeypatch) == 200
    assert sent_key(upstream.generation_requests()[0]) == WORK
    upstream.clear()
    assert gateway_post(cfg, "work", keys.give(PERSONAL, PERSONAL), monkeypatch) == 403
    assert upstream.requests == []
    assert gateway_post(cfg, "personal", keys.give(PERSONAL, PERSONAL), monkeypatch) == 200
    assert sent_key(upstream.generation_requests()[0]) == PERSONAL  # unrestricted: sent, and said


# ------------------------------------------------------------------------------------------------ shell /profile


def test_shell_profile_switch_says_so_and_refuses(upstream: Upstream, tmp_path: Path) -> None:
    import shutil

    if shutil.which("tmux") is None:
        pytest.skip(reason="tmux not installed (apt-get install tmux; .ci/run installs it)")
    from test_shell_pty import Term

    cfg = write_config(tmp_path, upstream)
    term = Term(tmp_path, cfg, extra_env={"KS_UP_KEY": PERSONAL, "KS_WORK_UP_KEY": PERSONAL})
    try:
        term.ready()
        term.type("/profile work")
        term.enter()
        term.ready()
        assert "key shared" in term.history() and "refuses" in term.history()
        term.type("hello from work")
        term.enter()
        term.ready()
        assert "refused" in term.history()
        assert upstream.generation_requests() == []
    finally:
        term.close()
