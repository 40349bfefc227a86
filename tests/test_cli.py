"""The `biseo` command end to end, on the real bundled model (Qwen2.5-Coder-0.5B), offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def biseo(*args: str, env: dict[str, str] | None = None, input: str | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=full_env, input=input, timeout=timeout)


def events_of(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_ask_json_calls_the_calculator(qwen_gguf):
    proc = biseo("ask", "--json", "What is 12345 * 6789?")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc)
    calls = [e for e in events if e["type"] == "tool_call"]
    results = [e for e in events if e["type"] == "tool_result"]
    assert calls and calls[0]["name"] == "calculator" and isinstance(calls[0]["arguments"], dict)
    assert results[0]["ok"] and "83810205" in results[0]["output"]
    assert events[-1]["type"] == "final" and "83810205" in events[-1]["text"].replace(",", "")


def test_ask_json_calls_the_clock_for_tokyo(qwen_gguf):
    proc = biseo("ask", "--json", "What time is it in Tokyo?")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc)
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "clock"
    result = [e for e in events if e["type"] == "tool_result"][0]
    assert result["ok"] and "+09:00" in result["output"]
    assert events[-1]["type"] == "final" and events[-1]["text"]


def test_plain_question_needs_no_tool_and_is_remembered_in_a_conversation(qwen_gguf):
    proc = biseo("ask", "--json", "Who wrote the play Hamlet?")
    events = events_of(proc)
    assert proc.returncode == 0 and not [e for e in events if e["type"] == "tool_call"]
    assert "Shakespeare" in events[-1]["text"]
    cid = events[-1]["conversation_id"]
    listed = biseo("conversations", "list", "--json")
    assert cid in [c["id"] for c in json.loads(listed.stdout)]
    assert biseo("conversations", "rename", cid[:8], "Plays").returncode == 0
    assert "Plays" in biseo("conversations", "list").stdout
    shown = biseo("conversations", "show", cid[:8]).stdout
    assert "Who wrote the play Hamlet?" in shown and "Shakespeare" in shown
    assert biseo("conversations", "delete", cid[:8]).returncode == 0
    assert cid not in biseo("conversations", "list", "--json").stdout


def test_side_effect_without_yes_is_denied_non_interactively(qwen_gguf, tmp_path):
    roots = json.dumps([str(tmp_path)])
    proc = biseo("ask", "--json", f"Write a file named note.txt in {tmp_path} containing: buy milk",
                 env={"BISEO_TOOLS__FILE_ROOTS": roots})
    events = events_of(proc)
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "files", events
    assert any(e["type"] == "approval_needed" for e in events)
    result = [e for e in events if e["type"] == "tool_result"][0]
    assert result["denied"] and not result["ok"]
    assert not (tmp_path / "note.txt").exists()
    assert "--yes" in proc.stderr


def test_plugins_list_shows_builtins_with_permissions():
    proc = biseo("plugins", "list", "--json")
    assert proc.returncode == 0
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert {"calculator", "clock", "files", "web_search"} <= set(rows)
    assert all(r["status"] == "loaded" for r in rows.values()), rows
    files_tool = rows["files"]["tools"][0]
    assert files_tool["permissions"]["side_effects"] == "some actions"
    web = [t for t in rows["web_search"]["tools"] if t["name"] == "web_search"][0]
    assert web["permissions"]["network"] is True


def test_broken_user_plugin_is_reported_and_others_load(tmp_path):
    home = Path(os.environ["BISEO_HOME"])
    (home / "plugins").mkdir(parents=True, exist_ok=True)
    (home / "plugins" / "broken_one.py").write_text("raise RuntimeError('boom at import')\n")
    (home / "plugins" / "greeter.py").write_text(
        "from assistant.api import tool, hookimpl\n"
        "@tool\ndef greet(name: str) -> str:\n    \"\"\"Greet someone.\"\"\"\n    return 'hi ' + name\n"
        "@hookimpl\ndef register_tools(register):\n    register(greet)\n")
    off = json.loads(biseo("plugins", "list", "--json").stdout)
    assert "greeter" not in [r["name"] for r in off]  # the folder is off until enabled
    rows = {r["name"]: r for r in json.loads(biseo("plugins", "list", "--json",
                                                   env={"BISEO_PLUGINS__USER_FOLDER_ENABLED": "true"}).stdout)}
    assert rows["broken_one"]["status"] == "error" and "boom at import" in rows["broken_one"]["error"]
    assert rows["greeter"]["status"] == "loaded" and rows["greeter"]["tools"][0]["name"] == "greet"
    assert rows["calculator"]["status"] == "loaded"


@pytest.mark.parametrize("damage", ["truncated", "random", "empty", "missing"])
def test_bad_model_file_gives_clear_error_and_exit_code(qwen_gguf, tmp_path, damage):
    bad = tmp_path / f"{damage}.gguf"
    if damage == "truncated":
        with open(qwen_gguf, "rb") as src:
            bad.write_bytes(src.read(5_000_000))
    elif damage == "random":
        bad.write_bytes(os.urandom(2_000_000))
    elif damage == "empty":
        bad.write_bytes(b"")
    proc = biseo("ask", "--json", "hello", env={"BISEO_LLM__MODEL": str(bad)})
    assert proc.returncode == 1
    error = events_of(proc)[-1]
    assert error["type"] == "error" and str(bad) in error["message"]
    assert "Traceback" not in proc.stderr
    use = biseo("models", "use", str(bad))
    assert use.returncode == 1 and str(bad) in use.stderr and len(use.stderr.strip().splitlines()) == 1
    # The user's history is intact and a good model still answers afterwards.
    ok = biseo("ask", "--json", "Say hi")
    assert ok.returncode == 0 and events_of(ok)[-1]["type"] == "final"


def test_models_list_and_use_a_local_path(qwen_gguf, smollm_gguf):
    rows = json.loads(biseo("models", "list", "--json").stdout)
    default = [r for r in rows if r["name"] == "qwen2.5-coder-0.5b-instruct"][0]
    assert default["default"] and "bundled" in default["status"]
    assert biseo("models", "use", str(smollm_gguf)).returncode == 0
    proc = biseo("ask", "--json", "Say hello")
    assert proc.returncode == 0 and events_of(proc)[-1]["type"] == "final"
    doctor = json.loads(biseo("doctor", "--json").stdout)
    assert doctor["model"]["file"] == str(smollm_gguf) and doctor["model"]["loaded"]


def test_doctor_reports_model_backend_gpu_threads_versions_dirs(qwen_gguf):
    proc = biseo("doctor", "--json")
    assert proc.returncode == 0, proc.stdout
    report = json.loads(proc.stdout)
    assert report["model"]["architecture"] == "qwen2" and report["model"]["loaded"]
    assert report["model"]["backend"] == "llama-cpp"
    assert isinstance(report["compute"]["gpu_offload_supported"], bool)
    assert report["compute"]["threads"] >= 1
    assert report["versions"]["llama-cpp-python"] == "0.3.36"
    assert report["folders"]["data"].startswith(os.environ["BISEO_HOME"])


def test_kill_during_a_turn_loses_at_most_that_turn(qwen_gguf):
    first = biseo("ask", "--json", "Who wrote the play Hamlet?")
    cid = events_of(first)[-1]["conversation_id"]
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ask", "--json", "-c", cid,
                             "Write a long story about a lighthouse."], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if json.loads(line)["type"] == "token":
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    shown = biseo("conversations", "show", cid[:8]).stdout
    assert "Who wrote the play Hamlet?" in shown and "Shakespeare" in shown
    assert "lighthouse" in shown and "(error)" in shown
    after = biseo("ask", "--json", "-c", cid, "Thanks!")
    assert after.returncode == 0 and events_of(after)[-1]["type"] == "final"


def test_interactive_chat_commands(qwen_gguf):
    proc = biseo("chat", input="Who wrote Hamlet?\n/history\n/new\n/quit\n")
    assert proc.returncode == 0
    assert "Shakespeare" in proc.stdout and "Who wrote Hamlet?" in proc.stdout
