"""An attempt that did not reach the client, and the error bodies and fields the attempt loop reads from upstreams."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..core.events import EngineError
from ..engines.common import parse_retry_after
from ..screening.keymask import mask_keys
from .framing import error_body


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """retry-after as seconds: a number, or an HTTP date."""
    return parse_retry_after({"retry-after": value} if value else None, now)


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Upstream text with any key we hold, and anything key-shaped, cut out."""
    return mask_keys(text, *secrets)


@dataclass
class Failure:
    """An attempt that did not reach the client: what went wrong, and what to tell the client if it is the last."""

    err: EngineError
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def fail(status: int, message: str, etype: str | None = None, *, kind: str = "http") -> Failure:
    """A Failure the gateway itself decided, with its Anthropic-shaped body."""
    err = EngineError(message, kind=kind, status=status if kind == "http" else None)  # type: ignore[arg-type]
    return Failure(err, status, error_body(status, message, etype))


def describe(err: EngineError) -> str:
    """One line for the verbose log: the status when there is one."""
    return f"HTTP {err.status}: {err.message}" if err.status is not None else err.message



def upstream_request_id(data: bytes) -> str | None:
    """The top-level request_id of an Anthropic error body, when it has a plain one."""
    if b'"request_id"' not in data:
        return None
    try:
        value = json.loads(data).get("request_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value.isascii() and len(value) < 200 else None


def anthropic_error_fields(data: bytes, status: int) -> tuple[str, str]:
    """(message, type) from an Anthropic (or any) error body."""
    from .openai_errors import error_type_for_status

    etype = error_type_for_status(status)
    try:
        obj = json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace").strip()
        return (text[:2000] or f"upstream answered HTTP {status}"), etype
    if isinstance(obj, dict):
        err = obj.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or f"upstream answered HTTP {status}"), str(err.get("type") or etype)
        if isinstance(err, str):
            return err, etype
        if isinstance(obj.get("message"), str):
            return obj["message"], etype
    return f"upstream answered HTTP {status}", etype
