"""The tools plugins registered, by name, with the plugin that owns each."""

from __future__ import annotations

from assistant.tools.spec import ToolDefinitionError, ToolSpec


class ToolRegistry:
    """Holds ToolSpecs; a name can be registered once."""

    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def add(self, spec: ToolSpec, plugin: str) -> None:
        if spec.name in self._tools:
            owner = self._tools[spec.name].plugin
            raise ToolDefinitionError(f"tool {spec.name!r} is already registered by plugin {owner!r}")
        spec.plugin = plugin
        self._tools[spec.name] = spec

    def remove(self, name: str) -> None:
        """Forget a tool (an MCP server removed while Biseo runs)."""
        self._tools.pop(name, None)

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def all(self) -> list[ToolSpec]:
        return list(self._tools.values())

    def by_plugin(self, plugin: str) -> list[ToolSpec]:
        return [t for t in self._tools.values() if t.plugin == plugin]

    def enabled(self, disabled: list[str] | set[str]) -> list[ToolSpec]:
        """Tools offered to the model, in registration order."""
        off = set(disabled)
        return [t for t in self._tools.values() if t.name not in off and t.plugin not in off]
