"""keymask: credentials are cut out of text that is shown or kept; ordinary error text is left alone."""

from __future__ import annotations

import pytest

from routesh.screening.keymask import mask_keys


@pytest.mark.parametrize("secret", [
    "sk-ant-api03-" + "A" * 40, "sk-or-v1-" + "b" * 32, "sk-proj-" + "c9" * 20, "ghp_" + "d" * 36,
    "github_pat_" + "e" * 40, "xoxb-" + "1" * 24, "AKIA" + "IOSFODNN7EXAMPLQ", "AIza" + "f" * 35, "gsk_" + "a1" * 12,
])
def test_key_shapes_are_cut_after_their_public_prefix(secret):
    out = mask_keys(f"401 invalid x-api-key {secret} (check it)")
    assert secret not in out and secret[4:] not in out and "401 invalid x-api-key" in out and "(check it)" in out


@pytest.mark.parametrize(("text", "gone"), [
    ("Authorization: Bearer abcdef123456", "abcdef123456"),
    ('{"x-api-key": "plain-value-99"}', "plain-value-99"),
])
def test_header_values_are_cut(text, gone):
    assert gone not in mask_keys(text)


def test_known_secrets_without_a_shape_are_removed():
    assert mask_keys("token=hunter2hunter2 rejected", "hunter2hunter2", None) == "token=[key removed] rejected"


@pytest.mark.parametrize("text", ["HTTP 429 rate_limit_error: slow down", "unknown api-version header",
                                  "prompt is too long: 250000 tokens > 200000 maximum", "key_error in request"])
def test_ordinary_error_text_is_unchanged(text):
    assert mask_keys(text) == text
