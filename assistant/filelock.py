"""An exclusive OS lock on a file that dies with its process (kill -9 leaves none), with the holder's pid."""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class LockHeld(OSError):
    """Another open file holds the lock: another process, or another object of this one."""

    def __init__(self, path: Path, owner: int | None) -> None:
        super().__init__(f"{path} is locked by pid {owner or 'unknown'}")
        self.owner = owner


def take(path: Path) -> int:
    """Open `path` (and its folder) if needed, lock it without waiting and write our pid in it; the descriptor.

    Raises LockHeld naming the holder's pid, or OSError when the file cannot be opened.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock(fd)
    except OSError:
        owner = _read_pid(fd)
        os.close(fd)
        raise LockHeld(path, owner) from None
    # The pid is only a hint for the messages; the kernel lock is what counts.
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, str(os.getpid()).encode())
    return fd


def give_up(fd: int) -> None:
    """Release a lock from take(): clear the pid hint, then close (closing is what releases it)."""
    try:
        os.ftruncate(fd, 0)
    except OSError:
        pass
    os.close(fd)


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
