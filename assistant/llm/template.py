"""Render a model's chat template (from GGUF metadata) in a sandboxed Jinja environment."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Used when a GGUF carries no template: ChatML is what most small instruct models speak.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class TemplateRenderError(RuntimeError):
    """The model's chat template failed to render these messages."""


def _raise(message: str) -> None:
    raise TemplateRenderError(f"the model's chat template refused the conversation: {message}")


class ChatTemplate:
    """A compiled chat template; untrusted template code runs sandboxed and immutable."""

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        self.source = source or CHATML_TEMPLATE
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, autoescape=False)
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: _dt.datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(self.source)
        except TemplateError as exc:
            raise TemplateRenderError(f"the model's chat template does not compile: {exc}") from exc
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: list[dict[str, Any]], *, add_generation_prompt: bool = True) -> str:
        """The prompt text for these messages, ending with the assistant's header when asked."""
        try:
            return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                         bos_token=self.bos_token, eos_token=self.eos_token)
        except TemplateRenderError:
            raise
        except Exception as exc:  # sandbox violations and template bugs alike
            raise TemplateRenderError(f"the model's chat template failed: {type(exc).__name__}: {exc}") from exc


def supports_tool_messages(source: str) -> bool:
    """Whether a template renders assistant `tool_calls` and 'tool' messages itself."""
    return "tool_calls" in source and ("'tool'" in source or '"tool"' in source)


def flatten_tool_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For templates without tool support: calls become assistant JSON, results become user messages."""
    import json

    out: list[dict[str, Any]] = []
    for m in messages:
        if m.get("tool_calls"):
            calls = [{"tool": c["function"]["name"], "arguments": c["function"]["arguments"]}
                     for c in m["tool_calls"]]
            text = "\n".join(json.dumps(c, ensure_ascii=False) for c in calls)
            out.append({"role": "assistant", "content": (m.get("content") or "") + text})
        elif m.get("role") == "tool":
            out.append({"role": "user", "content": m.get("content", "")})
        else:
            out.append({"role": m["role"], "content": m.get("content", "")})
    return out
