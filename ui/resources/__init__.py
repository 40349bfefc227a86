"""The app's own icons (SVG drawn for Biseo) and its light theme."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


def icon_path(name: str) -> Path:
    return HERE / "icons" / f"{name}.svg"


@lru_cache(maxsize=None)
def icon(name: str):
    """A QIcon from icons/NAME.svg (cached; needs a QApplication)."""
    from PySide6.QtGui import QIcon

    return QIcon(str(icon_path(name)))


def stylesheet() -> str:
    """The light theme; icon paths inside it are made absolute."""
    text = (HERE / "app.qss").read_text(encoding="utf-8")
    return text.replace("@ICONS@", (HERE / "icons").as_posix())
