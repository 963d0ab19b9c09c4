"""`routesh keys` against the real Secret Service, and the key it stores reaching the upstream."""

from __future__ import annotations

import json

from clirun import routesh
from keyring_fixtures import real_keyring  # noqa: F401 - fixture
from upstream import Upstream, unauthorized, upstream_fixture  # noqa: F401 - fixture

WORK_KEY = "sk-work-0123456789abcdefWXYZ"
HOME_KEY = "sk-home-0123456789abcdefQRST"


def config(up: Upstream, tmp_path) -> str:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
providers:
  up: {{type: anthropic, base_url: "{up.url}", key_env: UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6, retries: 0}}
profiles:
  personal: {{}}
  work: {{allow_providers: [up]}}
""")
    return str(cfg)


def sent_key(req) -> str:
    return req.header("x-api-key") or (req.header("authorization") or "").removeprefix("Bearer ")


def test_set_list_use_delete_with_profiles_kept_apart(real_keyring, upstream, tmp_path):
    cfg = config(upstream, tmp_path)
    p = routesh("--config", cfg, "keys", "set", "up", "--profile", "work", stdin=WORK_KEY + "\n")
    assert p.returncode == 0, p.stderr
    assert WORK_KEY not in p.stdout + p.stderr and "…WXYZ" in p.stdout
    assert routesh("--config", cfg, "keys", "set", "up", stdin=HOME_KEY).returncode == 0

    rows = json.loads(routesh("--config", cfg, "keys", "list", "--json").stdout)
    by_profile = {r["profile"]: r for r in rows}
    assert by_profile["work"]["source"] == "keyring" and by_profile["work"]["masked"] == "sk-…WXYZ"
    assert by_profile["personal"]["masked"] == "sk-…QRST"

    d = json.loads(routesh("--config", cfg, "--profile", "work", "--dry-run", "--json", "hi").stdout)
    assert d["key"] == {**d["key"], "source": "keyring", "present": True}

    # the keyring beats key_env, and each profile sends its own key
    assert routesh("--config", cfg, "--profile", "work", "hi", env={"UP_KEY": "sk-env-zzzz"}).returncode == 0
    assert routesh("--config", cfg, "hi", env={"UP_KEY": "sk-env-zzzz"}).returncode == 0
    work_req, home_req = upstream.generation_requests()
    assert sent_key(work_req) == WORK_KEY and sent_key(home_req) == HOME_KEY

    assert routesh("--config", cfg, "keys", "delete", "up", "--profile", "work").returncode == 0
    assert routesh("--config", cfg, "keys", "delete", "up", "--profile", "work").returncode == 1
    d = json.loads(routesh("--config", cfg, "--profile", "work", "--dry-run", "--json", "hi",
                           env={"UP_KEY": "sk-env-zzzz"}).stdout)
    assert d["key"]["source"] == "env"
    assert [i["username"] for i in real_keyring.routesh_items()] == ["personal/up"]


def test_rejected_key_names_the_profile_and_never_the_key(real_keyring, upstream, tmp_path):
    cfg = config(upstream, tmp_path)
    routesh("--config", cfg, "keys", "set", "up", "--profile", "work", stdin=WORK_KEY)
    upstream.script(unauthorized(echo_key=True))
    p = routesh("--config", cfg, "--profile", "work", "hi")
    assert p.returncode == 1 and "routesh keys set up --profile work" in p.stderr
    assert WORK_KEY not in p.stdout + p.stderr


def test_locked_keyring_is_a_clear_exit_2(real_keyring, upstream, tmp_path):
    cfg = config(upstream, tmp_path)
    routesh("--config", cfg, "keys", "set", "up", stdin=HOME_KEY)
    real_keyring.lock()
    p = routesh("--config", cfg, "hi", env={"UP_KEY": "sk-env-should-not-be-used"})
    assert p.returncode == 2 and "locked" in p.stderr.lower()
    assert upstream.generation_requests() == []  # the work key is locked away: env must not stand in for it


def test_bad_key_input(real_keyring, upstream, tmp_path):
    cfg = config(upstream, tmp_path)
    p = routesh("--config", cfg, "keys", "set", "up", stdin="   \n")
    assert p.returncode == 2 and "the key is empty" in p.stderr
    p = routesh("--config", cfg, "keys", "set", "upp", stdin=HOME_KEY)
    assert p.returncode == 2 and "did you mean 'up'" in p.stderr
    p = routesh("--config", cfg, "keys", "set", "up", "--profile", "wrok", stdin=HOME_KEY)
    assert p.returncode == 2 and "did you mean 'work'" in p.stderr
