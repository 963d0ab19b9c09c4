"""The provider keys of a request masked out of everything relayed to the client: bytes, streams and headers.

An upstream may echo the key it was given (in an error message, a mid-stream `event: error`, a header);
masking by key shape misses keys with no known prefix, so the actual key values are replaced, wherever
they appear. A stream is masked across read boundaries: a chunk that ends with the start of a key is held
back until the next one shows whether the key follows.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = b"[key removed by routesh]"
MIN_KEY = 8  # shorter values (a test's "x", key: none) would mask ordinary text


def key_bytes(keys: Iterable[str | None]) -> tuple[bytes, ...]:
    """The keys worth masking, longest first (so a key that contains another is masked whole)."""
    found = {k.encode() for k in keys if k and len(k) >= MIN_KEY}
    return tuple(sorted(found, key=len, reverse=True))


def mask_bytes(data: bytes, keys: tuple[bytes, ...]) -> bytes:
    """data with every key replaced."""
    for key in keys:
        if key in data:
            data = data.replace(key, MASK)
    return data


def mask_text(text: str, keys: tuple[bytes, ...]) -> str:
    """text with every key replaced."""
    for key in keys:
        k = key.decode()
        if k in text:
            text = text.replace(k, MASK.decode())
    return text


def mask_headers(headers: Iterable[tuple[str, str]], keys: tuple[bytes, ...]) -> list[tuple[str, str]]:
    """Response headers with every key replaced in their values."""
    return [(k, mask_text(v, keys)) for k, v in headers]


class StreamMask:
    """Masks keys in a byte stream read in arbitrary pieces; holds back only a tail that could start a key."""

    __slots__ = ("keys", "_tail")

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        self.keys = keys
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        """What may be sent now."""
        if not self.keys:
            return data
        buf = self._tail + data if self._tail else data
        buf = mask_bytes(buf, self.keys)
        hold = self._partial(buf)
        self._tail = buf[len(buf) - hold:] if hold else b""
        return buf[:len(buf) - hold] if hold else buf

    def close(self) -> bytes:
        """The held-back tail, at the end of the stream (it never completed a key)."""
        tail, self._tail = self._tail, b""
        return tail

    def _partial(self, buf: bytes) -> int:
        """The length of the longest tail of buf that is the start of a key (0 when none is)."""
        best = 0
        for key in self.keys:
            first = key[:1]
            at = buf.find(first, max(0, len(buf) - len(key) + 1))
            while at >= 0:
                if key.startswith(buf[at:]):
                    best = max(best, len(buf) - at)
                    break
                at = buf.find(first, at + 1)
        return best
