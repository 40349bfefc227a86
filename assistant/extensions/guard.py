"""Enforce a plugin's permissions inside its host process with an audit hook (containment, not a sandbox).

The hook sees Python-level file opens, directory changes, sockets and process spawns and refuses
what the plugin did not declare. Code that goes around Python (ctypes, C extensions) is not seen.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from pathlib import Path
from typing import Any, Callable

from assistant.api import PermissionRefused

# Files the standard library itself reads (time zones, name resolution, certificates).
SYSTEM_READS = ("/dev/null", "/dev/urandom", "/etc/localtime", "/usr/share/zoneinfo", "/etc/ssl",
                "/etc/pki", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/gai.conf",
                "/etc/services", "/etc/protocols", "/etc/mime.types")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_NETWORK = ("socket.connect", "socket.connect_ex", "socket.getaddrinfo", "socket.gethostbyname",
            "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.getnameinfo", "socket.sendto",
            "socket.sendmsg", "socket.bind")
_SPAWN = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
          "pty.spawn", "os.startfile")
_WRITES_FIRST = ("os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown", "os.utime",
                 "shutil.rmtree", "os.chflags", "os.lchflags", "os.setxattr", "os.removexattr")
_WRITES_BOTH = ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copytree", "shutil.move")


class Policy:
    """What the plugin may do right now: read and write roots, network; spawning is never allowed."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.python_reads = _python_paths()
        self.read_roots: list[str] = []
        self.write_roots: list[str] = []
        self.network = False
        self.files = "none"
        self.refusals: list[str] = []

    def set_call(self, *, roots: list[str], access: str, network: bool, data_dir: str | None) -> None:
        """The permissions of one call (the parent computed them from the plugin's declaration)."""
        own = [_real(data_dir)] if data_dir else []
        granted = [_real(r) for r in roots] if access in ("read", "write") else []
        self.files = access
        self.read_roots = granted + own
        self.write_roots = (granted if access == "write" else []) + own
        self.network = network
        self.refusals = []

    def refuse(self, message: str) -> None:
        text = f"{self.plugin} has no permission to {message}"
        self.refusals.append(text)
        raise PermissionRefused(text)

    def check_path(self, raw: Any, write: bool) -> None:
        if raw is None or isinstance(raw, int):
            return  # an already open file descriptor: it was checked when it was opened
        try:
            path = _real(os.fsdecode(raw))
        except (TypeError, ValueError):
            return
        if write:
            if not _inside(path, self.write_roots):
                what = "write files" if self.files != "read" else "write files (it declares read-only access)"
                self.refuse(f"{what}: {path}")
        elif not (_inside(path, self.read_roots) or _inside(path, self.python_reads)):
            self.refuse(f"read files outside its folders: {path}")


_policy: Policy | None = None
_busy = threading.local()


def install(policy: Policy) -> Policy:
    """Install the audit hook for this process (once; it cannot be removed) and make `policy` current."""
    global _policy
    first = _policy is None
    _policy = policy
    if first:
        sys.addaudithook(_hook)
    return policy


def _hook(event: str, args: tuple) -> None:
    handler = _HANDLERS.get(event)
    if handler is None or _policy is None or getattr(_busy, "on", False):
        return
    _busy.on = True  # resolving a path must not re-enter the hook
    try:
        handler(_policy, args)
    finally:
        _busy.on = False


def _on_open(policy: Policy, args: tuple) -> None:
    path, mode, flags = (tuple(args) + (None, None, None))[:3]
    write = bool(isinstance(mode, str) and any(c in mode for c in "wax+"))
    write = write or bool(isinstance(flags, int) and flags & _WRITE_FLAGS)
    policy.check_path(path, write)


def _on_list(policy: Policy, args: tuple) -> None:
    policy.check_path(args[0] if args else ".", False)


def _on_write_first(policy: Policy, args: tuple) -> None:
    if args:
        policy.check_path(args[0], True)


def _on_write_both(policy: Policy, args: tuple) -> None:
    for raw in args[:2]:
        policy.check_path(raw, True)


def _on_network(policy: Policy, args: tuple) -> None:
    if not policy.network:
        target = next((a for a in args if isinstance(a, (str, tuple, bytes))), "")
        policy.refuse(f"use the network (it declares network=False): {target!r}")


def _on_spawn(policy: Policy, args: tuple) -> None:
    what = args[0] if args else ""
    policy.refuse(f"start processes (plugins may not spawn programs): {what!r}")


_HANDLERS: dict[str, Callable[[Policy, tuple], None]] = {
    "open": _on_open, "os.listdir": _on_list, "os.scandir": _on_list,
    **{e: _on_write_first for e in _WRITES_FIRST}, **{e: _on_write_both for e in _WRITES_BOTH},
    **{e: _on_network for e in _NETWORK}, **{e: _on_spawn for e in _SPAWN},
}


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def _inside(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _python_paths() -> list[str]:
    """Where Python and the installed packages live: imports must keep working."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, *SYSTEM_READS}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        found.add(sysconfig.get_paths().get(key, ""))
    found.update(p for p in sys.path if p and os.path.isdir(p))
    found.add(str(Path(__file__).resolve().parents[1]))  # the assistant package (editable installs)
    return sorted({_real(p) for p in found if p})
