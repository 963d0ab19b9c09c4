"""`python -m routesh` is the same as the `routesh` command."""

from .commands.cli import entry

entry()
