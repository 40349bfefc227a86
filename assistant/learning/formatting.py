"""Training text exactly as the app serves it: the GGUF's own chat template and llama.cpp's own tokenizer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass
class Encoded:
    """Token ids of one example and, per token, whether the loss counts it (the assistant's own words)."""

    ids: list[int]
    train: list[bool]
    distill: bool = False  # learn the base model's whole next-token distribution here, not just its tokens

    @property
    def trained_tokens(self) -> int:
        return sum(self.train)


class PromptFormat:
    """Renders chats with the model's template and tokenizes with the model's vocabulary (no weights loaded)."""

    def __init__(self, model_path: str | Path) -> None:
        import llama_cpp

        from assistant.llm.gguf_check import check_gguf
        from assistant.llm.llama_backend import _quiet_llama_cpp
        from assistant.llm.template import ChatTemplate

        _quiet_llama_cpp(llama_cpp)
        self.path = Path(model_path)
        info = check_gguf(self.path, check_memory=False)
        self._vocab = llama_cpp.Llama(model_path=str(self.path), vocab_only=True, verbose=True)
        self._vocab.verbose = False
        meta = self._vocab.metadata or {}
        self.architecture = info.architecture
        self.template = ChatTemplate(meta.get("tokenizer.chat_template") or info.chat_template,
                                     bos_token=self._piece(self._vocab.token_bos()),
                                     eos_token=self._piece(self._vocab.token_eos()))

    def _piece(self, token: int) -> str:
        try:
            return self._vocab.detokenize([token], special=True).decode("utf-8", errors="ignore")
        except Exception:
            return ""

    def tokenize(self, text: str) -> list[int]:
        return self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def prompt(self, messages: list[dict[str, Any]]) -> str:
        """The text the app sends before the model answers `messages` (ends with the assistant header)."""
        return self.template.render(messages, add_generation_prompt=True)

    def encode_chat(self, messages: list[dict[str, Any]], max_tokens: int | None = None) -> Encoded:
        """The whole chat; the loss counts every assistant reply and its end-of-turn token, nothing else."""
        ids: list[int] = []
        train: list[bool] = []
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self.tokenize(self.template.render(messages[:i], add_generation_prompt=True))
            upto = self.tokenize(self.template.render(messages[:i + 1], add_generation_prompt=False))
            if upto[:len(before)] != before:  # a template that re-renders earlier text: keep the full text
                before = upto[:len(before)]
            train.extend([False] * (len(before) - len(ids)))
            ids = before
            train.extend([True] * (len(upto) - len(before)))
            ids = upto
        if max_tokens is not None and len(ids) > max_tokens:
            ids, train = ids[:max_tokens], train[:max_tokens]
        return Encoded(ids, train)

    def encode_text(self, text: str, max_tokens: int | None = None) -> Encoded:
        """Plain document text: next-token loss on every token."""
        ids = self.tokenize(text)
        if max_tokens is not None:
            ids = ids[:max_tokens]
        return Encoded(ids, [True] * len(ids))

    def close(self) -> None:
        self._vocab.close()
