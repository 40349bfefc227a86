"""Errors of the learning package that callers catch without importing torch."""

from __future__ import annotations


class TrainingCancelled(RuntimeError):
    """The user stopped the run; nothing was written over an existing adapter."""
