"""One owner process per index folder: an OS file lock that dies with its process (kill -9 leaves none)."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from assistant.filelock import LockHeld, give_up, take
from assistant.index.base import IndexLocked, IndexUnavailable

LOCK_NAME = "biseo-index.lock"


class FolderLock:
    """An exclusive, non-blocking lock on `<folder>/biseo-index.lock`, holding the owner's pid."""

    def __init__(self, folder: str | os.PathLike[str], name: str = LOCK_NAME) -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "FolderLock":
        """Take the lock or raise IndexLocked naming the process that has it; re-acquiring is a no-op."""
        if self._fd is not None:
            return self
        try:
            self._fd = take(self.path)
        except LockHeld as held:
            if held.owner == os.getpid():
                raise IndexLocked(f"{self.folder} is already open in this process; close the other index "
                                  f"object first") from None
            who = f"pid {held.owner}" if held.owner else "pid unknown"
            raise IndexLocked(f"{self.folder} is in use by another Biseo process ({who}); close it or "
                              f"wait for it to finish") from None
        except OSError as exc:
            raise IndexUnavailable(f"cannot open the index lock {self.path}: {exc.strerror or exc}") from exc
        return self

    def release(self) -> None:
        """Give the lock up (closing the descriptor releases it); safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            give_up(fd)

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
