"""The server backend: any OpenAI-compatible chat endpoint (llama.cpp server, vLLM, Ollama)."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import httpx

from assistant.cancel import CancelToken
from assistant.llm.base import BackendInfo, LLMError, Usage


class OpenAIBackend:
    """Streams chat completions over HTTP; tool choices use `response_format` JSON schema."""

    def __init__(self, base_url: str, *, model: str = "", api_key: str = "", n_ctx: int = 4096,
                 timeout_s: float = 120.0, seed: int = 1234) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(timeout_s, connect=10.0))
        self.seed = seed
        # How a JSON schema is sent: the OpenAI form first; llama-cpp-python's server only knows
        # {"type": "json_object", "schema": ...} and rejects "json_schema", so we switch on that error.
        self._schema_style = "json_schema"
        self.model = model or self._first_model()
        self.info = BackendInfo(backend="openai", model=self.model, context_length=n_ctx,
                                details={"server_url": self.base_url})
        self.last_usage = Usage()

    def _first_model(self) -> str:
        try:
            response = self._client.get("/models")
            response.raise_for_status()
            models = response.json().get("data", [])
        except httpx.HTTPError as exc:
            raise LLMError(f"cannot reach the model server at {self.base_url}: {exc}") from exc
        except ValueError as exc:
            raise LLMError(f"the model server at {self.base_url} sent a malformed model list") from exc
        if not models:
            raise LLMError(f"the model server at {self.base_url} serves no models")
        return str(models[0].get("id", ""))

    def count_tokens(self, messages: list[dict[str, Any]], prefill: str = "") -> int:
        # No tokenizer on this side: about 3.5 characters a token, plus a few per message for the template.
        chars = sum(len(str(m.get("content", ""))) for m in messages) + len(prefill)
        return int(chars / 3.5) + 6 * len(messages)

    def stream(self, messages: list[dict[str, Any]], *, prefill: str = "",
               json_schema: dict[str, Any] | None = None, max_tokens: int = 512,
               temperature: float = 0.2, cancel: CancelToken | None = None,
               purpose: str = "chat") -> Iterator[str]:
        msgs = [dict(m) for m in messages]
        if prefill:
            msgs.append({"role": "assistant", "content": prefill})
        body: dict[str, Any] = {"model": self.model, "messages": msgs, "stream": True, "max_tokens": max_tokens,
                                "temperature": temperature, "seed": self.seed}
        usage = Usage()
        start = time.monotonic()
        try:
            for attempt in range(2):
                if json_schema is not None:
                    body["response_format"] = self._response_format(json_schema)
                with self._client.stream("POST", "/chat/completions", json=body) as response:
                    if response.status_code < 400:
                        yield from self._read_stream(response, usage, start, cancel)
                        return
                    detail = response.read().decode("utf-8", errors="replace")[:300]
                if (json_schema is not None and attempt == 0 and self._schema_style == "json_schema"
                        and "response_format" in detail):
                    self._schema_style = "json_object"
                    continue
                raise LLMError(f"the model server answered {response.status_code}: {detail}")
        except httpx.ConnectError as exc:
            raise LLMError(f"cannot reach the model server at {self.base_url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise LLMError(f"lost the model server at {self.base_url}: {exc}") from exc
        finally:
            usage.total_s = time.monotonic() - start
            self.last_usage = usage

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._schema_style == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "tool_choice", "schema": schema, "strict": True}}

    def _read_stream(self, response: httpx.Response, usage: Usage, start: float,
                     cancel: CancelToken | None) -> Iterator[str]:
        for line in response.iter_lines():
            if cancel is not None and cancel.cancelled:
                break
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise LLMError("the model server sent a malformed stream chunk") from None
            if chunk.get("usage"):
                usage.prompt_tokens = chunk["usage"].get("prompt_tokens", 0) or 0
            choices = chunk.get("choices") or []
            if not choices:
                continue
            text = (choices[0].get("delta") or {}).get("content") or ""
            if text:
                if usage.completion_tokens == 0:
                    usage.ttft_s = time.monotonic() - start
                usage.completion_tokens += 1
                yield text

    def warm(self, messages: list[dict[str, Any]], *, json_schema: dict[str, Any] | None = None,
             purpose: str = "chat") -> None:
        """Nothing to do: the server keeps its own cache, and a request just to warm it would cost a slot."""

    def close(self) -> None:
        self._client.close()
