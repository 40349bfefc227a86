"""The hooks a plugin may implement."""

from __future__ import annotations

from typing import Any, Callable

from assistant.api import hookspec


@hookspec
def register_tools(register: Callable[[Any], None]) -> None:
    """Call `register(func)` for each tool the plugin provides (functions decorated with @tool)."""
