"""Turn a text file's bytes into str: UTF-8 when it is, a declared fallback when not, never binary."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

SNIFF_BYTES = 8192


class DecodeError(Exception):
    """The bytes are not text (a binary file with a text extension)."""


@dataclass
class Decoded:
    """The text and what the reader should know about how it was read."""

    text: str
    encoding: str
    warnings: list[str] = field(default_factory=list)


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the first 8 KB mean the file is not text."""
    head = data[:SNIFF_BYTES]
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls / len(head) > 0.05


def decode_text(data: bytes) -> Decoded:
    """UTF-8 (with or without BOM) or UTF-16 with BOM; otherwise Windows-1252/Latin-1, with a warning."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                break
    if looks_binary(data):
        raise DecodeError("binary content: this does not look like a text file despite its extension")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        where = exc.start
    # Most non-UTF-8 text on desktops is Windows-1252 (a superset of Latin-1 for printable characters).
    try:
        text = data.decode("cp1252")
        return Decoded(text, "cp1252", [f"not UTF-8 (first bad byte at offset {where}); read as Windows-1252, "
                                        "so a few accented characters may be wrong"])
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so nothing is dropped, but bytes cp1252 leaves undefined become controls.
        return Decoded(data.decode("latin-1"), "latin-1",
                       [f"not UTF-8 (first bad byte at offset {where}); read as Latin-1, "
                        "some characters may be wrong (lossy)"])
