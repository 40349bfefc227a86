"""Shared fixtures for the built-in plugin tests: a local web server and a closed port."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest

Route = Callable[[dict[str, list[str]]], tuple[int, dict[str, str], bytes]]


@dataclass
class LocalWeb:
    """A real HTTP server on 127.0.0.1: add routes, read back the requests it got."""

    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def add(self, path: str, body: bytes | str | dict | list, *, status: int = 200,
            content_type: str = "text/html; charset=utf-8", headers: dict[str, str] | None = None) -> str:
        """Serve a fixed answer at `path`; returns its full URL."""
        if isinstance(body, (dict, list)):
            body, content_type = json.dumps(body), "application/json"
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = lambda query: (status, {"Content-Type": content_type, **(headers or {})}, data)
        return self.url + path


def _handler(web: LocalWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(parts.query)
            web.requests.append((parts.path, query))
            route = web.routes.get(parts.path)
            status, headers, body = route(query) if route else (404, {"Content-Type": "text/plain"}, b"not found")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass  # keep test output quiet

    return Handler


@pytest.fixture
def local_web(monkeypatch: pytest.MonkeyPatch):
    """A LocalWeb server for the test's duration; proxies are switched off so requests stay local."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    web = LocalWeb(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(web))
    web.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield web
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on, so connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
