"""Subcommands of the `routesh` CLI, each imported only when used."""
