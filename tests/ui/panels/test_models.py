"""Models panel: the bundled models are listed; a download shows progress, can be cancelled and resumed."""

from __future__ import annotations

import hashlib
import re
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.app import Assistant
from assistant.paths import resolve_paths
from assistant.settings import Settings
from ui.panels.models import ModelsPanel

DATA = bytes(range(256)) * 8192  # 2 MiB
BLOCK = 64 * 1024


class _SlowFile(BaseHTTPRequestHandler):
    """Serves DATA with byte ranges, a block at a time, slowly enough to press Cancel."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        self.server.ranges.append(self.headers.get("Range"))
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(DATA) - 1}/{len(DATA)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(DATA) - start))
        self.end_headers()
        try:
            for at in range(start, len(DATA), BLOCK):
                self.wfile.write(DATA[at:at + BLOCK])
                self.wfile.flush()
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _SlowFile)
    httpd.daemon_threads = True
    httpd.ranges = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def models_app(tmp_path, monkeypatch, fake_backend, server, memory_index, docs_index):
    """An assistant whose models folder is private and holds a user manifest for the local server."""
    models = tmp_path / "models"
    (models / "manifests").mkdir(parents=True)
    (models / "manifests" / "tiny-local.toml").write_text(f"""
name = "tiny-local"
display_name = "Tiny test model"
kind = "llm"
file = "tiny-local.gguf"
url = "http://127.0.0.1:{server.server_address[1]}/tiny.gguf"
sha256 = "{hashlib.sha256(DATA).hexdigest()}"
size = {len(DATA)}
context_length = 2048
chat_format = "chatml"
tool_calling = "grammar"
licence = "Apache-2.0"
ram_hint_gb = 0.1
""")
    monkeypatch.setenv("BISEO_MODELS_DIR", str(models))
    app = Assistant(Settings(), resolve_paths(), backend=fake_backend(), builtin_plugins=())
    yield app
    app.close()


def row_of(panel, name):
    for r in range(panel.table.rowCount()):
        if panel.table.item(r, 0).data(256) == name:  # Qt.UserRole
            return [panel.table.item(r, c).text() for c in range(panel.table.columnCount())]
    raise AssertionError(f"{name} not listed")


def test_bundled_models_listed_and_a_download_cancelled_resumed_and_used(qtbot, models_app, server, idle):
    from tests.ui.panels.conftest import make_services

    services = make_services(models_app)
    panel = ModelsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    qwen = row_of(panel, "qwen2.5-coder-0.5b-instruct")
    assert qwen[1] == "Chat" and qwen[4].startswith("bundled") and "in use" in qwen[4]
    assert row_of(panel, "all-minilm-l6-v2")[1] == "Search"
    assert row_of(panel, "tiny-local")[4] == "not downloaded"

    panel.select("tiny-local")
    assert panel.download_button.isEnabled() and not panel.use_button.isEnabled()
    panel.download_button.click()
    qtbot.waitUntil(lambda: getattr(panel, "last_progress", (0, 0))[0] > 0, timeout=10_000)
    assert panel.progress_box.isVisibleTo(panel) and panel.progress.value() > 0
    assert "of 2.1 MB" in panel.progress.format()
    panel.cancel_button.click()
    idle(panel)
    assert "press Resume" in panel.notice.text()
    assert row_of(panel, "tiny-local")[4].startswith("partial download")
    assert panel.download_button.text() == "Resume"

    panel.download_button.click()
    idle(panel, 20_000)
    assert "Downloaded tiny-local (sha256 verified)" in panel.notice.text()
    assert any(r and r != "bytes=0-" for r in server.ranges)  # resumed, not started again
    assert (models_app.paths.models_dir / "tiny-local.gguf").read_bytes() == DATA
    assert row_of(panel, "tiny-local")[4] == "downloaded"

    panel.select("tiny-local")
    panel.use_button.click()
    config = tomllib.loads(models_app.paths.config_file.read_text())
    assert config["llm"]["model"] == "tiny-local"
    assert "in use" in row_of(panel, "tiny-local")[4]

    panel.gpu_layers.setValue(0)
    panel.gpu_apply.click()
    assert tomllib.loads(models_app.paths.config_file.read_text())["llm"]["n_gpu_layers"] == 0
    services.pool.waitForDone(5000)
