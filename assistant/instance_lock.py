"""One process per data folder: a second Biseo process opening the same data is refused, naming the first."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from assistant.filelock import LockHeld, give_up, take

LOCK_NAME = "biseo.lock"

# Per process: path -> [descriptor, holders]. Several Assistants of one process (tests, the UI's rebuilds)
# share the one OS lock; it is given up when the last of them closes.
_held: dict[Path, list[int]] = {}
_guard = threading.Lock()


class InstanceLocked(RuntimeError):
    """Another process has this data open."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"Biseo is already running with this data ({who}): {data_dir}. Close that one first, "
                         f"or set BISEO_HOME to use other data.")
        self.pid = pid
        self.data_dir = data_dir


class InstanceLock:
    """An exclusive OS lock on `<data>/biseo.lock`: the kernel drops it when its process dies, even by kill -9."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.path = self.data_dir / LOCK_NAME
        self._mine = False

    @property
    def held(self) -> bool:
        return self._mine

    def acquire(self) -> "InstanceLock":
        """Take the lock (or share this process's), else raise InstanceLocked; re-acquiring is a no-op."""
        with _guard:
            if self._mine:
                return self
            entry = _held.get(self.path)
            if entry is None:
                try:
                    fd = take(self.path)
                except LockHeld as held:
                    raise InstanceLocked(self.data_dir, held.owner) from None
                entry = _held[self.path] = [fd, 0]
            entry[1] += 1
            self._mine = True
        return self

    def release(self) -> None:
        """Give this holder's share up; the OS lock goes with the process's last one. Safe to call twice."""
        with _guard:
            if not self._mine:
                return
            self._mine = False
            entry = _held.get(self.path)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                del _held[self.path]
                give_up(entry[0])

