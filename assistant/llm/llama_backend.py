"""The in-process backend: a GGUF model run by llama-cpp-python, on the GPU when it can be."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

# Before llama_cpp (and its OpenMP runtime) is imported: busy-waiting threads starve a 2-core box.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from assistant.cancel import CancelToken  # noqa: E402
from assistant.learning.uncertainty import EntropyMeter  # noqa: E402
from assistant.llm.base import BackendInfo, LLMError, Usage  # noqa: E402
from assistant.llm.template import ChatTemplate, flatten_tool_messages, supports_tool_messages  # noqa: E402
from assistant.llm.utf8 import Utf8Stream  # noqa: E402


_llama_log = logging.getLogger("biseo.llama_cpp")
_QUIETED: list[Any] = []  # keeps the C callback alive for as long as the process runs


def _quiet_llama_cpp(llama_cpp) -> None:
    """Send llama.cpp's own log and llama-cpp-python's prints to Python logging (debug), not to the terminal."""
    if _QUIETED:
        return
    import ctypes

    import llama_cpp._internals as internals
    import llama_cpp.llama as llama_module

    @llama_cpp.llama_log_callback
    def to_log(level: int, text: bytes, user_data) -> None:
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            # ggml levels: 1 debug, 2 info, 3 warn, 4 error, 5 continuation; loading chatters at info and warn.
            _llama_log.log(logging.WARNING if level == 4 else logging.DEBUG, "%s", message)

    llama_cpp.llama_log_set(to_log, ctypes.c_void_p(0))
    _QUIETED.append(to_log)

    def quiet_print(*args: Any, **_kwargs: Any) -> None:
        _llama_log.debug("%s", " ".join(str(a) for a in args))

    # Shadows print() in those two modules only (their load-time "Model metadata" and chat-format notes).
    llama_module.print = quiet_print
    internals.print = quiet_print


def default_threads() -> int:
    """One thread per core, at most 8: llama.cpp decoding is memory-bound beyond that."""
    return max(1, min(8, os.cpu_count() or 1))


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU."""
    import llama_cpp

    try:
        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:
        return False


class LlamaCppBackend:
    """Loads a GGUF (validated first), renders its chat template sandboxed, streams completions."""

    def __init__(self, model_path: str | Path, *, n_ctx: int = 4096, n_gpu_layers: int | str = "auto",
                 n_threads: int | None = None, seed: int = 1234, display_name: str | None = None) -> None:
        from assistant.llm.gguf_check import check_gguf

        self.path = Path(model_path).expanduser()
        # Raises ModelFileError naming the file and the cause, before llama.cpp can crash on it.
        gguf = check_gguf(self.path, n_ctx=n_ctx, check_memory=(n_gpu_layers in (0, "0") or
                                                                 not gpu_offload_supported()))
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.n_threads = n_threads or default_threads()
        supported = gpu_offload_supported()
        want_gpu = (-1 if supported else 0) if n_gpu_layers == "auto" else int(n_gpu_layers)
        self.gpu_fallback_reason = ""
        if want_gpu != 0 and not supported:
            self.gpu_fallback_reason = "this llama.cpp build has no GPU support; running on the CPU"
            want_gpu = 0
        self.seed = seed
        try:
            self.llm = self._load(want_gpu, n_ctx)
        except Exception as exc:
            if want_gpu == 0:
                raise LLMError(f"could not load model {self.path}: {exc}") from exc
            self.gpu_fallback_reason = f"loading on the GPU failed ({exc}); running on the CPU"
            try:
                self.llm = self._load(0, n_ctx)
            except Exception as exc2:
                raise LLMError(f"could not load model {self.path}: {exc2}") from exc2
            want_gpu = 0
        self.n_gpu_layers = want_gpu
        meta = getattr(self.llm, "metadata", {}) or {}
        template_src = meta.get("tokenizer.chat_template") or gguf.chat_template
        self.template = ChatTemplate(template_src, bos_token=self._token_text(self.llm.token_bos()),
                                     eos_token=self._token_text(self.llm.token_eos()))
        self.native_tool_messages = supports_tool_messages(self.template.source)
        self.info = BackendInfo(
            backend="llama-cpp", model=display_name or self.path.name, context_length=self.llm.n_ctx(),
            details={"path": str(self.path), "architecture": gguf.architecture,
                     "n_gpu_layers": want_gpu, "gpu_offload_supported": supported,
                     "gpu_fallback_reason": self.gpu_fallback_reason, "threads": self.n_threads,
                     "llama_cpp_python": llama_cpp.__version__,
                     "train_context_length": gguf.context_length})
        self.last_usage = Usage()
        # Mean/max token entropy of the last answer (None for grammar-constrained decisions): how unsure it was.
        self.last_uncertainty: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._router_lock = threading.Lock()
        self._router_llm = None
        self._closed = False
        self._grammars: dict[str, Any] = {}
        self._adapters: dict[str, Any] = {}  # loaded LoRA adapters by file, kept for switching back
        self.adapter: str | None = None  # the adapter answers are generated with now
        self.adapter_scale = 1.0

    def _load(self, n_gpu_layers: int, n_ctx: int):
        _quiet_llama_cpp(self._llama_cpp)
        # verbose=True only so that llama-cpp-python does not silence output by pointing the process's stdout
        # and stderr (file descriptors 1 and 2) at /dev/null while it loads: done from a warm-up thread, that
        # swallowed everything the rest of the program printed meanwhile (a voice command's JSON lines, the chat
        # banner). Its messages go to the log instead (_quiet_llama_cpp).
        llm = self._llama_cpp.Llama(
            model_path=str(self.path), n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, n_threads=self.n_threads,
            n_threads_batch=self.n_threads, seed=self.seed, verbose=True)
        llm.verbose = False  # no per-generation timing and cache messages
        return llm

    def _token_text(self, token: int) -> str:
        try:
            return self.llm.detokenize([token], special=True).decode("utf-8", errors="ignore")
        except Exception:
            return ""

    def render(self, messages: list[dict[str, Any]], prefill: str = "") -> str:
        """The exact prompt text sent to the model."""
        if not self.native_tool_messages:
            messages = flatten_tool_messages(messages)
        return self.template.render(messages, add_generation_prompt=True) + prefill

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, messages: list[dict[str, Any]], prefill: str = "") -> int:
        return len(self.tokenize(self.render(messages, prefill)))

    def _grammar(self, schema: dict[str, Any]):
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            self._grammars[key] = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        return self._grammars[key]

    def stream(self, messages: list[dict[str, Any]], *, prefill: str = "",
               json_schema: dict[str, Any] | None = None, max_tokens: int = 512,
               temperature: float = 0.2, cancel: CancelToken | None = None,
               purpose: str = "chat") -> Iterator[str]:
        prompt = self.render(messages, prefill)
        llm = self._router() if purpose == "router" else self.llm
        yield from self.stream_prompt(prompt, json_schema=json_schema, max_tokens=max_tokens,
                                      temperature=temperature, cancel=cancel, llm=llm)

    def stream_prompt(self, prompt: str, *, json_schema: dict[str, Any] | None = None,
                      max_tokens: int = 512, temperature: float = 0.2,
                      cancel: CancelToken | None = None, llm: Any = None) -> Iterator[str]:
        """Stream a completion of raw prompt text (the chat template already applied)."""
        llm = llm or self.llm
        tokens = self.tokenize(prompt)
        room = llm.n_ctx() - len(tokens)
        if room < 8:
            raise LLMError(f"the prompt takes {len(tokens)} tokens but the context holds "
                           f"{llm.n_ctx()}; shorten the message or start a new conversation")
        grammar = self._grammar(json_schema) if json_schema else None
        usage = Usage(prompt_tokens=len(tokens))
        # Free-text answers are measured; a grammar's forced tokens say nothing about the model's doubt.
        meter = None if grammar is not None else EntropyMeter()
        extra: dict[str, Any] = {}
        if meter is not None:
            extra["logits_processor"] = self._llama_cpp.LogitsProcessorList([meter])
        with self._lock:
            usage.cached_tokens = _common_prefix(llm._input_ids, tokens)
            start = time.monotonic()
            completion: list[int] = []
            try:
                yield from self._generate(llm, tokens, completion, usage, start, max_tokens=min(max_tokens, room),
                                          temperature=temperature, grammar=grammar, cancel=cancel, **extra)
            except LLMError:
                raise
            except Exception as exc:
                raise LLMError(f"the model failed while generating: {type(exc).__name__}: {exc}") from exc
            finally:
                usage.total_s = time.monotonic() - start
                usage.completion_tokens = len(completion)
                self.last_usage = usage
                self.last_uncertainty = meter.summary() if meter is not None else None

    def _generate(self, llm: Any, tokens: list[int], completion: list[int], usage: Usage, start: float, *,
                  max_tokens: int, temperature: float, grammar: Any, cancel: CancelToken | None,
                  logits_processor: Any = None) -> Iterator[str]:
        """Sample like llama-cpp-python's create_completion, but decode the tokens' bytes ourselves.

        create_completion's streaming drops a multi-byte character when the answer ends right after a
        token that completed it (its final flush decodes each held token alone, ignoring errors), so the
        token loop is ours and every token's bytes go through one incremental UTF-8 decoder.
        """
        text = Utf8Stream()
        vocab = llm._model.vocab
        llm.set_seed(self.seed)  # as create_completion(seed=...) does: the same answer for the same prompt
        # Sampling settings are create_completion's defaults, so answers are what they were before.
        steps = llm.generate(tokens, top_k=40, top_p=0.95, min_p=0.05, typical_p=1.0, temp=temperature,
                             repeat_penalty=1.0, frequency_penalty=0.0, presence_penalty=0.0, tfs_z=1.0,
                             logits_processor=logits_processor, grammar=grammar)
        try:
            for token in steps:
                if self._llama_cpp.llama_vocab_is_eog(vocab, token):
                    break
                piece = text.feed(llm.detokenize([token]))  # the token's own bytes, as create_completion uses
                completion.append(token)
                if piece:
                    if usage.ttft_s == 0.0:
                        usage.ttft_s = time.monotonic() - start
                    yield piece
                if len(completion) >= max_tokens or (cancel is not None and cancel.cancelled):
                    break
        finally:
            steps.close()
        text.finish()

    def set_adapter(self, path: str | Path | None, scale: float = 1.0) -> bool:
        """Answer with this GGUF LoRA adapter on top of the base weights (None: the base alone).

        Switching takes milliseconds: the base model stays loaded, adapters once loaded stay in memory, and
        only the cached prompt is dropped (it was computed with the other weights). Tool choice keeps the
        base model, so a personal adapter can never change how tools are called. Returns whether it changed.
        """
        key = str(Path(path).resolve()) if path is not None else None
        if key == self.adapter and (key is None or scale == self.adapter_scale):
            return False
        lc = self._llama_cpp
        with self._lock:
            if self._closed:
                raise LLMError("the model was closed")
            if key is None:
                lc.llama_set_adapters_lora(self.llm.ctx, None, 0, None)
            else:
                handle = self._adapters.get(key)
                if handle is None:
                    handle = lc.llama_adapter_lora_init(self.llm.model, key.encode("utf-8"))
                    if not handle:
                        raise LLMError(f"llama.cpp could not load the adapter {key} (is it for this model?)")
                    self._adapters[key] = handle
                import ctypes

                adapters = (lc.llama_adapter_lora_p_ctypes * 1)(handle)
                scales = (ctypes.c_float * 1)(scale)
                if lc.llama_set_adapters_lora(self.llm.ctx, adapters, 1, scales):
                    raise LLMError(f"llama.cpp could not apply the adapter {key}")
            self.llm.reset()  # the cached prefix was computed with the previous weights
            self.adapter = key
            self.adapter_scale = scale
        return True

    def warm(self, messages: list[dict[str, Any]], *, json_schema: dict[str, Any] | None = None,
             purpose: str = "chat") -> None:
        """Evaluate a prompt's stable prefix ahead of time, so the first real turn finds it cached."""
        if json_schema:
            self._grammar(json_schema)
        llm = self._router() if purpose == "router" else self.llm
        with self._lock:
            if self._closed:  # closed while warming up (the app quit early): nothing to warm
                return
            tokens = self.tokenize(self.render(messages))
            if _common_prefix(llm._input_ids, tokens) >= len(tokens) - 1:
                return
            # One greedy token evaluates (and caches) the whole prompt; the next prompt reuses the prefix.
            for _ in llm.create_completion(tokens, max_tokens=1, temperature=0.0, stream=True):
                pass

    def _router(self):
        """A second context on the same (memory-mapped, so shared) weights for tool-choice prompts.

        Keeping them apart means neither evicts the other's cached prefix: the router's long, stable
        tool list stays evaluated, and so does the conversation.
        """
        # Under a lock: the warm-up thread and the first turn may both ask for it at once, and a second
        # context replacing the first while one thread decodes on it crashes the process.
        with self._router_lock:
            if self._closed:
                raise LLMError("the model was closed")
            if self._router_llm is None:
                self._router_llm = self._load(self.n_gpu_layers, self.llm.n_ctx())
            return self._router_llm

    def close(self) -> None:
        # Under both locks: freeing a context another thread is decoding on, or that a warm-up thread is still
        # creating, would crash the process.
        with self._router_lock, self._lock:
            self._closed = True
            if self._adapters and getattr(self, "llm", None) is not None:
                self._llama_cpp.llama_set_adapters_lora(self.llm.ctx, None, 0, None)
                for handle in self._adapters.values():
                    self._llama_cpp.llama_adapter_lora_free(handle)
                self._adapters.clear()
            for attr in ("_router_llm", "llm"):
                llm = getattr(self, attr, None)
                if llm is not None:
                    llm.close()
                    setattr(self, attr, None)


def _common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
