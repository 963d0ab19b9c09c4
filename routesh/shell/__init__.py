"""The routesh shell: an interactive REPL onto the same pipeline as the one-shot CLI."""
