"""One write transaction on a shared SQLite connection: BEGIN IMMEDIATE … COMMIT under the store's lock."""

from __future__ import annotations

import sqlite3
import threading


class Transaction:
    """Takes the lock, begins at once (so a second writer waits here, not at COMMIT); rolls back on any error."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock | threading.RLock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()  # a locked or broken database must not leave the lock held
            raise
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
