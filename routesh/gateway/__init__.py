"""The Anthropic-compatible HTTP gateway that Claude Code talks to."""
