"""The parent side of an out-of-process plugin: start its host, proxy its tools, report crashes and hangs."""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from assistant.api import Permissions, ToolContext, ToolError
from assistant.tools.spec import ToolSpec, validate_against_schema

log = logging.getLogger("biseo.plugins.host")
MAX_LINE = 16 * 1024 * 1024  # a reply longer than this is treated as garbage
HOST_CODE = "from assistant.extensions.host import main; main()"


def host_command() -> list[str]:
    """How to start a plugin host: this Python, or the frozen app re-run as a host (packaging/entry.py)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--plugin-host"]
    return [sys.executable, "-P", "-c", HOST_CODE]


class HostError(Exception):
    """The plugin process failed: did not load in time, crashed, or broke the protocol."""


class PluginHost:
    """One plugin's host process; restarted by the next call after a crash, a kill or garbage."""

    def __init__(self, name: str, source: str, target: dict[str, Any], load_timeout_s: float = 20.0) -> None:
        self.name, self.source, self.target = name, source, target
        self.load_timeout_s = load_timeout_s
        self.proc: subprocess.Popen | None = None
        self._replies: queue.Queue[bytes | None] = queue.Queue()
        self._lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self.starts = 0

    # lifecycle
    def start(self) -> dict[str, Any]:
        """Start the process and load the plugin; returns its 'loaded' reply or raises HostError."""
        self.close()
        self.proc = subprocess.Popen(
            host_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=os.path.abspath(os.sep), start_new_session=True, close_fds=True)
        self.starts += 1
        self._replies = queue.Queue()
        # Reader threads instead of select(): portable to pipes on every platform.
        threading.Thread(target=self._read_replies, args=(self.proc, self._replies), daemon=True,
                         name=f"host-{self.name}-out").start()
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True, name=f"host-{self.name}-err").start()
        self._send({"op": "load", "name": self.name, "source": self.source, "target": self.target})
        reply = self._receive(timeout_s=self.load_timeout_s, what="loading")
        if reply.get("op") != "loaded":
            self.kill()
            raise HostError("the plugin process sent an unexpected first reply")
        return reply

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the process (a hang, a timeout, a cancel); safe from any thread."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass

    def close(self) -> None:
        """Stop the process and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        self.kill() if proc.poll() is None else None
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    # calls
    def call(self, tool: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        """Run one tool in the host; raises ToolError with a plain reason for every failure."""
        with self._lock:
            if not self.alive():
                try:
                    self.start()  # after a crash or a kill: a fresh process
                except HostError as exc:
                    raise ToolError(f"plugin {self.name} could not be restarted: {exc}") from None
            grant = ctx_permissions(ctx)
            try:
                self._send({"op": "call", "tool": tool, "arguments": arguments, "ctx": grant})
                reply = self._receive(cancel=ctx.cancel, what=f"running {tool}")
            except HostError as exc:
                raise ToolError(f"{tool} failed: {exc}") from None
        for cite in reply.get("citations") or []:
            if isinstance(cite, dict) and isinstance(cite.get("source"), str):
                ctx.cite(cite["source"], **{k: v for k, v in cite.items() if k not in ("n", "source")})
        if reply.get("ok"):
            if "bytes" in reply:
                return bytes(int(reply["bytes"]))
            return reply.get("value")
        if "refused" in reply:
            raise ToolError(f"{tool} was refused: {reply['refused']}")
        if "tool_error" in reply:
            raise ToolError(str(reply["tool_error"]))
        raise ToolError(f"{tool} failed: {reply.get('error', 'unknown error')}")

    def side_effects(self, tool: str, arguments: dict[str, Any]) -> bool:
        """Ask the plugin's own side_effects function; any failure counts as 'it changes things'."""
        with self._lock:
            try:
                if not self.alive():
                    self.start()
                self._send({"op": "side_effects", "tool": tool, "arguments": arguments})
                reply = self._receive(timeout_s=5, what="side_effects")
                return reply.get("value") is not False
            except (HostError, OSError):
                return True

    # protocol
    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message, ensure_ascii=True, default=str) + "\n").encode("ascii"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process died: the read reports how

    def _receive(self, *, timeout_s: float | None = None, cancel: Any = None, what: str) -> dict[str, Any]:
        proc = self.proc
        assert proc is not None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if deadline is not None and time.monotonic() > deadline:
                self.kill()
                self._reap(proc)
                raise HostError(f"the plugin did not finish {what} within {timeout_s:g} s; its process was killed")
            if cancel is not None and cancel.cancelled:
                self.kill()
                self._reap(proc)
                raise HostError("stopped; the plugin process was killed")
            try:
                line = self._replies.get(timeout=0.05)
                break
            except queue.Empty:
                continue
        if line is None:
            raise HostError(self._death(proc))
        try:
            if len(line) > MAX_LINE:
                raise ValueError("too long")
            reply = json.loads(line.decode("ascii"))
            if not isinstance(reply, dict):
                raise ValueError("not an object")
        except (UnicodeDecodeError, ValueError):
            self.kill()
            self._reap(proc)
            shown = line[:60].decode("ascii", "replace")
            raise HostError(f"the plugin process sent a malformed reply ({shown!r}); it was killed") from None
        return reply

    @staticmethod
    def _read_replies(proc: subprocess.Popen, replies: "queue.Queue[bytes | None]") -> None:
        """Hand each reply line to `_receive`; None when the channel closes (the process ended)."""
        assert proc.stdout is not None
        try:
            while True:
                line = proc.stdout.readline(MAX_LINE + 1)
                if not line:
                    break
                replies.put(line.rstrip(b"\n"))
        except (OSError, ValueError):
            pass
        replies.put(None)

    def _death(self, proc: subprocess.Popen) -> str:
        code = self._reap(proc)
        if code is None:
            return "the plugin process closed its channel"
        if code < 0:
            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
            status = f"killed by {how}"
        else:
            status = f"exit status {code}"
        tail = " | ".join(list(self._stderr)[-3:])
        return f"the plugin process crashed ({status})" + (f": {tail[-300:]}" if tail else "")

    @staticmethod
    def _reap(proc: subprocess.Popen) -> int | None:
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def _drain(self, proc: subprocess.Popen) -> None:
        """Keep the plugin's stderr (its prints, tracebacks) for logs and crash reports."""
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr.append(line)
                log.debug("[%s] %s", self.name, line)
        proc.stderr.close()


def ctx_permissions(ctx: ToolContext) -> dict[str, Any]:
    """What the host needs of the context: the confined roots, access, network and the data folder."""
    return {"call_id": ctx.call_id, "roots": [str(r) for r in ctx.roots], "access": ctx.access,
            "network": bool(getattr(ctx, "network", False)),
            "data_dir": str(ctx.data_dir) if ctx.data_dir else None, "conversation_id": ctx.conversation_id}


@dataclass
class RemoteToolSpec(ToolSpec):
    """A tool that lives in a plugin host: validated here against its JSON schema, run there."""

    host: PluginHost | None = None

    def validate(self, arguments: Any) -> dict[str, Any]:
        return validate_against_schema(self.schema, arguments)

    def call(self, kwargs: dict[str, Any], ctx: Any) -> Any:
        assert self.host is not None
        return self.host.call(self.name, kwargs, ctx)

    def kill(self) -> None:
        if self.host is not None:
            self.host.kill()


def remote_spec(described: dict[str, Any], host: PluginHost, grant: Permissions | None) -> RemoteToolSpec:
    """The parent's ToolSpec for a tool the host described."""
    side = described.get("side_effects")
    name = str(described["name"])
    side_effects: Any = (lambda args: host.side_effects(name, args)) if side == "depends" else bool(side)
    return RemoteToolSpec(
        name=name, description=str(described.get("description", "")), func=lambda **kw: None,
        params_model=BaseModel, schema=dict(described.get("schema") or {"type": "object", "properties": {}}),
        side_effects=side_effects, network=bool(described.get("network")),
        file_access=str(described.get("files", "none")),
        examples=[(str(t), dict(a)) for t, a in described.get("examples") or []],
        timeout_s=described.get("timeout_s"), grant=grant, isolation="process", host=host)
