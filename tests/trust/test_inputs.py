"""Oversize and badly encoded input: messages, `biseo ask`, files, documents and tool output. Each case: a clear
error or clean text, the same Assistant answers the next request, nothing the user had is lost or changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant.api import ToolContext, hookimpl, tool
from assistant.app import Assistant
from assistant.cli import main
from assistant.settings import LLMSettings, MemorySettings, Settings, ToolSettings
from tests.trust.test_inputs_kit import Harness, harness, seed  # noqa: F401 - the fixture

oversize = pytest.mark.trust("oversize")
encoding = pytest.mark.trust("encoding")


def _clean(text: str) -> bool:
    """Storable and showable: valid UTF-8, no NUL or other C0 controls except newline and tab."""
    text.encode("utf-8")  # raises on a lone surrogate
    return not any(ord(c) < 32 and c not in "\n\t\r" for c in text)


# ---------------------------------------------------------------- oversize


@oversize
@pytest.mark.parametrize("words", [5_000, 200_000])
def test_a_message_larger_than_the_context_is_refused_clearly_and_kept(harness, words):
    h = harness()
    cid = seed(h)
    before = h.snapshot()
    huge = "lorem " * words
    calls = len(h.backend.calls)
    turn = h.turn(huge, cid)
    assert turn.final is None and turn.error.kind == "too_long"
    assert "too long" in turn.error.message and "document" in turn.error.message
    assert len(h.backend.calls) == calls  # refused before the model or any tool was asked
    stored = [m for m in h.app.store.messages(cid) if m.role == "user"][-1]
    assert stored.content == huge.strip() and stored.turn_status == "error"  # kept, so nothing typed is lost
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


@oversize
def test_a_long_history_is_trimmed_for_the_model_but_never_deleted(harness):
    h = harness()
    cid = None
    for i in range(120):
        h.backend.answers.append(f"answer {i} " + "word " * 40)
        cid = h.turn(f"question {i} " + "word " * 40, cid).final.conversation_id
    before = h.snapshot()
    final = h.assert_answers_next(cid)
    prompt = [c for c in h.backend.calls if c["purpose"] == "chat"][-1]["messages"]
    assert "question 0 " not in str(prompt) and "question 119 " in str(prompt)  # oldest turns left the prompt
    h.assert_nothing_lost(before)  # ...but not the history
    assert len(h.app.store.messages(cid)) == 2 * 121 and final.text


class _Noisy:
    """An in-process test plugin whose tool returns whatever the test puts in `OUTPUT`."""

    OUTPUT: object = ""

    @hookimpl
    def register_tools(self, register) -> None:
        @tool
        def noisy(ctx: ToolContext, what: str = "all") -> object:
            """Return the test's output."""
            if isinstance(_Noisy.OUTPUT, BaseException):
                raise _Noisy.OUTPUT
            return _Noisy.OUTPUT

        register(noisy)


def _noisy(h: Harness, output: object) -> None:
    _Noisy.OUTPUT = output
    if h.app.registry.get("noisy") is None:
        h.app.plugins.load_module("noisy", _Noisy())


@oversize
@pytest.mark.parametrize("output", ["x" * 5_000_000, "line\n" * 1_000_000, {"rows": list(range(300_000))},
                                    b"\x00" * 3_000_000], ids=["5M chars", "1M lines", "huge JSON", "3 MB bytes"])
def test_huge_tool_output_is_bounded(harness, output):
    h = harness()
    cid = seed(h)
    _noisy(h, output)
    h.backend.decisions[:0] = [{"tool": "noisy", "arguments": {}}]
    turn = h.turn("run noisy", cid)
    [result] = turn.results
    limit = h.app.settings.tools.max_output_chars
    assert len(result.output) <= limit + 100 and turn.final is not None
    assert "truncated" in result.output or "binary output" in result.output
    stored = [m.content for m in h.app.store.messages(cid) if m.role == "tool_result"]
    assert stored == [result.output]
    h.assert_answers_next(cid)


@oversize
@pytest.mark.parametrize("arguments, reason", [
    ({"action": "write", "path": "big.txt", "content": "x" * 1_200_000}, "too long to write"),
    ({"action": "search", "path": ".", "query": "q" * 100_000}, "no files"),
    ({"action": "read", "path": "a/" * 3000 + "f.txt"}, "error:"),
], ids=["write 1.2M chars", "100k-char query", "6000-char path"])
def test_huge_arguments_to_the_files_tool(harness, tmp_path, arguments, reason):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "keep.txt").write_text("keep me\n", encoding="utf-8")
    h = harness(roots=[root])
    cid = seed(h)
    before = h.snapshot()
    h.backend.decisions[:0] = [{"tool": "files", "arguments": arguments}]
    turn = h.turn("do it", cid)
    [result] = turn.results
    assert reason in result.output and len(result.output) < 5000
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


@oversize
def test_a_huge_calculator_expression_is_an_error_not_a_hang(harness):
    h = harness()
    h.backend.decisions[:0] = [{"tool": "calculator", "arguments": {"expression": "9**" * 2000 + "9"}}]
    turn = h.turn("compute the tower")
    [result] = turn.results
    assert not result.ok and result.output.startswith("error:")
    h.assert_answers_next(turn.final.conversation_id)


@oversize
@pytest.mark.slow
def test_real_model_refuses_a_message_larger_than_its_context_and_answers_the_next(smollm_gguf):
    settings = Settings(llm=LLMSettings(model=str(smollm_gguf), n_ctx=512, n_gpu_layers=0, max_tokens=32),
                        tools=ToolSettings(enabled=False), memory=MemorySettings(enabled=False, auto_extract=False))
    app = Assistant(settings, builtin_plugins=())
    try:
        h = Harness(app, None, [])
        first = h.turn("Hello!")
        cid = first.final.conversation_id
        huge = "The quick brown fox jumps over the lazy dog. " * 400  # ~4,000 tokens in a 512-token context
        turn = h.turn(huge, cid)
        assert turn.final is None and turn.error.kind == "too_long" and "too long" in turn.error.message
        users = [m.content for m in app.store.messages(cid) if m.role == "user"]
        assert users == ["Hello!", huge.strip()]
        again = h.turn("What is 2 plus 2?", cid)
        assert again.error is None and again.final.text.strip()
    finally:
        app.close()


# ---------------------------------------------------------------- encoding: messages

MESSAGES = {
    "invalid utf-8 (surrogateescape)": b"caf\xe9 \xff\xfe na\xefve".decode("utf-8", "surrogateescape"),
    "lone high surrogate": "hello \ud83d world",
    "lone low surrogate": "\ude00 tail",
    "reversed pair": "pair \ude00\ud83d",
    "NUL inside": "bef\x00ore\x00after",
    "control characters": "bell\x07 esc\x1b[31m red\x1b[0m \x7f",
    "BOM and zero-width": "\ufeffhello\u200b\u200dworld",
    "mixed scripts": "안녕 😀 مرحبا שלום \u202eevil\u202c",
}


@encoding
@pytest.mark.parametrize("name", list(MESSAGES))
def test_badly_encoded_messages_are_cleaned_answered_and_stored(harness, name):
    text = MESSAGES[name]
    h = harness()
    cid = seed(h)
    before = h.snapshot()
    h.backend.answers.insert(0, "Got it.")
    turn = h.turn(text, cid)
    assert turn.error is None and turn.final.text == "Got it."
    stored = [m.content for m in h.app.store.messages(cid) if m.role == "user"][-1]
    assert _clean(stored) and stored.strip()
    prompt = [c for c in h.backend.calls if c["purpose"] == "chat"][-1]["messages"]
    assert _clean(json.dumps(prompt, ensure_ascii=False))  # the model never sees a surrogate or NUL
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


@encoding
@pytest.mark.parametrize("text", ["\x00", "\x00\x00 \x01\x02", "\ufeff", "   \n\t "])
def test_a_message_that_is_only_garbage_is_an_input_error(harness, text):
    h = harness()
    cid = seed(h)
    before = h.snapshot()
    turn = h.turn(text, cid)
    if turn.error is not None:
        assert turn.error.kind == "input" and "empty" in turn.error.message
    else:  # a BOM alone is a (strange) character, not an error: it is answered like any message
        assert turn.final is not None
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


@encoding
@pytest.mark.parametrize("argv", [
    ["ask", b"caf\xe9 \xff".decode("utf-8", "surrogateescape")],
    ["ask", "hello \ud800 there"],
    ["ask", "--json", b"\xc3\x28 bad \xe2\x82".decode("utf-8", "surrogateescape")],
    ["ask", "nul\x00inside"],
], ids=["latin-1 argv", "lone surrogate", "json invalid bytes", "NUL"])
def test_biseo_ask_with_bad_bytes_prints_cleanly(harness, monkeypatch, capsys, argv):
    h = harness(answers=["Hello 😀 back."])
    monkeypatch.setattr("assistant.cli._assistant", lambda: h.app)
    monkeypatch.setattr(h.app, "close", lambda: None)  # the harness closes it
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Hello 😀 back." in out or "Hello \\ud83d\\ude00 back." in out
    [conversation] = h.app.store.list_conversations()
    assert all(_clean(m.content) for m in h.app.store.messages(conversation.id))
    h.assert_answers_next(conversation.id)


@encoding
@pytest.mark.slow
def test_biseo_ask_process_with_undecodable_argv_bytes(smollm_gguf, tmp_path):
    """A real process given bytes that are not UTF-8 on its command line (what a Latin-1 terminal sends)."""
    env = {**os.environ, "BISEO_LLM__MODEL": str(smollm_gguf), "BISEO_LLM__N_GPU_LAYERS": "0",
           "BISEO_LLM__N_CTX": "1024", "BISEO_LLM__MAX_TOKENS": "16", "BISEO_TOOLS__ENABLED": "false",
           "BISEO_MEMORY__ENABLED": "false", "BISEO_MEMORY__AUTO_EXTRACT": "false", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([os.fsencode(sys.executable), b"-m", b"assistant.cli", b"ask", b"caf\xe9 na\xefve \xff?"],
                          env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    assert b"Traceback" not in proc.stderr and proc.stdout.strip()
    proc.stdout.decode("utf-8")  # what was printed is valid UTF-8


# ---------------------------------------------------------------- encoding: files, documents, tool output

FILE_BYTES = {
    "invalid utf-8": b"price: 5\xe2\x82 euros \xff\xfe end here\n",
    "NUL in text": b"name\x00value\nsecond line here\n",
    "encoded surrogate (CESU)": b"emoji \xed\xa0\xbd\xed\xb8\x80 here\n",
    "overlong encoding": b"slash \xc0\xaf here\n",
    "control characters": b"bell \x07 esc \x1b[2J clear here\n" * 3,
}


@encoding
@pytest.mark.parametrize("name", list(FILE_BYTES))
def test_badly_encoded_files_read_by_the_files_tool(harness, tmp_path, name):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "odd.txt").write_bytes(FILE_BYTES[name])
    h = harness(roots=[root])
    cid = seed(h)
    before = h.snapshot()
    h.backend.decisions[:0] = [{"tool": "files", "arguments": {"action": "read", "path": "odd.txt"}},
                               {"tool": "files", "arguments": {"action": "search", "path": ".", "query": "here"}}]
    turn = h.turn("read odd.txt", cid)
    assert turn.final is not None and len(turn.results) == 2
    for result in turn.results:
        assert result.ok and _clean(result.output)
    assert "odd.txt" in turn.results[0].output
    if name != "NUL in text":  # that one is binary: not searched, and said so by read
        assert "odd.txt" in turn.results[1].output
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


@encoding
@pytest.mark.parametrize("name", list(FILE_BYTES))
def test_badly_encoded_documents_are_indexed_or_skipped_with_a_reason(harness, tmp_path, name):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "good.txt").write_text("The pelican code is PELICAN-7731.\n", encoding="utf-8")
    (folder / "odd.txt").write_bytes(FILE_BYTES[name])
    h = harness(roots=[folder])
    h.app.documents.add([folder])
    progress = h.app.documents.sync()
    odd = {f.path: f for f in h.app.documents.files()}[str(folder / "odd.txt")]
    if odd.status == "error":
        assert odd.error and any(e.path.endswith("odd.txt") for e in progress.errors)
    else:
        chunks = [p.text for p in h.app.documents.search("emoji price name bell slash here value")]
        assert all(_clean(c) for c in chunks)
    assert [p.file for p in h.app.documents.search("pelican code")][:1] == ["good.txt"]  # the index still works
    h.backend.answers.insert(0, "It is PELICAN-7731 [1].")
    turn = h.turn("What is the pelican code in my documents?")
    assert turn.final.text == "It is PELICAN-7731 [1]." and turn.final.citations
    assert _clean(str([c["messages"] for c in h.backend.calls]))


TOOL_OUTPUTS = {
    "lone surrogates": "result \ud800 and \udfff",
    "NUL and controls": "a\x00b\x01c\x1b[31md",
    "surrogateescape bytes": b"\xff\xfe caf\xe9".decode("utf-8", "surrogateescape"),
    "dict with surrogates": {"name": "x\ud800y", "nul": "a\x00b"},
    "invalid bytes": b"\xff\xfe\x00\x01",
    "an object": object(),
    "error with surrogates": RuntimeError("broke \ud800 with \x00 NUL"),
    "exception subclass of BaseException": KeyboardInterrupt(),
}


@encoding
@pytest.mark.parametrize("name", list(TOOL_OUTPUTS))
def test_garbage_tool_output_reaches_the_model_as_clean_text(harness, name):
    h = harness()
    cid = seed(h)
    _noisy(h, TOOL_OUTPUTS[name])
    before = h.snapshot()
    h.backend.decisions[:0] = [{"tool": "noisy", "arguments": {}}]
    turn = h.turn("run noisy", cid)
    [result] = turn.results
    assert _clean(result.output) and turn.final is not None
    prompt = [c for c in h.backend.calls if c["purpose"] == "chat"][-1]["messages"]
    assert _clean(json.dumps(prompt, ensure_ascii=False))
    stored = [m.content for m in h.app.store.messages(cid) if m.role == "tool_result"]
    assert stored == [result.output]
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)
