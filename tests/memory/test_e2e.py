"""Memory across conversations through the real `biseo` command and the real default model (offline)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from assistant.paths import resolve_paths

pytestmark = pytest.mark.slow


def biseo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def answer(question: str) -> str:
    """A new conversation each time (no --conversation): only long-term memory can carry the fact."""
    proc = biseo("ask", "--json", question)
    assert proc.returncode == 0, proc.stderr
    final = json.loads(proc.stdout.strip().splitlines()[-1])
    assert final["type"] == "final"
    return final["text"]


def mentions(text: str, month: str, day: int) -> bool:
    return re.search(rf"\b{month}\s+{day}(st|nd|rd|th)?\b", text) is not None


def test_tell_ask_edit_ask_forget_ask(qwen_gguf):
    told = biseo("ask", "--json", "My sister's birthday is May 3.")
    assert told.returncode == 0, told.stderr
    [memory] = json.loads(biseo("memory", "list", "--json").stdout)
    assert "May 3" in memory["text"] and memory["source"]["kind"] in ("conversation", "tool")
    first_conversation = json.loads(told.stdout.strip().splitlines()[-1])["conversation_id"]
    assert memory["source"]["conversation_id"] == first_conversation

    said = answer("When is my sister's birthday?")
    assert mentions(said, "May", 3), said

    edited = biseo("memory", "edit", memory["id"][:8], "My sister's birthday is June 3")
    assert edited.returncode == 0, edited.stderr
    said = answer("When is my sister's birthday?")
    assert mentions(said, "June", 3) and not mentions(said, "May", 3), said

    forgot = biseo("memory", "forget", memory["id"][:8])
    assert forgot.returncode == 0 and forgot.stdout.startswith(f"forgotten {memory['id'][:8]}")
    said = answer("When is my sister's birthday?")
    assert not mentions(said, "June", 3) and not mentions(said, "May", 3), said
    assert json.loads(biseo("memory", "list", "--json").stdout) == []

    # Gone from the index itself, not only hidden by the database.
    from assistant.index.hybrid import HybridIndex
    from assistant.memory.service import COLLECTION, INDEX_DIR

    class NoEmbedder:  # keyword search alone is enough to look for the words
        def embed_query(self, text):
            raise AssertionError("not used")

    index = HybridIndex(resolve_paths().data_dir / INDEX_DIR, COLLECTION, NoEmbedder(), lexical_weight=1.0)
    try:
        assert index.count() == 0
        assert index.search("sister birthday June May", k=5) == []
    finally:
        index.close()
