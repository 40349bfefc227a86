"""The `biseo documents` commands (placeholder until the documents service lands)."""

from __future__ import annotations


def register(sub) -> None:
    """Add this service's subcommands to the `biseo` parser."""
