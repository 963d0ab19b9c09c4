"""The translated stream's fixed-shape Anthropic events as byte templates: what encode_json writes, without it.

Why: every translated answer has a message_start, a ping, a text block's start and stop and a message_stop;
building and encoding a dict for each cost more than the answer's text deltas on short answers.
tests/test_gateway_speed.py checks each template against encode_json.
"""

from __future__ import annotations

import json

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # as sse.encode_json

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
BLOCK_STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n'
TEXT_START = (b'event: content_block_start\ndata: {"type":"content_block_start","index":%d,'
              b'"content_block":{"type":"text","text":""}}\n\n')
_START = (b'event: message_start\ndata: {"type":"message_start","message":{"id":%b,"type":"message",'
          b'"role":"assistant","model":%b,"content":[],"stop_reason":null,"stop_sequence":null,'
          b'"usage":{"input_tokens":%b,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
          b'"output_tokens":0}}}\n\n')


def message_start(message_id: str, model: str, input_tokens: object) -> bytes:
    """The message_start event of a translated answer."""
    return _START % (_DUMPS(message_id).encode("utf-8"), _DUMPS(model).encode("utf-8"),
                     _DUMPS(input_tokens).encode("utf-8"))
