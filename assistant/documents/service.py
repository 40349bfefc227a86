"""Attaches documents to an Assistant (placeholder until the documents service lands)."""

from __future__ import annotations


def attach(assistant) -> None:
    """Add this service's context providers, after-turn hooks and tool service to the assistant."""
