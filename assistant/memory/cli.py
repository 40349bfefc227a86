"""The `biseo memory` commands (placeholder until the memory service lands)."""

from __future__ import annotations


def register(sub) -> None:
    """Add this service's subcommands to the `biseo` parser."""
