"""What a model call cost, from token counts and a price, so the ledger can answer 'where did the money go'.

Convention (Anthropic's): ``input_tokens`` EXCLUDES cache tokens. OpenAI reports
``prompt_tokens`` INCLUDING ``cached_tokens``; convert with :func:`from_openai_usage`
before pricing, or the cached part is paid twice.
"""

from __future__ import annotations

from .config import ModelInfo

PER = 1_000_000.0  # prices are USD per million tokens
CACHE_READ_FACTOR = 0.10  # cached input is billed at 10% of the input price
CACHE_WRITE_FACTOR = 1.25  # a (5-minute) cache write is billed at 125% of the input price


def _count(name: str, value: int | None) -> int:
    """A token count as an int; None means the provider did not report it (counted as 0)."""
    if value is None:
        return 0
    if value < 0:
        raise ValueError(f"{name} must not be negative (got {value})")
    return int(value)


def cache_read_price(model: ModelInfo) -> float | None:
    """The cache-read price: the model's own, else 10% of its input price."""
    if model.cache_read is not None:
        return model.cache_read
    return None if model.input is None else model.input * CACHE_READ_FACTOR


def cache_write_price(model: ModelInfo) -> float | None:
    """The cache-write price: the model's own, else 125% of its input price."""
    if model.cache_write is not None:
        return model.cache_write
    return None if model.input is None else model.input * CACHE_WRITE_FACTOR


def cost_usd(
    model: ModelInfo | None,
    input_tokens: int | None = 0,
    output_tokens: int | None = 0,
    cache_read_tokens: int | None = 0,
    cache_write_tokens: int | None = 0,
) -> float | None:
    """USD for one call, each kind of token at its own price; None (never 0) when a needed price is unknown."""
    n_in = _count("input_tokens", input_tokens)
    n_out = _count("output_tokens", output_tokens)
    n_read = _count("cache_read_tokens", cache_read_tokens)
    n_write = _count("cache_write_tokens", cache_write_tokens)
    if model is None:
        return None
    parts = (
        (n_in, model.input),
        (n_out, model.output),
        (n_read, cache_read_price(model)),
        (n_write, cache_write_price(model)),
    )
    total = 0.0
    for tokens, price in parts:
        if price is None:
            if tokens:
                return None
            if model.input is None and model.output is None:
                return None  # nothing about this model is priced: unknown, not free
            continue
        total += tokens * price
    return total / PER


def from_openai_usage(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cached_tokens: int | None = 0,
) -> tuple[int, int, int, int]:
    """OpenAI usage (prompt includes cached) → (input, output, cache_read, cache_write) in routesh's convention."""
    prompt = _count("prompt_tokens", prompt_tokens)
    cached = min(_count("cached_tokens", cached_tokens), prompt)
    return prompt - cached, _count("completion_tokens", completion_tokens), cached, 0


def unknown_price_hint(model_id: str) -> str:
    """The one-line hint shown (once) when a model has no price, so the user can add one."""
    return (
        f"routesh: no price for model {model_id!r}; its cost is recorded as unknown. "
        f"Add it under `models:` in routes.yaml, e.g. {model_id}: {{input: 3.0, output: 15.0}} "
        "(USD per million tokens)."
    )
