"""Biseo: a local-first desktop assistant (core package, free of Qt)."""

__version__ = "0.1.0"
