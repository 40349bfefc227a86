"""One connection per MCP server, through the official `mcp` SDK, on a shared background event loop.

The rest of Biseo is threaded and blocking; the SDK is async. Every server's session lives as a task
on one asyncio loop in a daemon thread, and callers wait on futures with their own timeouts and
cancel tokens. A server that fails to start, crashes, hangs or answers garbage is stopped (the SDK
kills its process tree) and started again by the next use.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from assistant.settings import McpServerConfig

log = logging.getLogger("biseo.mcp")
STOP_GRACE_S = 6.0  # the SDK's shutdown: close stdin, 2 s, SIGTERM, 2 s, SIGKILL


class McpFailure(Exception):
    """The server could not do what was asked: it did not start, crashed, hung or broke the protocol."""


class EventLoopThread:
    """An asyncio loop running in a daemon thread; coroutines are submitted from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="biseo-mcp", daemon=True)
        self._thread.start()

    def submit(self, coro: Any) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)


def describe_target(config: McpServerConfig) -> str:
    """How the server is reached, in a few words: 'stdio: mcp-server-time' or 'HTTP: http://…'."""
    if config.url:
        return f"HTTP: {config.url}"
    program = Path(config.command).name
    if program.startswith("python") and config.args[:1] == ["-m"] and len(config.args) > 1:
        program = f"{program} -m {config.args[1]}"
    return f"stdio: {program}"


def wait_for(future: concurrent.futures.Future, timeout_s: float, cancel: Any = None) -> Any:
    """The future's result; TimeoutError after `timeout_s`, InterruptedError when `cancel` fires."""
    deadline = time.monotonic() + timeout_s
    while True:
        if cancel is not None and getattr(cancel, "cancelled", False):
            future.cancel()
            raise InterruptedError("stopped")
        left = deadline - time.monotonic()
        if left <= 0:
            future.cancel()
            raise TimeoutError
        try:
            return future.result(timeout=min(left, 0.1))
        except concurrent.futures.TimeoutError:
            continue


class McpConnection:
    """One MCP server: started on first use, kept running, stopped on failure and restarted next use."""

    def __init__(self, name: str, config: McpServerConfig, loop: EventLoopThread, log_dir: Path | None = None,
                 client_version: str = "") -> None:
        self.name, self.config, self._loop = name, config, loop
        self.log_path = (log_dir / f"mcp-{name}.log") if log_dir else None
        self.client_version = client_version
        self.state = "not started"  # "starting", "running", "failed", "stopped"
        self.last_error = ""
        self.starts = 0
        self.failures = 0
        self.failed_at = 0.0
        self.on_change: Callable[[McpConnection], None] | None = None
        self._client: Any = None
        self._task: concurrent.futures.Future | None = None
        self._stop: asyncio.Event | None = None
        self._finished = threading.Event()  # set when the current session's task has fully ended
        self._lock = threading.Lock()
        self._stderr_file: Any = None
        self._errors: collections.deque[str] = collections.deque(maxlen=2)  # malformed lines from the server
        self._end_reason = ""  # why the current session ended by itself (e.g. the HTTP connection failed)

    # status
    def describe(self) -> str:
        """The state in plain words, for `biseo plugins list` and the Plugins panel."""
        if self.state == "running":
            # Stray non-MCP lines are tolerated (the SDK skips them), but the user should know.
            return f"running; it also wrote {self._garbage()}" if self._errors else "running"
        if self.state == "failed":
            return f"failed: {self.last_error}; it restarts on the next use"
        if self.state == "stopped":
            return "stopped; starts on the next use"
        return "not started; starts on first use"

    def _set(self, state: str, error: str = "") -> None:
        self.state = state
        if state == "failed":
            self.last_error, self.failures, self.failed_at = error, self.failures + 1, time.time()
            log.warning("MCP server %s: %s", self.name, error)
        if self.on_change is not None:
            try:
                self.on_change(self)
            except Exception:  # noqa: BLE001 - a listener must not break the connection
                log.exception("MCP state listener failed")

    # lifecycle
    def ensure_started(self) -> Any:
        """The connected SDK client, starting the server when it is not running (raises McpFailure)."""
        with self._lock:
            if self._client is not None and self._task is not None and not self._task.done():
                if not _closed(self._client):
                    return self._client
                # It quit while idle: the session is dead though its task waits on. Restart it now.
                log.warning("MCP server %s had stopped%s; starting it again", self.name, self._stderr_tail())
            self._shutdown(wait=True)
            self.starts += 1
            self._errors.clear()  # a new process: the last one's stray lines say nothing about it
            self._end_reason = ""
            self._set("starting")
            ready: concurrent.futures.Future = concurrent.futures.Future()
            self._finished = threading.Event()
            self._task = self._loop.submit(self._run(ready, self.starts, self._finished))
            try:
                client = wait_for(ready, self.config.start_timeout_s)
            except TimeoutError:
                self._shutdown(wait=False)
                error = f"did not start within {self.config.start_timeout_s:g} s{self._stderr_tail()}"
                self._set("failed", error)
                raise McpFailure(error) from None
            except Exception as exc:  # noqa: BLE001 - whatever the transport raised, say it plainly
                self._shutdown(wait=False)
                verb = "could not connect" if self.config.url else "could not start"
                error = f"{verb}: {start_failure(exc)}{self._stderr_tail()}"
                self._set("failed", error)
                raise McpFailure(error) from None
            self._client = client
            self._set("running")
            return client

    async def _run(self, ready: concurrent.futures.Future, run: int, finished: threading.Event) -> None:
        """The session's whole life: connect, hand the client over, wait for stop, disconnect."""
        from mcp import Client

        # A cancelled run may end after the next one began: it touches shared state only while current.
        current = lambda: self.starts == run  # noqa: E731
        self._stop = stop = asyncio.Event()
        log_file = None
        try:
            transport = self._transport()
            log_file = self._stderr_file
            async with Client(transport, client_info=_client_info(self.client_version), cache=None,
                              message_handler=self._on_message) as client:
                ready.set_result(client)
                await stop.wait()
        except BaseException as exc:  # noqa: BLE001 - report every way the session can end
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else McpFailure(reason(exc)))
            elif current() and self.state == "running" and not isinstance(exc, asyncio.CancelledError):
                self._client, self._end_reason = None, reason(exc)
                self._set("failed", f"stopped unexpectedly: {reason(exc)}{self._stderr_tail()}")
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if current():
                self._client = None
            self._close_log(log_file)
            finished.set()

    def _transport(self) -> Any:
        """Streamable HTTP for a URL; otherwise the command over stdio, its stderr kept in a log file."""
        if self.config.url:
            return self.config.url
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(command=self.config.command, args=list(self.config.args),
                                       env=dict(self.config.env) or None,
                                       cwd=self.config.cwd or str(Path.home()))
        errlog = self._open_log()
        return stdio_client(params, errlog=errlog) if errlog is not None else stdio_client(params)

    async def _on_message(self, message: Any) -> None:
        """Malformed lines from the server arrive here as exceptions; keep them for the error report."""
        if isinstance(message, Exception):
            self._errors.append(not_mcp(message))

    def _open_log(self) -> Any:
        if self.log_path is None:
            return None
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._stderr_file = open(self.log_path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError:
            return None
        return self._stderr_file

    def _close_log(self, file: Any) -> None:
        if self._stderr_file is file:
            self._stderr_file = None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass

    def _garbage(self) -> str:
        """The first stray lines this process wrote on stdout, described."""
        return "; ".join(dict.fromkeys(self._errors))

    def _stderr_tail(self) -> str:
        """The last lines the server wrote to stderr, for crash reports."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 4000))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return f" (its last words: {' | '.join(lines[-2:])[-300:]})" if lines else ""

    def stop(self, error: str = "") -> None:
        """Stop the server (its process is killed if it does not exit); `error` marks it failed."""
        with self._lock:
            self._shutdown(wait=not error)
            if error:
                self._set("failed", error)
            elif self.state in ("running", "starting"):
                self._set("stopped")

    def _shutdown(self, *, wait: bool) -> None:
        task, stop, finished = self._task, self._stop, self._finished
        self._task, self._client = None, None
        if task is None:
            return
        if not task.done():
            if stop is not None:
                self._loop.loop.call_soon_threadsafe(stop.set)  # a clean end: the SDK closes the server's stdin
            if not wait:
                task.cancel()  # a hung or broken session: cancel it; the SDK still kills the process tree
        # Not task.result(): a cancelled future is "done" at once, while its session is still closing (and
        # would close the next session's log file).
        finished.wait(STOP_GRACE_S)

    # requests
    def request(self, what: str, make: Callable[[Any], Any], timeout_s: float, cancel: Any = None) -> Any:
        """Run `make(client)` (a coroutine) on the session; failures stop the server and raise McpFailure."""
        client = self.ensure_started()
        future = self._loop.submit(make(client))
        try:
            return wait_for(future, timeout_s, cancel)
        except TimeoutError:
            garbage = f" (it wrote {self._garbage()})" if self._errors else ""
            error = f"did not answer {what} within {timeout_s:g} s, so it was stopped{garbage}"
            self.stop(error)
            raise McpFailure(error) from None
        except InterruptedError:
            self.stop("stopped while it was working; it restarts on the next use")
            raise McpFailure("stopped; the MCP server was stopped too") from None
        except Exception as exc:  # noqa: BLE001 - crash, protocol error, malformed result
            if _is_server_error(exc):
                raise  # the server answered with an error: the session is fine
            garbage = f" (it also wrote {self._garbage()})" if self._errors else ""
            cause = ""
            if _code(exc) == -32000 and self.config.url:  # HTTP closed: the session's own end says why
                self._finished.wait(1.0)
                cause = f" ({self._end_reason})" if self._end_reason else ""
            error = f"{failure(exc, what, remote=bool(self.config.url))}{cause}{garbage}{self._stderr_tail()}"
            self.stop(error)
            raise McpFailure(error) from None

    def list_tools(self) -> list[Any]:
        """Every tool the server offers (all pages)."""

        async def fetch(client: Any) -> list[Any]:
            tools, cursor = [], None
            for _ in range(50):  # a server that pages forever is cut off
                page = await client.list_tools(cursor=cursor)
                tools += list(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            return tools

        return self.request("the tool list", fetch, self.config.start_timeout_s)

    def call_tool(self, tool: str, arguments: dict[str, Any], cancel: Any = None) -> Any:
        """Call one tool; returns the SDK's CallToolResult (raises McpFailure or the server's MCPError)."""
        return self.request(f"a call to {tool}", lambda client: client.call_tool(tool, arguments),
                            self.config.timeout_s, cancel)


def _is_server_error(exc: BaseException) -> bool:
    """An error the server itself sent (e.g. 'unknown tool'), as opposed to a broken connection."""
    try:
        from mcp.shared.exceptions import MCPError
    except ImportError:
        return False
    return isinstance(exc, MCPError) and exc.code not in (-32000, -32001)  # connection closed / timeout


def _code(exc: BaseException) -> int | None:
    """The JSON-RPC error code of an SDK MCPError (-32000: the connection closed), else None."""
    try:
        from mcp.shared.exceptions import MCPError
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return None
    exc = leaf(exc)
    return exc.code if isinstance(exc, MCPError) else None


def _closed(client: Any) -> bool:
    """True when the SDK client's connection has ended (the server quit while idle)."""
    try:  # the SDK keeps no public flag for this; when its internals change, the check just stays off
        return bool(client.session._dispatcher._closed)
    except Exception:  # noqa: BLE001
        return False


def failure(exc: BaseException, what: str, remote: bool = False) -> str:
    """What went wrong with a request, in words: the server quit, answered malformed, or another fault."""
    from pydantic import ValidationError

    exc = leaf(exc)
    if _code(exc) == -32000:  # CONNECTION_CLOSED
        return f"lost the connection during {what}" if remote else f"stopped (it crashed or quit) during {what}"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "the result"
        return f"answered {what} with a malformed result ({where}: {first.get('msg', 'invalid')})"
    return f"failed {what}: {reason(exc)}"


def start_failure(exc: BaseException) -> str:
    """Why a server did not start: it quit before the handshake, or what the transport raised."""
    if _code(exc) == -32000:  # CONNECTION_CLOSED
        return "it quit before answering"
    return reason(exc)


def not_mcp(exc: BaseException) -> str:
    """A line the server wrote on stdout that is not an MCP message, described for the error report."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return f"a line that is not JSON: {str(first.get('input', ''))[:80]!r}"
        return "a JSON line that is not a valid MCP (JSON-RPC) message"
    return f"something that is not MCP ({reason(exc)})"


def _client_info(version: str) -> Any:
    from mcp.types import Implementation

    return Implementation(name="biseo", version=version or "0")


def reason(exc: BaseException) -> str:
    """One readable line for an exception (an exception group: its first leaf)."""
    exc = leaf(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 300:
        text = text[:300] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def leaf(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups: the one that says what happened."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
