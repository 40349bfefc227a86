"""The OpenAI-compatible backend against a real server: llama-cpp-python's own, serving the default model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.app import Assistant
from assistant.events import ErrorEvent, Final, Token, ToolCallRequested, ToolResult
from assistant.llm.base import LLMError
from assistant.llm.openai_backend import OpenAIBackend
from assistant.paths import resolve_paths
from assistant.settings import load_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(model: Path, log_path: Path) -> tuple[subprocess.Popen, str] | None:
    """Start the server on a free port; None when another process took the port first."""
    port = _free_port()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            if "address already in use" in log_path.read_text(errors="replace"):
                return None
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            # Only our server counts: it names our model file (another process might hold the port).
            answer = httpx.get(f"{url}/models", timeout=2, trust_env=False)
            if answer.status_code == 200 and str(model) in [m.get("id") for m in answer.json()["data"]]:
                return proc, url
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"llama_cpp.server did not answer within 120 s:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server_url(qwen_gguf: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module):
    """`python -m llama_cpp.server` on a free local port, serving the bundled model."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch_module.delenv(var, raising=False)
    log_dir = tmp_path_factory.mktemp("llama-server")
    for attempt in range(3):
        started = _start_server(qwen_gguf, log_dir / f"server{attempt}.log")
        if started:
            break
    else:
        pytest.fail("could not find a free port for llama_cpp.server")
    proc, url = started
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _assistant(server_url: str, **llm) -> Assistant:
    paths = resolve_paths().ensure()
    settings = load_settings(paths, llm={"backend": "openai", "server_url": server_url, **llm})
    return Assistant(settings, paths)


@pytest.mark.slow
def test_arithmetic_goes_through_the_calculator_tool(server_url):
    assistant = _assistant(server_url)
    try:
        events = list(assistant.chat("What is 12345 * 6789?"))
    finally:
        assistant.close()
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert not errors, errors[0].message
    calls = [e for e in events if isinstance(e, ToolCallRequested)]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert calls and calls[0].name == "calculator"
    assert results and results[0].ok and "83810205" in results[0].output
    final = events[-1]
    assert isinstance(final, Final) and "83810205" in final.text.replace(",", "")


@pytest.mark.slow
def test_a_plain_question_streams_its_answer_in_pieces(server_url):
    assistant = _assistant(server_url)
    assistant.settings.tools.enabled = False
    assistant.agent.config = assistant.loop_config()
    try:
        events = list(assistant.chat("Name three colours of the rainbow."))
        final = events[-1]
        assert isinstance(final, Final), final
        stored = assistant.store.messages(final.conversation_id)
    finally:
        assistant.close()
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) > 3, "the answer arrived in one piece, not streamed"
    assert "".join(tokens).strip() == final.text
    assert any(c in final.text.lower() for c in ("red", "orange", "yellow", "green", "blue", "violet"))
    assert [(m.role, m.content) for m in stored] == [("user", "Name three colours of the rainbow."),
                                                      ("assistant", final.text)]


@pytest.mark.slow
def test_schema_constrained_decision_from_the_llama_cpp_python_server(server_url):
    """llama-cpp-python's server refuses response_format type 'json_schema'; the backend falls back."""
    backend = OpenAIBackend(server_url)
    try:
        schema = {"oneOf": [
            {"type": "object", "properties": {"tool": {"const": "clock"}, "arguments": {"type": "object"}},
             "required": ["tool", "arguments"], "additionalProperties": False},
            {"type": "object", "properties": {"tool": {"const": "none"}}, "required": ["tool"],
             "additionalProperties": False},
        ]}
        text = "".join(backend.stream([{"role": "user", "content": "Reply with JSON: which tool tells the time?"}],
                                      json_schema=schema, temperature=0.0, max_tokens=40, purpose="router"))
    finally:
        backend.close()
    obj = json.loads(text)
    assert obj["tool"] in ("clock", "none")
    assert set(obj) <= {"tool", "arguments"}


def _closed_port() -> int:
    return _free_port()  # bound and released: nothing listens there


def test_unreachable_server_gives_a_clear_error_event_not_a_traceback():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    assistant = _assistant(url)
    try:
        events = list(assistant.chat("Hello?"))
    finally:
        assistant.close()
    error = events[-1]
    assert isinstance(error, ErrorEvent), events
    assert error.kind == "model"
    assert error.message.startswith(f"cannot reach the model server at {url}")
    assert "Traceback" not in error.message


def test_unreachable_server_with_a_named_model_fails_on_the_request_with_the_same_message():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    backend = OpenAIBackend(url, model="some-model")  # no model list to fetch: fails on the first request
    try:
        with pytest.raises(LLMError, match=r"^cannot reach the model server at http://127\.0\.0\.1:\d+/v1"):
            list(backend.stream([{"role": "user", "content": "hi"}]))
    finally:
        backend.close()
