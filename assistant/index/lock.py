"""One owner process per index folder: an OS file lock that dies with its process (kill -9 leaves none)."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from assistant.index.base import IndexLocked, IndexUnavailable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

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
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexUnavailable(f"cannot open the index lock {self.path}: {exc.strerror or exc}") from exc
        try:
            _lock(fd)
        except OSError:
            owner = _read_pid(fd)
            os.close(fd)
            if owner == os.getpid():
                raise IndexLocked(f"{self.folder} is already open in this process; close the other index "
                                  f"object first") from None
            who = f"pid {owner}" if owner else "pid unknown"
            raise IndexLocked(f"{self.folder} is in use by another Biseo process ({who}); close it or "
                              f"wait for it to finish") from None
        # The pid is only a hint for the message above; the kernel lock is what counts.
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (closing the descriptor releases it); safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _lock(fd: int) -> None:
    # flock belongs to the open file, so the kernel drops it when the process dies, however it dies.
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows: a byte-range lock, also released by the OS on exit
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", errors="ignore").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
