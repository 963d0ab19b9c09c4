"""Anthropic Messages ⇄ OpenAI Chat Completions: pure translations the gateway uses for `type: openai` upstreams.

Request: `to_openai_request(anthropic_body, OpenAIOptions(...)) -> dict` (openai_request.py).
Answer:  `to_anthropic_response(chat_completion)` for a whole JSON answer (openai_answer.py), `StreamTranslator`
         for a stream, OpenAI SSE bytes in at any boundary, Anthropic SSE bytes out (openai_stream.py).
Errors:  `from_openai_error(status, body, headers) -> AnthropicError`, status kept, retry-after passed on
         (openai_errors.py).
Tokens:  `count_tokens(anthropic_body)`, a fast local estimate for /v1/messages/count_tokens (count.py).

This module only gathers those names in one place; nothing in them does I/O, reads the clock or draws random
numbers; ids come from the upstream or the caller.
"""

from __future__ import annotations

from .count import IMAGE_TOKENS, count_tokens
from .openai_answer import FINISH_TO_STOP, anthropic_usage, stop_reason_for, to_anthropic_response
from .openai_errors import STATUS_TO_ERROR, AnthropicError, anthropic_error, error_type_for_status, from_openai_error
from .openai_request import (
    BILLING_HEADER_PREFIX,
    OpenAIOptions,
    ReasoningStyle,
    effort_for_budget,
    server_tools,
    strip_unsigned_thinking,
    thinking_budget,
    to_openai_request,
)
from .openai_stream import StreamTranslator

__all__ = [
    "AnthropicError",
    "BILLING_HEADER_PREFIX",
    "FINISH_TO_STOP",
    "IMAGE_TOKENS",
    "OpenAIOptions",
    "ReasoningStyle",
    "STATUS_TO_ERROR",
    "StreamTranslator",
    "anthropic_error",
    "anthropic_usage",
    "count_tokens",
    "effort_for_budget",
    "error_type_for_status",
    "from_openai_error",
    "server_tools",
    "stop_reason_for",
    "strip_unsigned_thinking",
    "thinking_budget",
    "to_anthropic_response",
    "to_openai_request",
]
