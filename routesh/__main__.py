"""`python -m routesh` is the same as the `routesh` command."""

from .cli import entry

entry()
