"""Token bytes to text while streaming: a character split over several tokens is held until it is whole."""

from __future__ import annotations

import codecs


class Utf8Stream:
    """Feed each token's bytes; get back only complete characters (invalid bytes become U+FFFD).

    llama.cpp tokens are byte sequences: a Korean syllable or an emoji may arrive as two or three
    tokens, and one token may end one character and start the next. Decoding each token alone loses
    or garbles those characters, so the bytes go through one incremental decoder for the whole answer.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> str:
        """The text completed by these bytes ("" while a character is still incomplete)."""
        return self._decoder.decode(data)

    @property
    def pending(self) -> bytes:
        """Bytes of a character not yet complete."""
        return self._decoder.getstate()[0]

    def finish(self) -> str:
        """End of the answer: an incomplete last character (cut by the token limit) is dropped, not shown as U+FFFD."""
        self._decoder.reset()
        return ""
