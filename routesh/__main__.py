"""`python -m routesh` is the same as the `routesh` command."""

from .cli import main

raise SystemExit(main())
