"""A ledger filled by real runs (the one-shot and the gateway, through the test upstream) and `routesh ui` over it.

Module-scoped, so the slow part (real `routesh` runs) happens once per test module: the home directory
is the fixture's own and is passed to every process it starts.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from clirun import ROUTESH, routesh
from upstream import Upstream, rate_limited, server_error

KEY = "sk-ant-api03-uitest-AAAAAAAAAAAAAAAAAAAAAAAA"
XSS_TAG = "<img src=x onerror=alert('tag')>"
GW_SESSION = "0b5d7c1e-1111-2222-3333-444455556666"
XSS_PROMPT = "<script>alert('prompt')</script> explain the flaky test"


def home_env(home: Path) -> dict[str, str]:
    """HOME and the XDG dirs under home, as conftest's isolated_home sets them."""
    env = {"HOME": str(home)}
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):
        env[var] = str(home / sub)
    return env


def ledger_path(home: Path) -> Path:
    return home / ".local/share/routesh/usage.db"


def write_config(up: Upstream, path: Path) -> Path:
    path.write_text(f"""
default_route: default
providers:
  up: {{type: anthropic, base_url: "{up.url}", key_env: UP_KEY}}
  upo: {{type: openai, base_url: "{up.openai_url}", key_env: UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6, fallback: [cheap], retries: 1}}
  cheap: {{provider: upo, model: claude-haiku-4-5, retries: 0}}
  architect: {{provider: up, model: claude-opus-4-7}}
rules:
  - {{prefix: /cheap, route: cheap}}
  - {{prefix: /architect, route: architect}}
profiles:
  personal: {{log_prompts: true}}
  work: {{allow_providers: [up, upo], share_keys_with: [personal]}}
""")
    return path


RUN = "\0run"  # ui.get's default: the run's own token


@dataclass
class UI:
    """A running `routesh ui` and what it reads."""

    url: str  # with the token
    token: str
    port: int
    home: Path
    env: dict[str, str]
    config: Path
    proc: subprocess.Popen[str]

    def get(self, path: str, *, token: str | None = RUN, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], str]:
        """GET path (with the run's token unless token is given: None sends none)."""
        tok = self.token if token is RUN else token
        if tok is not None:
            path += ("&" if "?" in path else "?") + f"token={tok}"
        return request(self.port, "GET", path, headers=headers)

    def post_json(self, path: str, data: Any, *, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        body = json.dumps(data).encode()
        status, _, text = request(self.port, "POST", f"{path}?token={self.token}", body=body,
                                  headers={"Content-Type": "application/json", **(headers or {})})
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def routesh(self, *args: str) -> subprocess.CompletedProcess[str]:
        return routesh("--config", str(self.config), *args, env=self.env)


def request(port: int, method: str, path: str, *, body: bytes | None = None,
            headers: dict[str, str] | None = None, host: str = "127.0.0.1") -> tuple[int, dict[str, str], str]:
    c = http.client.HTTPConnection(host, port, timeout=30)
    try:
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def fill_ledger(up: Upstream, home: Path, cfg: Path) -> dict[str, str]:
    """Real requests: one-shots (plain, tagged with an XSS payload, a retry then fallback, a /cheap rule), and the
    gateway (Claude Code's wire format). Returns the env every later process needs."""
    env = {**home_env(home), "UP_KEY": KEY}
    for args in (("hello there",), ("--tag", XSS_TAG, XSS_PROMPT), ("/cheap summarise the log",),
                 ("--profile", "work", "/architect split the billing module",)):
        p = routesh("--config", str(cfg), *args, env=env)
        assert p.returncode == 0, p.stderr
    up.script(server_error(), rate_limited("0"))
    p = routesh("--config", str(cfg), "--tag", "fallback", "retry me", env=env)
    assert p.returncode == 0, p.stderr
    _gateway_requests(up, home, cfg, env)
    return env


def _gateway_requests(up: Upstream, home: Path, cfg: Path, env: dict[str, str]) -> None:
    """Three requests through the gateway, recorded in the same ledger by its own writer."""
    from routesh.core.context import build
    from routesh.gateway.server import Gateway, LedgerWriter, RunningGateway, bind

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        ctx = build(str(cfg), None)
        writer = LedgerWriter(str(ledger_path(home)), ctx.profile)
        gateway = Gateway(ctx, "ui-gw-token-0123456789", ledger=writer)
        running = RunningGateway(gateway, bind("127.0.0.1", 0)).start()
        try:
            for text in ("fix the parser", "/architect design the cache", "add a test"):
                body = {"model": "routesh-main", "max_tokens": 1000, "stream": True,
                        "metadata": {"user_id": "user_x_account__session_0b5d7c1e-1111-2222-3333-444455556666"},
                        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
                status, _, _ = request(running.port, "POST", "/v1/messages", body=json.dumps(body).encode(),
                                       headers={"content-type": "application/json", "x-api-key":
                                                "ui-gw-token-0123456789", "anthropic-version": "2023-06-01",
                                                "x-claude-code-session-id": GW_SESSION})
                assert status == 200
        finally:
            running.stop()
            writer.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_ui(env: dict[str, str], cfg: Path | None, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`routesh ui --no-open`, its printed address (or its exit when it refuses to start)."""
    cmd = [ROUTESH, *(("--config", str(cfg)) if cfg else ()), "ui", "--no-open", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **env), start_new_session=True)
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("routesh ui: http"):
                return proc, line.split(": ", 1)[1].strip()
            if line == "" and proc.poll() is not None:
                return proc, ""
        elif proc.poll() is not None:
            return proc, ""
    stop(proc)
    raise AssertionError("routesh ui printed no address within 60 s")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def running_ui(env: dict[str, str], cfg: Path, home: Path) -> Iterator[UI]:
    proc, url = start_ui(env, cfg)
    assert url, proc.stderr.read() if proc.stderr else ""
    token = re.search(r"token=([^&\s]+)", url).group(1)  # type: ignore[union-attr]
    try:
        yield UI(url, token, urlsplit(url).port or 0, home, env, cfg, proc)
    finally:
        stop(proc)
