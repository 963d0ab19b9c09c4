"""`python -m routesh` is the same as the `routesh` command."""

from .commands.start import entry

entry()
