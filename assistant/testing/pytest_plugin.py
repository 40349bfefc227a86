"""Pytest fixtures for Biseo plugins, registered through the `pytest11` entry point `biseo`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from assistant.testing import ToolRunner, check_tool_contract


@pytest.fixture
def biseo_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh BISEO_HOME, so config, data and plugins never touch the real ones."""
    home = tmp_path_factory.mktemp("biseo-home")
    for key in list(os.environ):
        # A developer's own BISEO_* settings must not change test results; shared models may stay.
        if key.startswith("BISEO_") and key != "BISEO_MODELS_DIR":
            monkeypatch.delenv(key)
    monkeypatch.setenv("BISEO_HOME", str(home))
    return home


@pytest.fixture
def tool_runner(tmp_path_factory: pytest.TempPathFactory) -> ToolRunner:
    """Call `tool_runner(func, roots=[...], settings=None, approve=True, **arguments)` -> ToolOutcome.

    Also `tool_runner.prepare(func, **arguments)` and `tool_runner.needs_approval(func, **arguments)`.
    """
    return ToolRunner(data_dir=tmp_path_factory.mktemp("plugin-data"))


@pytest.fixture
def tool_contract() -> Callable:
    """`tool_contract(func)` asserts the tool is well declared and fails cleanly; returns its ToolSpec."""
    return check_tool_contract
