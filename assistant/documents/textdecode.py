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


def _utf16_without_bom(data: bytes) -> Decoded | None:
    """UTF-16 saved without a byte-order mark (some Windows tools): for Latin text every other byte is NUL."""
    head = data[:SNIFF_BYTES]
    half = len(head) // 2
    if half < 2:
        return None
    for zeros, other, encoding in ((head[1::2], head[0::2], "utf-16-le"), (head[0::2], head[1::2], "utf-16-be")):
        if zeros.count(0) > 0.6 * half and other.count(0) == 0:
            try:
                return Decoded(data[: len(data) - len(data) % 2].decode(encoding), encoding,
                               [f"no byte-order mark; read as {encoding.upper()}"])
            except UnicodeDecodeError:
                return None
    return None


def decode_text(data: bytes) -> Decoded:
    """UTF-8 (with or without BOM), UTF-16 (with BOM, or Latin text without); else Windows-1252/Latin-1, warned."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            cut = len(data) % 2 if encoding == "utf-16" else 0  # a UTF-16 file cut in the middle of a character
            try:
                text = data[: len(data) - cut].decode(encoding)
            except UnicodeDecodeError:
                break
            return Decoded(text, encoding, ["the file ends in the middle of a character; its last byte was "
                                            "left out"] if cut else [])
    unmarked = _utf16_without_bom(data)
    if unmarked is not None:
        return unmarked
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
