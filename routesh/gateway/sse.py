"""Server-sent events for the gateway: the codec lives in engines/sse.py, shared with the API engines' wire client
(the gateway may import engines, not the other way round)."""

from __future__ import annotations

from ..engines.sse import SSEEvent, SSEParser, encode, encode_json

__all__ = ["SSEEvent", "SSEParser", "encode", "encode_json"]
