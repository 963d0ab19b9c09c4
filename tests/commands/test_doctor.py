"""`routesh doctor`: each problem comes with the command that fixes it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from test_shell_pty import dead_port
from upstream import upstream_fixture  # noqa: F401 - fixture

ROUTESH = shutil.which("routesh") or "routesh"
CONFIG = """
providers:
  local: {type: openai, base_url: "http://127.0.0.1:9/v1", key_env: LOCAL_KEY}
  remote: {type: openai, base_url: "http://example.invalid/v1", key_env: REMOTE_KEY}
routes:
  default: {provider: local, model: m}
  far: {provider: remote, model: m}
"""


def doctor(tmp_path, env: dict[str, str]) -> tuple[int, list[dict[str, object]]]:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG)
    p = subprocess.run([ROUTESH, "--config", str(cfg), "doctor", "--json"], capture_output=True, text=True,
                       env=dict(os.environ, **env), timeout=60)
    assert "Traceback" not in p.stderr
    return p.returncode, json.loads(p.stdout)


def test_doctor_reports_keys_endpoints_and_claude(tmp_path):
    code, checks = doctor(tmp_path, {"LOCAL_KEY": "sk-local-0123456789abcdef"})
    by_area = {c["area"]: c for c in checks}
    assert by_area["config"]["ok"] is True
    assert by_area["key personal/local"]["ok"] is True and "LOCAL_KEY" in by_area["key personal/local"]["detail"]
    missing = by_area["key personal/remote"]
    assert missing["ok"] is False and missing["fix"].startswith("routesh keys set remote --profile personal")
    assert "REMOTE_KEY" in missing["fix"]
    assert "loopback" in by_area["endpoint local"]["detail"]
    plain = by_area["endpoint remote"]
    assert plain["ok"] is False and "https" in plain["fix"]
    assert "claude" in by_area
    assert code == 1  # problems were found
    assert "sk-local-0123456789abcdef" not in json.dumps(checks)


def test_doctor_with_a_broken_config_says_how_to_check_it(tmp_path, isolated_home):
    f = isolated_home / ".config" / "routesh" / "routes.yaml"
    f.parent.mkdir(parents=True)
    f.write_text("routes: [\n")
    p = subprocess.run([ROUTESH, "doctor", "--json"], capture_output=True, text=True, timeout=60)
    [check] = json.loads(p.stdout)
    assert check["ok"] is False and "invalid YAML" in check["detail"] and "routesh config check" in check["fix"]


# ------------------------------------------------------------------------------------------------ right both ways

ONLINE = """
providers:
  up: {{type: anthropic, base_url: "{url}", key_env: DOC_UP_KEY}}
  oai: {{type: openai, base_url: "{url}/v1", key_env: DOC_OAI_KEY}}
  dead: {{type: anthropic, base_url: "http://127.0.0.1:{dead}", key_env: DOC_UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6}}
  other: {{provider: oai, model: gpt-x}}
  gone: {{provider: dead, model: claude-haiku-4-5}}
profiles:
  personal: {{}}
  side: {{allow_providers: [up], providers: {{up: {{key_env: DOC_SIDE_KEY}}}}}}
"""


def run_doctor(cfg, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    base = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}  # a host with no D-Bus
    p = subprocess.run([ROUTESH, "--config", str(cfg), "doctor", *args], capture_output=True, text=True,
                       env={**base, **(env or {})}, timeout=90)
    assert "Traceback" not in p.stderr
    return p


def test_env_keys_without_a_keyring_and_an_unused_profile_are_not_problems(tmp_path, upstream):
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(ONLINE.format(url=upstream.url, dead=dead_port()))
    env = {"DOC_UP_KEY": "sk-ant-doc-0123456789abcdef", "DOC_OAI_KEY": "sk-oai-doc-0123456789abcdef"}
    p = run_doctor(cfg, "--json", env=env)
    checks = {c["area"]: c for c in json.loads(p.stdout)}
    assert checks["keyring"]["ok"] is True and checks["keyring"]["warn"] is True  # a note, not a failure
    assert "key_env" in checks["keyring"]["detail"]
    assert "not set up" in checks["profile side"]["detail"] and checks["profile side"]["ok"] is True
    assert "not probed" in checks["endpoint dead"]["detail"]  # a dead endpoint is not called "fine"
    assert p.returncode == 0, p.stdout
    text = run_doctor(cfg, env=env).stdout
    assert "everything looks fine" not in text and "not contacted" in text


def test_online_probes_each_endpoint_with_its_key(tmp_path, upstream):
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(ONLINE.format(url=upstream.url, dead=dead_port()))
    upstream.configure(keys=["sk-ant-doc-0123456789abcdef"])
    env = {"DOC_UP_KEY": "sk-ant-doc-0123456789abcdef", "DOC_OAI_KEY": "sk-oai-wrong-0123456789abcdef"}
    p = run_doctor(cfg, "--online", "--json", env=env)
    checks = {c["area"]: c for c in json.loads(p.stdout)}
    assert checks["online up"]["ok"] is True and "HTTP 200 in" in checks["online up"]["detail"]
    assert checks["online oai"]["ok"] is False and "HTTP 401" in checks["online oai"]["detail"]
    assert "keys set oai" in checks["online oai"]["fix"]
    assert checks["online dead"]["ok"] is False and "no answer" in checks["online dead"]["detail"]
    assert p.returncode == 1 and "0123456789abcdef" not in p.stdout
    seen = [(r.path, r.header("x-api-key") or r.header("authorization")) for r in upstream.requests]
    assert ("/v1/models", "sk-ant-doc-0123456789abcdef") in seen
    assert ("/v1/models", "Bearer sk-oai-wrong-0123456789abcdef") in seen
    assert not [r for r in upstream.requests if r.method != "GET"]  # cheap calls only, nothing generated
