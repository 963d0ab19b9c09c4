"""Where the `routesh` command starts: the dataclass code cache goes in before anything else is imported (it must
see the core's classes being made, and importing cli.py already makes the engines' and the config's), then the
CLI runs. `python -m routesh` starts here too."""

from __future__ import annotations


def entry() -> None:
    """The `routesh` console command."""
    from ..core.codecache import install

    install()
    from .cli import entry as run

    run()
