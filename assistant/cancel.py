"""A cancel token that long operations poll; setting it stops generation and tools cooperatively."""

from __future__ import annotations

import threading


class CancelToken:
    """Thread-safe flag: `cancel()` from any thread, `cancelled` polled by the worker."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to `timeout` seconds, waking early when cancelled; returns `cancelled`."""
        return self._event.wait(timeout)
