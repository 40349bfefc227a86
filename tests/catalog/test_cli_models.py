"""`biseo models download | use | list` against a local HTTP server serving a real GGUF."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


def biseo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_download_resumes_after_a_dropped_connection_then_use_it(file_server, smollm2_path, tmp_path):
    models = tmp_path / "models"
    (models / "manifests").mkdir(parents=True)
    data = smollm2_path.read_bytes()
    (models / "manifests" / "tiny-local.toml").write_text(f"""
name = "tiny-local"
display_name = "Tiny test model served locally"
kind = "llm"
file = "tiny-local.gguf"
url = "{file_server.url}"
sha256 = "{hashlib.sha256(data).hexdigest()}"
size = {len(data)}
context_length = 8192
chat_format = "chatml"
tool_calling = "grammar"
licence = "Apache-2.0"
ram_hint_gb = 0.2
""")
    env = {"BISEO_MODELS_DIR": str(models)}
    before = {r["name"]: r for r in json.loads(biseo("models", "list", "--json", env=env).stdout)}
    assert "not downloaded" in before["tiny-local"]["status"]
    file_server.drop_after = 30_000_000  # the connection dies part-way through once
    proc = biseo("models", "download", "tiny-local", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (models / "tiny-local.gguf").read_bytes() == data
    assert any(r and r.startswith("bytes=") and r != "bytes=0-" for r in file_server.requests)  # resumed
    after = {r["name"]: r for r in json.loads(biseo("models", "list", "--json", env=env).stdout)}
    assert after["tiny-local"]["status"].startswith("downloaded")
    assert biseo("models", "use", "tiny-local", env=env).returncode == 0
    assert json.loads(biseo("models", "list", "--json", env=env).stdout)
    listed = {r["name"]: r for r in json.loads(biseo("models", "list", "--json", env=env).stdout)}
    assert listed["tiny-local"]["default"]


def test_download_with_a_wrong_checksum_fails_clearly_and_leaves_nothing(file_server, tmp_path):
    models = tmp_path / "models"
    (models / "manifests").mkdir(parents=True)
    (models / "manifests" / "bad.toml").write_text(f"""
name = "bad-sum"
display_name = "Wrong checksum"
kind = "llm"
file = "bad.gguf"
url = "{file_server.url}"
sha256 = "{'0' * 64}"
size = {file_server.path.stat().st_size}
context_length = 8192
chat_format = "chatml"
tool_calling = "grammar"
licence = "Apache-2.0"
ram_hint_gb = 0.2
""")
    proc = biseo("models", "download", "bad-sum", env={"BISEO_MODELS_DIR": str(models)})
    assert proc.returncode == 1 and "sha256" in proc.stderr.lower()
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (models / "bad.gguf").exists()


def test_download_unknown_model_is_a_one_line_error(tmp_path):
    proc = biseo("models", "download", "no-such-model", env={"BISEO_MODELS_DIR": str(tmp_path)})
    assert proc.returncode == 1 and "unknown model" in proc.stderr
