"""The desktop app's side panels; the main window builds them from PANELS (title, "module:Class")."""

from __future__ import annotations

PANELS: list[tuple[str, str]] = [
    ("Memory", "ui.panels.memory:MemoryPanel"),
    ("Documents", "ui.panels.documents:DocumentsPanel"),
    ("Plugins", "ui.panels.plugins:PluginsPanel"),
    ("Models", "ui.panels.models:ModelsPanel"),
    ("Settings", "ui.panels.settings:SettingsPanel"),
    ("Personas", "ui.panels.personas:PersonasPanel"),
    ("Feedback", "ui.panels.feedback:FeedbackPanel"),
    ("Review", "ui.panels.review:ReviewPanel"),
    ("Adapters", "ui.panels.adapters:AdaptersPanel"),
]


def load_panel(spec: str):
    """The panel class for a "module:Class" entry of PANELS."""
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)
