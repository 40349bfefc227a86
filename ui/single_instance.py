"""One running app per user and BISEO_HOME: a second launch asks the first to show itself and exits."""

from __future__ import annotations

import getpass
import hashlib
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

MESSAGE = b"show\n"


def server_name(home: str | None = None, user: str | None = None) -> str:
    """A local-socket name unique to this user and Biseo home (short: some systems limit its length)."""
    try:
        user = user or getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (odd containers): still one per home
        user = "user"
    home = home if home is not None else os.environ.get("BISEO_HOME", "")
    digest = hashlib.sha256(f"{user}\0{home}".encode()).hexdigest()[:16]
    return f"biseo-{digest}"


class SingleInstance(QObject):
    """listen() in the first instance; signal_existing() in a later one."""

    activated = Signal()

    def __init__(self, name: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self.server: QLocalServer | None = None
        self._sockets: list[QLocalSocket] = []

    def signal_existing(self, timeout_ms: int = 800) -> bool:
        """True when another instance is running and was asked to show its window."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(MESSAGE)
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return True

    def listen(self) -> bool:
        """Become the instance others find; a stale socket left by a crash is removed first."""
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.UserAccessOption)
        if not self.server.listen(self.name):
            QLocalServer.removeServer(self.name)
            if not self.server.listen(self.name):
                return False
        self.server.newConnection.connect(self._on_connection)
        return True

    def _on_connection(self) -> None:
        while self.server is not None and self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._sockets.append(socket)
            socket.readyRead.connect(self._read)
            socket.disconnected.connect(self._forget)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket | None = None) -> None:
        socket = socket if isinstance(socket, QLocalSocket) else self.sender()
        if not isinstance(socket, QLocalSocket):
            return
        if MESSAGE.strip() in bytes(socket.readAll()):
            self.activated.emit()

    def _forget(self) -> None:
        socket = self.sender()
        if socket in self._sockets:
            self._sockets.remove(socket)
            socket.deleteLater()

    def close(self) -> None:
        for socket in self._sockets:
            socket.abort()
        self._sockets = []
        if self.server is not None:
            self.server.close()
            self.server = None
