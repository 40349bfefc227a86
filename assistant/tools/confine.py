"""Confine a user- or model-given path to the folders the user allowed."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path


class PathRefused(PermissionError):
    """The path is outside the allowed folders or malformed."""


def confine_path(raw: str, roots: list[Path]) -> Path:
    """Resolve `raw` (relative to the first root) and refuse anything that leaves every root.

    Symlinks are resolved before the check, so a link that points out of a root is refused, and
    so is a directory swapped for such a link.
    """
    if not roots:
        raise PathRefused("no folders are allowed for files; add one to tools.file_roots in settings")
    if not isinstance(raw, str) or not raw.strip():
        raise PathRefused("empty path")
    if "\x00" in raw:
        raise PathRefused("path contains a NUL byte")
    text = raw.strip()
    if "%" in text and urllib.parse.unquote(text) != text:
        decoded = urllib.parse.unquote(text)
        # Refuse encoded traversal outright: a file name that really contains '%2e%2e' is rare.
        if ".." in decoded.replace("\\", "/").split("/") or decoded.startswith(("/", "~")):
            raise PathRefused(f"{raw!r} is URL-encoded and leaves the allowed folders")
    resolved_roots = [r.expanduser().resolve() for r in roots]
    if text.startswith("~"):
        candidate = Path(os.path.expanduser(text))
    else:
        candidate = Path(text)
    if not candidate.is_absolute():
        candidate = resolved_roots[0] / candidate
    resolved = candidate.resolve()
    for root in resolved_roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    allowed = ", ".join(str(r) for r in resolved_roots)
    raise PathRefused(f"{raw!r} is outside the allowed folders ({allowed})")
