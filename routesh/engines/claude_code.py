"""Claude Code engine: runs the real `claude -p` with the route's model, endpoint and key in its
environment, streams its partial-message events, and reads usage/cost/session from `result`.

Auth: "api-key" puts the key in ANTHROPIC_API_KEY (sent as x-api-key); "bearer" in
ANTHROPIC_AUTH_TOKEN (sent as Authorization: Bearer); "subscription" passes no key at all and
removes inherited ones, so Claude Code uses its own login. Setting ANTHROPIC_API_KEY moves a
subscription user onto API billing, which is why it is never set for "subscription".

The prompt goes to claude on stdin (not argv): no ARG_MAX limit for long prompts, and a prompt
that starts with "-" is not taken for an option. The child runs in its own session/process
group; on cancel, timeout or early close the whole group gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Generator, Mapping
from typing import Any

from ..core.events import Done, EngineError, EngineRequest, Event, Message, TextDelta, Usage
from .common import Emitter, looks_like_context_error, pump, scrub

__all__ = ["stream", "preload", "build_env", "build_argv", "INSTALL_HINT"]

INSTALL_HINT = "npm install -g @anthropic-ai/claude-code"
TERM_GRACE_S = 2.0

# Inherited variables that would contradict the route (model, endpoint, credential, backend).
CLEARED_VARS = (
    "ANTHROPIC_MODEL",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "CLAUDE_CODE_SUBAGENT_MODEL",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)
_EXTRA_MODEL_VARS = {
    "subagent": "CLAUDE_CODE_SUBAGENT_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "background": "ANTHROPIC_DEFAULT_HAIKU_MODEL",  # background work runs on the haiku-class model
}


def preload() -> None:
    """Nothing heavy to import: claude is a separate binary."""


def find_claude(req: EngineRequest) -> str:
    """The claude executable from req.claude_path or PATH, or EngineError(kind="missing-binary")."""
    path = req.claude_path
    if path:
        path = os.path.expanduser(path)
        found = path if os.path.isfile(path) and os.access(path, os.X_OK) else shutil.which(path)
    else:
        found = shutil.which("claude")
    if not found:
        where = f" at {req.claude_path}" if req.claude_path else " on PATH"
        raise EngineError(f"Claude Code (`claude`) not found{where}; install it with `{INSTALL_HINT}`",
                          kind="missing-binary")
    return found


def build_env(req: EngineRequest, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: inherited, minus contradicting ANTHROPIC_*, plus the route's."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name in CLEARED_VARS or name in req.env_drop or \
                (name.startswith("ANTHROPIC_DEFAULT_") and name.endswith("_MODEL")):
            del env[name]
    env["ANTHROPIC_MODEL"] = req.model
    if req.base_url:
        env["ANTHROPIC_BASE_URL"] = req.base_url
    if req.auth != "subscription":
        key_var = "ANTHROPIC_AUTH_TOKEN" if req.auth == "bearer" else "ANTHROPIC_API_KEY"
        if req.api_key:
            env[key_var] = req.api_key
        elif req.base_url:
            env[key_var] = "no-key"  # `key: none` endpoint: claude still wants some credential
    for role, model in req.extra_models.items():
        var = _EXTRA_MODEL_VARS.get(role)
        if var and (role != "background" or "haiku" not in req.extra_models):
            env[var] = model
    env.update(req.env)
    return env


def build_argv(req: EngineRequest, exe: str) -> list[str]:
    """The claude command line (the prompt itself goes on stdin)."""
    argv = [exe, "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
            "--model", req.model]
    if req.resume_session:
        argv += ["--resume", req.resume_session]
    if req.system:
        argv += ["--append-system-prompt", req.system]
    return argv


def _prompt(req: EngineRequest) -> str:
    """The last user message; a conversation that claude's own session does not hold (turns other models
    answered before it, when there is no session to resume) goes first, so claude answers in context."""
    for i in range(len(req.messages) - 1, -1, -1):
        if req.messages[i].role == "user":
            earlier = req.messages[:i]
            if req.resume_session or not earlier:
                return req.messages[i].content
            return transcript(earlier) + req.messages[i].content
    raise EngineError("no user message to send to claude", kind="malformed")


def transcript(messages: tuple[Message, ...]) -> str:
    """Earlier turns as a block claude reads as context, then the new request."""
    turns = "\n\n".join(f"<{m.role}>\n{m.content}\n</{m.role}>" for m in messages)
    return ("<conversation_so_far>\nThis conversation began in routesh with other models; the turns so far:\n\n"
            f"{turns}\n</conversation_so_far>\n\n")


class _Child:
    """The running claude process and its process group."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pgid = proc.pid  # start_new_session: the child leads its own group
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._lock = threading.Lock()
        self._killed = False

    def read_stderr(self) -> None:
        """Drain stderr (so the child never blocks on a full pipe), keeping the tail."""
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait_exit(self, timeout: float) -> bool:
        """Wait until the child has exited WITHOUT reaping it, so its pid (= our pgid) cannot be
        reused before the group is signalled."""
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            if self.proc.returncode is not None:
                return True
            try:
                info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if info is not None and info.si_pid:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def kill(self) -> None:
        """SIGTERM the group, wait briefly, then SIGKILL whatever is left; reap the child."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
        if not self.wait_exit(0):
            self._signal_group(signal.SIGTERM)
            self.wait_exit(TERM_GRACE_S)
        self._signal_group(signal.SIGKILL)  # stragglers in the group, even if the leader left
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def finish(self) -> None:
        """After the result line: let claude exit on its own, then clear the group and reap."""
        self.wait_exit(5)
        self.kill()


def _usage(u: Mapping[str, Any] | None, cost: Any) -> Usage:
    """Usage from the result line's usage object and total_cost_usd."""
    u = u or {}
    return Usage(
        input_tokens=int(u.get("input_tokens") or 0),
        output_tokens=int(u.get("output_tokens") or 0),
        cache_read_tokens=int(u.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(u.get("cache_creation_input_tokens") or 0),
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
    )


class _UsageSoFar:
    """Token counts of every model call claude made so far (its own and its subagents'), from the stream events."""

    def __init__(self) -> None:
        self.done = Usage(final=False)  # calls that finished
        self.current = Usage(final=False)  # the call in progress

    def add(self, ev: Mapping[str, Any], emit: Emitter) -> bool:
        """Fold one stream event in; on a new call, emit the counts so far. False once the consumer is gone."""
        etype = ev.get("type")
        if etype == "message_start":
            u = (ev.get("message") or {}).get("usage")
            if not isinstance(u, Mapping):
                return True  # nothing reported: nothing to add
            self.done = _plus(self.done, self.current)
            self.current = Usage(int(u.get("input_tokens") or 0), int(u.get("output_tokens") or 0),
                                 int(u.get("cache_read_input_tokens") or 0),
                                 int(u.get("cache_creation_input_tokens") or 0), final=False)
            return emit(_plus(self.done, self.current))
        if etype == "message_delta":
            out = (ev.get("usage") or {}).get("output_tokens")
            if isinstance(out, int):
                self.current = Usage(self.current.input_tokens, out, self.current.cache_read_tokens,
                                     self.current.cache_write_tokens, final=False)
        return True


def _plus(a: Usage, b: Usage) -> Usage:
    """Two calls' counts together (not final)."""
    return Usage(a.input_tokens + b.input_tokens, a.output_tokens + b.output_tokens,
                 a.cache_read_tokens + b.cache_read_tokens, a.cache_write_tokens + b.cache_write_tokens, final=False)


def _result_error(res: Mapping[str, Any], req: EngineRequest) -> EngineError:
    """An is_error result line as an EngineError."""
    text = str(res.get("result") or res.get("subtype") or "error")
    status = res.get("api_error_status")
    status = status if isinstance(status, int) else None
    if status is None and ("not logged in" in text.lower() or "/login" in text or "invalid api key" in text.lower()):
        status = 401
    return EngineError(
        scrub(f"claude: {text}", req.api_key),
        kind="http",
        status=status,
        context_too_long=looks_like_context_error(status if status is not None else 400, text),
    )


def _produce(req: EngineRequest, exe: str, env: dict[str, str], prompt: str, emit: Emitter,
             started: list[_Child], lock: threading.Lock) -> None:
    """Start claude, feed the prompt, translate its JSON lines into events (pump thread)."""
    with lock:
        if emit.stopped.is_set():
            return
        try:
            proc = subprocess.Popen(build_argv(req, exe), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            raise EngineError(f"could not start claude ({exc.strerror}); install it with `{INSTALL_HINT}`",
                              kind="missing-binary") from None
        child = _Child(proc)
        started.append(child)
    stderr_reader = threading.Thread(target=child.read_stderr, name="routesh-claude-stderr", daemon=True)
    stderr_reader.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(prompt.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        session_id: str | None = None
        result: dict[str, Any] | None = None
        wrote_text = False
        new_message = False
        so_far = _UsageSoFar()
        for raw in proc.stdout:
            if emit.stopped.is_set():
                return
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # not a JSON line (a warning); ignore
            if not isinstance(line, dict):
                continue
            kind = line.get("type")
            if isinstance(line.get("session_id"), str):
                session_id = line["session_id"]
            if kind == "stream_event" and not so_far.add(line.get("event") or {}, emit):
                return
            if kind == "stream_event" and line.get("parent_tool_use_id") is None:
                ev = line.get("event") or {}
                etype = ev.get("type")
                if etype == "message_start":
                    new_message = wrote_text
                elif etype == "content_block_delta":
                    delta = ev.get("delta") or {}
                    text = delta.get("text")
                    if delta.get("type") == "text_delta" and text:
                        if new_message:  # a later turn (after tool use): keep it apart from the last
                            text = "\n\n" + text
                            new_message = False
                        wrote_text = True
                        if not emit(TextDelta(text)):
                            return
            elif kind == "result":
                result = line
                break
        if result is None:
            child.finish()
            stderr_reader.join(1.0)
            code = proc.returncode
            tail = " | ".join(list(child.stderr_tail)[-3:]) or "no output"
            raise EngineError(scrub(f"claude exited (code {code}) without a result: {tail}", req.api_key),
                              kind="malformed")
        child.finish()
        if result.get("is_error") and result.get("stop_reason") != "refusal":
            raise _result_error(result, req)
        emit(_usage(result.get("usage"), result.get("total_cost_usd")))
        emit(Done(stop_reason=result.get("stop_reason") or None,
                  session_id=result.get("session_id") or session_id))
    finally:
        child.kill()  # cancel/close/error: end the group; after a normal exit it only reaps


def stream(req: EngineRequest, cancel: threading.Event | None = None) -> Generator[Event, None, None]:
    """Run `claude -p` for the last user message: TextDelta..., Usage (with cost), Done(session_id)."""
    exe = find_claude(req)  # raised on first next(), like every other engine error
    env = build_env(req)
    prompt = _prompt(req)
    started: list[_Child] = []
    lock = threading.Lock()

    def abort() -> None:
        with lock:
            children = list(started)
        for child in children:
            child.kill()

    yield from pump(lambda emit: _produce(req, exe, env, prompt, emit, started, lock), timeout_s=req.timeout_s,
                    cancel=cancel, abort=abort, name="claude")
