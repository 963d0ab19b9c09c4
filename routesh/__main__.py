"""`python -m routesh` is the same as the `routesh` command."""

from .commands.cli import main

raise SystemExit(main())
