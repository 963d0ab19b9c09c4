"""`routesh doctor`: each problem comes with the command that fixes it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

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
