"""`routesh code`: run Claude Code with its own traffic going through a private gateway, and leave nothing behind.

The gateway serves on a free loopback port with a one-time token, in a thread of this process;
claude runs as a child with an environment that points at it and names its request kinds
(SENTINELS), so the gateway never guesses. Prefix rules become Claude Code slash commands
(`/architect ...`) through a temporary directory given to claude with --add-dir. When claude
exits, for whatever reason, the gateway stops with this process; if this process dies first, the
kernel sends claude SIGTERM (PR_SET_PDEATHSIG), so neither side is left running.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..core.catalog import Catalog
from ..core.config import Config
from .classify import SENTINEL_BACKGROUND, SENTINEL_MAIN, SENTINEL_SUBAGENT

# Inherited variables that would send Claude Code elsewhere or authenticate it some other way.
CONTRADICTING = frozenset({
    "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY", "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_SUBAGENT_MODEL", "CLAUDE_CODE_SKIP_BEDROCK_AUTH", "CLAUDE_CODE_SKIP_VERTEX_AUTH",
    "CLAUDE_CODE_SKIP_FOUNDRY_AUTH", "CLAUDE_CODE_API_KEY_HELPER_TTL_MS",
})
LOOPBACK = ("127.0.0.1", "localhost", "::1")
KEEP_ANTHROPIC = frozenset({"ANTHROPIC_BETAS", "ANTHROPIC_LOG"})  # harmless; every other ANTHROPIC_* is cleared
_COMMAND_NAME = re.compile(r"^/[A-Za-z0-9][A-Za-z0-9_-]*$")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ModelNames:
    """The model names Claude Code is given for its three kinds of request."""

    main: str = SENTINEL_MAIN
    background: str = SENTINEL_BACKGROUND
    subagent: str = SENTINEL_SUBAGENT


def model_names(config: Config, catalog: Catalog | None = None) -> ModelNames:
    """routesh's names, each led by the real model of the route it lands on when that route is Anthropic's.

    Claude Code shapes each request for the model it believes it talks to (max_tokens, thinking, effort,
    betas, mid-conversation system messages); `claude-sonnet-4-6-routesh-main` gets Sonnet's shape and
    still says exactly which class it is. Other providers' models get the plain name.
    """
    code = config.code
    main_route = code.default or config.default_route

    def name(kind: str, route: str | None, sentinel: str) -> str:
        r = config.routes.get(route or main_route)
        provider = config.providers.get(r.provider) if r is not None else None
        if r is None or provider is None or provider.type != "anthropic":
            return sentinel
        model = catalog.resolve(r.model) if catalog is not None else r.model
        model = model.split("[", 1)[0]
        return f"{model}-{sentinel}" if _MODEL_ID.match(model) else sentinel

    return ModelNames(name("main", main_route, SENTINEL_MAIN), name("background", code.background, SENTINEL_BACKGROUND),
                      name("subagent", code.subagent, SENTINEL_SUBAGENT))


def claude_env(base: Mapping[str, str], url: str, token: str, names: ModelNames | None = None,
               drop: tuple[str, ...] = ()) -> dict[str, str]:
    """Claude Code's environment: pointed at the gateway, request kinds named, contradicting settings and
    other credentials (`drop`: the providers' key variables) cleared, so no tool it runs can read a key.

    ANTHROPIC_API_KEY is never set: it would move a subscription user onto API billing. Loopback joins NO_PROXY.
    """
    n = names or ModelNames()
    env = {k: v for k, v in base.items()
           if not (k.startswith("ANTHROPIC_") and k not in KEEP_ANTHROPIC) and k not in CONTRADICTING
           and k not in drop}
    env.update({
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_AUTH_TOKEN": token,
        "ANTHROPIC_MODEL": n.main,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": n.main,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": n.main,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": n.background,
        "ANTHROPIC_SMALL_FAST_MODEL": n.background,  # the older name of the same setting
        "CLAUDE_CODE_SUBAGENT_MODEL": n.subagent,
    })
    # Claude Code honours HTTP(S)_PROXY for every request, loopback included: without this a proxy in the
    # user's environment would receive the gateway's token and every prompt. The user's own entries stay.
    bypass = ",".join(h for h in (*LOOPBACK, urlsplit(url).hostname or "") if h)
    for name in ("NO_PROXY", "no_proxy"):
        theirs = base.get("NO_PROXY") or base.get("no_proxy") or ""
        env[name] = f"{theirs},{bypass}" if theirs.strip() else bypass
    return env


def credential_vars(config: Config, key: str | None = None) -> tuple[str, ...]:
    """Inherited variables Claude Code's tools must not see: every provider's key variable, any holding the key."""
    names = {p.key_env for p in config.providers.values() if p.key_env}
    names |= {o.key_env for prof in config.profiles.values() for o in prof.providers.values() if o.key_env}
    if key:
        names |= {k for k, v in os.environ.items() if v == key}
    return tuple(sorted(names))


def write_commands(config: Config, directory: Path) -> list[str]:
    """One Claude Code slash command per prefix rule, in directory/.claude/commands; returns the prefixes."""
    from ..core.private import private_dir, write_private

    target = private_dir(directory / ".claude" / "commands")
    made = []
    for rule in config.rules:
        if not rule.prefix or not _COMMAND_NAME.match(rule.prefix):
            continue
        route = config.routes[rule.route]
        what = rule.description or route.description or f"{route.provider}/{route.model}"
        # disable-model-invocation: typed by the person only; otherwise Claude Code offers it to the model as a
        # skill, the model's own Skill(architect) call goes to the default route, and /compact re-injects it.
        text = (f"---\ndescription: routesh → route {rule.route} ({what})\nargument-hint: PROMPT\n"
                "disable-model-invocation: true\n---\n$ARGUMENTS\n")
        write_private(target / f"{rule.prefix[1:]}.md", text)
        made.append(rule.prefix)
    return made


def find_claude(config: Config, env: Mapping[str, str]) -> str | None:
    """claude.path from routes.yaml, else `claude` on PATH."""
    if config.claude_path:
        path = os.path.expanduser(config.claude_path)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which("claude", path=env.get("PATH"))


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when routesh dies, however it dies (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except Exception:  # noqa: BLE001 - elsewhere: the parent's signal forwarding still applies
        pass


def spawn(argv: list[str], env: Mapping[str, str], parent_pid: int) -> subprocess.Popen[bytes]:
    """Start claude with the terminal passed through; it dies if this process does."""

    def preexec() -> None:
        _die_with_parent()
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(143)

    preexec_fn = preexec if sys.platform.startswith("linux") else None
    return subprocess.Popen(argv, env=dict(env), preexec_fn=preexec_fn)  # noqa: S603 - argv[0] is claude


class SignalRelay:
    """While claude runs: Ctrl-C is claude's (the terminal sends it there too); TERM/HUP/QUIT are passed on."""

    RELAYED = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._old: dict[int, object] = {}

    def __enter__(self) -> SignalRelay:
        self._old[signal.SIGINT] = signal.signal(signal.SIGINT, lambda s, f: None)
        for sig in self.RELAYED:
            self._old[sig] = signal.signal(sig, self._relay)
        return self

    def _relay(self, signum: int, frame: object) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def wait(proc: subprocess.Popen[bytes]) -> int:
    """claude's exit code; a death by signal N is 128+N, as a shell reports it."""
    while True:
        try:
            rc = proc.wait()
            break
        except KeyboardInterrupt:  # a Ctrl-C that arrived before the relay was installed
            continue
    return 128 - rc if rc < 0 else rc


def make_tempdir() -> Path:
    """A private directory for this session's slash commands."""
    return Path(tempfile.mkdtemp(prefix="routesh-code-"))
