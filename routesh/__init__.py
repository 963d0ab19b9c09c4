"""routesh: route each AI coding prompt to the right model, key and engine, and record what it cost."""

__version__ = "0.1.0"
