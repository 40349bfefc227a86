"""A broken model file as the model: a clear error naming the file (chat and `biseo ask`), never a crash; the
conversation is intact, and the app answers again once a good model is in place."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.cli import main
from assistant.settings import LLMSettings, MemorySettings, Settings, ToolSettings
from tests.trust.test_inputs_kit import Harness, harness  # noqa: F401 - the fixture

pytestmark = pytest.mark.trust("gguf")


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _random(path: Path, smollm: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(1 << 20))


def _random_after_magic(path: Path, smollm: Path) -> None:
    path.write_bytes(b"GGUF" + struct.pack("<I", 3) + random.Random(8).randbytes(1 << 16))


def _truncated_1mb(path: Path, smollm: Path) -> None:
    with open(smollm, "rb") as fh:
        path.write_bytes(fh.read(1 << 20))


def _missing_tail(path: Path, smollm: Path) -> None:
    shutil.copyfile(smollm, path)
    with open(path, "r+b") as fh:
        fh.truncate(smollm.stat().st_size - 100)


def _header_only(path: Path, smollm: Path) -> None:
    with open(smollm, "rb") as fh:
        path.write_bytes(fh.read(20))


def _empty(path: Path, smollm: Path) -> None:
    path.write_bytes(b"")


def _wrong_magic(path: Path, smollm: Path) -> None:
    with open(smollm, "rb") as fh:
        path.write_bytes(b"GGML" + fh.read(1 << 16)[4:])


def _string_past_the_end(path: Path, smollm: Path) -> None:
    # One metadata string claims to be 2**40 bytes long.
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _s("general.name") + struct.pack("<IQ", 8, 1 << 40))


def _absurd_counts(path: Path, smollm: Path) -> None:
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1 << 62, 1 << 62) + b"\0" * 64)


def _unknown_architecture(path: Path, smollm: Path) -> None:
    # Passes the header check; llama.cpp itself refuses it (the error must still be a clean one).
    data = bytearray(smollm.read_bytes())
    key = data.find(b"general.architecture")
    at = data.find(b"llama", key)
    data[at:at + 5] = b"zzzzz"
    path.write_bytes(bytes(data))


def _a_folder(path: Path, smollm: Path) -> None:
    path.mkdir()


BROKEN = {"random bytes": _random, "random after magic": _random_after_magic, "truncated 1 MB": _truncated_1mb,
          "missing last 100 bytes": _missing_tail, "header only": _header_only, "empty": _empty,
          "wrong magic": _wrong_magic, "string past the end": _string_past_the_end,
          "absurd counts": _absurd_counts, "unknown architecture": _unknown_architecture, "a folder": _a_folder}


def _settings(model: Path | str, **llm) -> Settings:
    return Settings(llm=LLMSettings(model=str(model), n_ctx=1024, n_gpu_layers=0, **llm),
                    tools=ToolSettings(enabled=False), memory=MemorySettings(auto_extract=False))


@pytest.fixture
def quiet_indexes(harness):  # noqa: F811 - the harness fixture patches in the fast memory/documents indexes
    return harness


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_model_file_is_a_clear_error_and_nothing_is_lost(quiet_indexes, tmp_path, smollm_gguf, case):
    bad = tmp_path / "models" / "my-model.gguf"
    bad.parent.mkdir()
    BROKEN[case](bad, smollm_gguf)
    app = Assistant(_settings(bad))
    try:
        h = Harness(app, None, [tmp_path / "models"])
        cid = app.new_conversation("earlier chat")
        app.memory.add("My favourite colour is teal.", "cli")
        before = h.snapshot()
        for attempt in ("hello there", "are you working now?"):  # the same app keeps answering, clearly
            turn = h.turn(attempt, cid)
            assert turn.final is None and turn.error is not None and turn.error.kind == "model"
            assert "my-model.gguf" in turn.error.message, turn.error.message
            assert "Traceback" not in turn.error.message
        h.assert_nothing_lost(before)
        # Both messages were kept (in failed turns) so the user can send them again.
        assert [m.content for m in app.store.messages(cid) if m.role == "user"] == ["hello there",
                                                                                 "are you working now?"]
    finally:
        app.close()


@pytest.mark.parametrize("case", ["random bytes", "missing last 100 bytes", "unknown architecture"])
def test_biseo_ask_names_the_broken_file(tmp_path, smollm_gguf, monkeypatch, capsys, case):
    bad = tmp_path / "broken.gguf"
    BROKEN[case](bad, smollm_gguf)
    monkeypatch.setenv("BISEO_LLM__MODEL", str(bad))
    monkeypatch.setenv("BISEO_LLM__N_GPU_LAYERS", "0")
    monkeypatch.setenv("BISEO_TOOLS__ENABLED", "false")
    assert main(["ask", "hello"]) == 1
    err = capsys.readouterr().err
    assert "broken.gguf" in err and "Traceback" not in err
    monkeypatch.setenv("BISEO_LLM__MODEL", str(tmp_path / "broken.gguf"))
    assert main(["ask", "--json", "hello again"]) == 1  # and again, as JSON lines with an error event
    out = capsys.readouterr().out
    assert '"type": "error"' in out and "broken.gguf" in out


@pytest.mark.slow
def test_the_same_app_answers_once_the_file_is_good_and_a_new_one_sees_the_old_chat(quiet_indexes, tmp_path,
                                                                                     smollm_gguf):
    folder = tmp_path / "models"
    folder.mkdir()
    model = folder / "model.gguf"
    _truncated_1mb(model, smollm_gguf)
    app = Assistant(_settings(model))
    try:
        h = Harness(app, None, [])
        turn = h.turn("What is the capital of France?")
        cid = turn.error.conversation_id
        assert "model.gguf" in turn.error.message
        model.unlink()
        os.symlink(smollm_gguf, model)  # the user puts a good file in place; no restart needed
        turn = h.turn("What is the capital of France?", cid)
        assert turn.error is None and turn.final.text.strip()
    finally:
        app.close()
    again = Assistant(_settings(smollm_gguf))  # another start, another model setting, same home
    try:
        turn = Harness(again, None, []).turn("Thanks!", cid)
        assert turn.error is None and turn.final.text.strip()
        users = [m.content for m in again.store.messages(cid) if m.role == "user"]
        assert users == ["What is the capital of France?", "What is the capital of France?", "Thanks!"]
    finally:
        again.close()


@pytest.mark.slow
def test_biseo_ask_in_a_subprocess_never_crashes_on_a_damaged_model(tmp_path, smollm_gguf):
    """A real process (what a user runs): exit code 1, one plain line naming the file, no traceback/segfault."""
    bad = tmp_path / "damaged.gguf"
    _unknown_architecture(bad, smollm_gguf)
    env = {**os.environ, "BISEO_LLM__MODEL": str(bad), "BISEO_LLM__N_GPU_LAYERS": "0",
           "BISEO_TOOLS__ENABLED": "false"}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", "hello"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "damaged.gguf" in proc.stderr and "Traceback" not in proc.stderr
    from assistant.history.store import HistoryStore
    from assistant.paths import resolve_paths

    store = HistoryStore(resolve_paths().history_db)  # the same BISEO_HOME: the question was kept
    try:
        [conversation] = store.list_conversations()
        assert [m.content for m in store.messages(conversation.id)] == ["hello"]
    finally:
        store.close()
