"""Import pydantic before pytest-qt's PySide6 import hook sees a test module load it (the hook breaks
pydantic's lazy imports: "cannot import name 'import_string' from partially initialized module")."""

import assistant.settings  # noqa: F401
