"""A multi-byte character split across streamed tokens: every Token event is whole text, nothing is lost, and the
tokens joined are the stored answer (real llama.cpp backend; unit level on the backend's decoder)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.app import Assistant
from assistant.events import Final, Token
from assistant.llm.utf8 import Utf8Stream
from assistant.settings import LLMSettings, MemorySettings, Settings, ToolSettings

pytestmark = pytest.mark.trust("streaming")

TEXTS = ["안녕하세요, 반갑습니다.", "Party 🎉🎷 time 😀!", "flag 🇰🇷 and é, ü, ß", "龘 𝕏 — “quotes”", "a\u00a0b"]


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0] + cuts + [len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("split", ["bytes", "pairs", "every-third", "whole"])
def test_the_decoder_gives_whole_characters_for_any_split(text, split):
    data = text.encode("utf-8")
    step = {"bytes": 1, "pairs": 2, "every-third": 3, "whole": len(data)}[split]
    stream = Utf8Stream()
    out = [stream.feed(p) for p in _pieces(data, list(range(step, len(data), step)))]
    stream.finish()
    assert "".join(out) == text
    assert all("\ufffd" not in piece for piece in out)
    for piece in out:
        piece.encode("utf-8")  # no lone surrogates: every piece is valid text on its own


def test_the_decoder_drops_a_character_cut_by_the_token_limit_and_marks_real_garbage():
    stream = Utf8Stream()
    assert stream.feed("ok ".encode() + "😀".encode()[:2]) == "ok "
    assert stream.pending == "😀".encode()[:2]
    assert stream.finish() == ""  # cut off at the end: dropped, not shown as U+FFFD
    garbage = Utf8Stream()
    assert garbage.feed(b"a\xffb") == "a\ufffdb"  # the model really produced an invalid byte: visible, not hidden


def _settings(model) -> Settings:
    return Settings(llm=LLMSettings(model=str(model), n_ctx=2048, n_gpu_layers=0, temperature=0.0, max_tokens=48),
                    tools=ToolSettings(enabled=False), memory=MemorySettings(enabled=False, auto_extract=False))


def _turn(app: Assistant, text: str):
    events = list(app.chat(text))
    tokens = [e.text for e in events if isinstance(e, Token)]
    final = next(e for e in events if isinstance(e, Final))
    return tokens, final


def _forcing_meter(script: list[int], eos: int):
    """A stand-in for the backend's entropy meter (its logits processor) that makes the model emit `script`."""

    class Force:
        def __init__(self) -> None:
            self.step = 0

        def __call__(self, input_ids, scores):
            token = script[self.step] if self.step < len(script) else eos
            self.step += 1
            forced = np.full_like(scores, -np.inf)
            forced[token] = 0.0
            return forced

        def summary(self):
            return None

    return Force


@pytest.mark.slow
@pytest.mark.parametrize("script_name", ["emoji completed by a token that starts the next character, then end",
                                         "same, then more text", "emoji in four single bytes, then end",
                                         "answer cut in the middle of an emoji"])
def test_split_characters_from_the_real_backend_reach_the_user_whole(qwen_gguf, monkeypatch, script_name):
    """Token sequences the tokenizer really has, forced through the real llama.cpp backend and the agent loop.

    "🎷取" arrives as [f0 9f] + [8e b7 e5 8f 96]; llama-cpp-python's own streaming lost the emoji when the
    answer ended right there (fixed by decoding in the backend).
    """
    app = Assistant(_settings(qwen_gguf), builtin_plugins=())
    try:
        llm = app.backend().llm
        ids = {"Hi": 13048, "there": 1052, "f09f": 9284, "8eb7+取": 27487}
        pieces = {k: llm.detokenize([v]) for k, v in ids.items()}
        assert pieces["f09f"] == b"\xf0\x9f" and pieces["8eb7+取"] == "🎷取".encode()[2:], pieces
        single = {llm.detokenize([i]): i for i in range(256)}  # byte-level BPE: one token per byte
        by_byte = {bytes([b]): single.get(bytes([b])) for b in "😀".encode()}
        assert all(by_byte.values()), by_byte
        scripts = {
            "emoji completed by a token that starts the next character, then end":
                ([ids["Hi"], ids["f09f"], ids["8eb7+取"]], "Hi🎷取"),
            "same, then more text": ([ids["Hi"], ids["f09f"], ids["8eb7+取"], ids["there"]], "Hi🎷取 there"),
            "emoji in four single bytes, then end": ([ids["Hi"]] + [by_byte[bytes([b])] for b in "😀".encode()],
                                                     "Hi😀"),
            "answer cut in the middle of an emoji": ([ids["Hi"], ids["f09f"]], "Hi"),
        }
        script, expected = scripts[script_name]
        monkeypatch.setattr("assistant.llm.llama_backend.EntropyMeter", _forcing_meter(script, llm.token_eos()))
        tokens, final = _turn(app, "Say hi.")
        assert all("\ufffd" not in t for t in tokens) and all(t.encode("utf-8") for t in tokens)
        assert "".join(tokens) == expected == final.text
        stored = [m.content for m in app.store.messages(final.conversation_id) if m.role == "assistant"]
        assert stored == [expected]
    finally:
        app.close()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm", "qwen"])
def test_a_korean_and_emoji_answer_streams_as_valid_text(request, model):
    """SmolLM2 spells Korean and emoji as single-byte tokens: the hardest split there is."""
    path = request.getfixturevalue("smollm_gguf" if model == "smollm" else "qwen_gguf")
    app = Assistant(_settings(path), builtin_plugins=())
    try:
        tokens, final = _turn(app, "Reply with only this text and nothing else: 안녕하세요 😀 감사합니다 🎉")
        assert tokens and all("\ufffd" not in t for t in tokens)
        for t in tokens:
            t.encode("utf-8")
        assert "".join(tokens).strip() == final.text
        assert any(ord(ch) > 0x3000 for ch in final.text), final.text  # multi-byte characters really came out
        tokens2, final2 = _turn(app, "Thanks! 😀")  # and the next request is answered
        assert final2.text and "".join(tokens2).strip() == final2.text
    finally:
        app.close()
