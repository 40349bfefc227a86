"""Biseo's desktop app (PySide6): a window over the same core the CLI uses; the core never imports Qt."""

import assistant.settings  # noqa: F401 - pydantic must be fully imported before shiboken's import hook sees it
