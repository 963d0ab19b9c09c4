"""The OpenAI-translated route's side of the gateway: shaping the request, the whole answer and the stream.

The wire conversions themselves live in translate.py; this module is where the gateway calls them.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..core.events import EngineError
from . import jsonsplice
from .classify import strip_prefix

if TYPE_CHECKING:
    from ..core.config import Provider, Route
    from .admit import Job
    from .attempts import AttemptInfo
    from .client import Conn
    from .failures import Failure


def openai_options(provider: Provider, route: Route, model: str) -> Any:
    """How to shape requests for one OpenAI-compatible server, from what its base_url says it is."""
    from .openai_request import OpenAIOptions

    host = (provider.base_url or "").lower()
    kw: dict[str, Any] = {"model": model, "max_tokens_cap": route.max_output_tokens}
    if "openrouter.ai" in host:
        kw.update(reasoning="openrouter", keep_cache_control=True)
    elif "api.openai.com" in host:
        kw.update(max_tokens_field="max_completion_tokens")
    elif "deepseek" in host:
        kw.update(reasoning="none")
    elif "dashscope" in host or "siliconflow" in host:
        kw.update(reasoning="enable_thinking")
    if provider.mid_system:
        kw["mid_system"] = provider.mid_system  # routes.yaml: providers.NAME.mid_system
    return OpenAIOptions(**kw)


def openai_input(job: Job) -> dict[str, Any]:
    """The Anthropic request to translate: the client's, with a typed prefix taken out and thinking said the way
    an OpenAI route should hear it (thinking.openai_thinking)."""
    from .thinking import openai_thinking

    body = job.body if job.cls.edit is None else strip_prefix(job.body, job.cls.edit)
    reshaped = openai_thinking(body, job.cls.kind == "think")
    return body if reshaped is None else reshaped


def openai_request(job: Job, provider: Provider, route: Route, model: str, key: str | None
                   ) -> tuple[bytes, list[tuple[str, str]]]:
    """The Chat Completions body (translated once per route, not once per retry) and its headers."""
    from .openai_request import to_openai_request

    cached = job.bodies.get("openai:" + route.name)
    if cached is None:
        cached = jsonsplice.dumps(to_openai_request(openai_input(job),
                                                    openai_options(provider, route, model))).encode()
        job.bodies["openai:" + route.name] = cached
    headers = [("content-type", "application/json"),
               ("accept", "text/event-stream" if job.stream else "application/json"),
               ("accept-encoding", "identity"), ("user-agent", "routesh-gateway")]
    if key:
        headers.append(("authorization", f"Bearer {key}"))
    return cached, headers


def whole_answer(rec: AttemptInfo, data: bytes) -> bytes | EngineError:
    """A non-streamed Chat Completions answer as an Anthropic message, or why it cannot be."""
    from .openai_answer import to_anthropic_response

    try:
        obj = json.loads(data)
        if not isinstance(obj, dict):
            raise ValueError
    except ValueError:
        return EngineError("the upstream answered with something that is not JSON", kind="malformed")
    msg = to_anthropic_response(obj, model=rec.model, stop_sequences=tuple(rec.job.body.get("stop_sequences") or ()))
    return jsonsplice.dumps(msg).encode()


def stream_translator(rec: AttemptInfo) -> Any:
    """The per-attempt converter from Chat Completions chunks to Anthropic events."""
    from .openai_stream import StreamTranslator

    job = rec.job
    return StreamTranslator(model=rec.model, input_tokens=job.cls.estimated_tokens,
                            stop_sequences=tuple(job.body.get("stop_sequences") or ()))


def early_error(translator: Any, conn: Conn, first: bytes, secrets: tuple[str, ...] = ()) -> Failure | None:
    """A translated stream that failed before its first byte reached the client: a retryable Failure, else None."""
    from .failures import Failure, fail, retry_after_seconds, scrub
    from .framing import error_body

    if translator.error is not None and not translator.started:
        e = translator.error
        ra = e.retry_after
        message = scrub(e.message, secrets)
        err = EngineError(message, status=e.status, retry_after=retry_after_seconds(ra, time.time()))
        return Failure(err, e.status, error_body(e.status, message, e.type), (("retry-after", ra),) if ra else ())
    if not first:
        why = str(conn.error) if conn.error else "the upstream stream ended without an answer"
        return fail(502, f"routesh: {why}", kind="connection" if conn.error else "malformed")
    return None


def stream_end(translator: Any, broken: Exception | None) -> tuple[bytes, str, str | None]:
    """The last bytes of a translated stream, and the attempt's status and error."""
    from .openai_errors import anthropic_error

    if broken is None or translator.finish_reason is not None:
        # after the finish chunk the answer is whole: a break before the usage chunk or [DONE] loses only the
        # exact token counts (estimated instead), so it ends as a complete message, not as an error
        tail = translator.close()
    else:
        tail = translator.fail(anthropic_error(502, f"routesh: the upstream stream broke off: {broken}",
                                               type="api_error"))
    if translator.error is not None:
        return tail, "partial", translator.error.message
    if translator.stop_reason == "refusal":
        return tail, "refused", None
    return tail, "ok", None

