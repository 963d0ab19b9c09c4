"""The failures a user can act on, each with its documented exit code."""

from __future__ import annotations

import os

EXIT_OK = 0
EXIT_MODEL = 1  # the model side failed after retries and fallbacks
EXIT_USAGE = 2  # bad usage or bad config
EXIT_POLICY = 3  # refused by policy: provider not allowed, a secret in the prompt, budget spent


class UserError(Exception):
    """A problem the user can fix; its message names the problem and the fix, no traceback."""

    exit_code = EXIT_USAGE


class PolicyRefusal(UserError):
    """The profile forbids this request; nothing was sent."""

    exit_code = EXIT_POLICY


class KeyMissing(UserError):
    """No key for this (profile, provider): the route cannot be tried (exit 2 when it is the first route)."""


def bug_location(exc: BaseException) -> str:
    """' at file.py:LINE' of the innermost routesh frame; never the message, which might hold a secret."""
    tb, spot = exc.__traceback__, ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if "routesh" in name:
            spot = f" at {os.path.basename(name)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return spot
