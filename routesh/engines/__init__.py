"""Engines: one wire protocol each, their registry, and dispatch over them."""
