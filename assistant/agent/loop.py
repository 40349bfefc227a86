"""The turn loop: a generator of events from the user's message to the final answer."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from assistant.agent.fit import MessageTooLong, fit_messages
from assistant.agent.grounding import copied_values
from assistant.agent.prompt import (NO_TOOL, ToolExchange, decision_schema, history_turns, own_words,
                                    router_messages, router_system_prompt, user_text)
from assistant.api import ToolContext
from assistant.cancel import CancelToken
from assistant.context import AfterTurnHook, CompletedTurn, ContextBlock, ContextProvider, untrusted
from assistant.events import (ApprovalRequested, ErrorEvent, Event, Final, Token, ToolCallRequested, ToolResult,
                              TurnStarted)
from assistant.history.store import HistoryStore
from assistant.llm.base import ChatBackend, LLMError
from assistant.text import clean_data, clean_text
from assistant.tools.executor import Approval, PreparedCall, ToolExecutor, ToolOutcome
from assistant.tools.registry import ToolRegistry

log = logging.getLogger("biseo.agent")


@dataclass
class LoopConfig:
    """The knobs of one turn (from settings)."""

    persona: str
    tools_enabled: bool = True
    disabled_tools: list[str] = field(default_factory=list)
    max_steps: int = 4
    max_retries: int = 2
    max_tokens: int = 512
    decision_max_tokens: int = 1536  # strings are capped in the schema, so this is rarely reached
    temperature: float = 0.2


@dataclass
class _TurnState:
    steps: int = 0
    failures: int = 0
    denied: bool = False
    calls: set[str] = field(default_factory=set)
    completion_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generations: int = 0
    citations: list[dict[str, Any]] = field(default_factory=list)
    conversation_id: str | None = None


class Agent:
    """Runs turns against a backend, a tool executor and the history store."""

    def __init__(self, *, backend: Callable[[], ChatBackend], store: HistoryStore, registry: ToolRegistry,
                 executor: ToolExecutor, config: LoopConfig,
                 tool_context: Callable[[str, str, CancelToken], ToolContext],
                 context_providers: list[ContextProvider] | None = None,
                 after_turn: list[AfterTurnHook] | None = None) -> None:
        self._backend = backend
        self.store = store
        self.registry = registry
        self.executor = executor
        self.config = config
        self.tool_context = tool_context
        self.context_providers = context_providers if context_providers is not None else []
        self.after_turn = after_turn if after_turn is not None else []

    def run(self, conversation_id: str, text: str, *, cancel: CancelToken | None = None,
            system_prompt: str | None = None) -> Iterator[Event]:
        """Yield the events of one turn; never raises for model, tool or input faults.

        `system_prompt` replaces the configured persona for this turn (the conversation's persona).
        """
        cancel = cancel or CancelToken()
        persona = self.config.persona if system_prompt is None else system_prompt
        text = clean_text(text).strip()
        if not text:
            yield ErrorEvent("The message is empty.", kind="input", conversation_id=conversation_id)
            return
        citations: list[dict[str, Any]] = []
        hinted: list[str] = []
        notes: list[str] = []
        context = self._context_for(text, conversation_id, citations, hinted, notes)
        tid, mid = self.store.begin_turn(conversation_id, text, context)
        started = time.monotonic()
        yield TurnStarted(conversation_id, mid)
        state = _TurnState(citations=citations, conversation_id=conversation_id)
        answer: list[str] = []
        first_token_at: float | None = None
        uncertainty: dict[str, Any] | None = None
        try:
            backend = self._backend()
            tools = self.registry.enabled(self.config.disabled_tools) if self.config.tools_enabled else []
            router_system = router_system_prompt(tools) if tools else ""
            schema = decision_schema(tools) if tools else None
            history = history_turns(self.store.messages(conversation_id, completed_only=True))
            previous = _last_exchange(history)
            exchanges: list[ToolExchange] = []
            budget = backend.info.context_length - self.config.max_tokens

            def fitted() -> list[dict[str, Any]]:
                current = [{"role": "user", "content": user_text(text, context, exchanges)}]
                msgs, _ = fit_messages(persona, history, current, count=backend.count_tokens,
                                       budget=budget)
                return msgs

            fitted()  # a message too long for the context fails here, before any tool runs
            must = [t for t in tools if t.name in hinted]
            excluded: set[str] = set()  # tools this step's decision may not pick again (it copied an example)
            while tools and self._may_call_tool(state):
                # A hinted first step chooses among the hinted tools (same cached prompt, narrower grammar).
                step_schema = decision_schema(must, allow_none=False) if must and state.steps == 0 else schema
                if excluded:
                    pool = must if must and state.steps == 0 else tools
                    allowed = [t for t in pool if t.name not in excluded]
                    if not allowed:
                        break
                    step_schema = decision_schema(allowed, allow_none=not (must and state.steps == 0))
                decision = "".join(backend.stream(router_messages(router_system, text, exchanges, previous,
                                                                  note="\n".join(notes)),
                                                  json_schema=step_schema, temperature=0.0, purpose="router",
                                                  max_tokens=self.config.decision_max_tokens, cancel=cancel))
                self._count(state, backend)
                if cancel.cancelled:
                    break
                name, arguments, problem = parse_decision(decision)
                if name == NO_TOOL or _signature(name, arguments) in state.calls:
                    break  # a repeated identical call means the model has what it needs: answer
                said = " ".join([text, *(previous or ()), *(e.output for e in exchanges)])
                if not excluded and copied_values(self.registry.get(name or ""), arguments, said):
                    excluded.add(name or "")  # the call was copied from an example: choose once more without it
                    continue
                excluded.clear()
                call_id = uuid.uuid4().hex[:12]
                args = arguments if isinstance(arguments, dict) else {}
                yield ToolCallRequested(call_id, name or "?", args)
                outcome = yield from self._execute(name, arguments, problem, call_id, state, cancel)
                yield ToolResult(call_id, name or "?", outcome.ok, outcome.output, round(outcome.duration_s, 3),
                                 outcome.denied)
                self.store.add_message(conversation_id, tid, "tool_call", json.dumps(args, ensure_ascii=False),
                                       raw=decision, tool_name=name, tool_call_id=call_id, tool_args=args)
                self.store.add_message(conversation_id, tid, "tool_result", outcome.output, tool_name=name,
                                       tool_call_id=call_id, ok=outcome.ok,
                                       meta={"denied": outcome.denied, "duration_s": outcome.duration_s})
                exchanges.append(ToolExchange(name or "?", args, outcome.ok, outcome.output, denied=outcome.denied))
            if not cancel.cancelled:
                for piece in backend.stream(fitted(), max_tokens=self.config.max_tokens,
                                            temperature=self.config.temperature, cancel=cancel):
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                    answer.append(piece)
                    yield Token(piece)
                self._count(state, backend)
                # Read right after the answer's own stream: router decisions (grammar) reset it to None.
                uncertainty = _uncertainty(getattr(backend, "last_uncertainty", None))
        except MessageTooLong as exc:
            yield from self._fail(conversation_id, tid, f"Your message is too long for this model: {exc}. "
                                  "Shorten it, or add the text as a document.", "too_long")
            return
        except LLMError as exc:
            yield from self._fail(conversation_id, tid, str(exc), "model")
            return
        except Exception as exc:  # noqa: BLE001 - a code fault ends the turn with a message, not a crash
            log.exception("turn failed")
            yield from self._fail(conversation_id, tid, f"Something went wrong: {type(exc).__name__}: {exc}",
                                  "internal")
            return
        full = "".join(answer).strip()
        usage = {"prompt_tokens": state.prompt_tokens, "completion_tokens": state.completion_tokens,
                 "cached_tokens": state.cached_tokens, "generations": state.generations,
                 "tool_steps": state.steps,
                 "time_to_first_token_s": round(first_token_at - started, 3) if first_token_at else None,
                 "total_s": round(time.monotonic() - started, 3)}
        status = "cancelled" if cancel.cancelled else "done"
        meta: dict[str, Any] = {}
        if citations:
            meta["citations"] = citations
        if uncertainty is not None:
            meta["uncertainty"] = uncertainty  # the review queue offers the least sure answers first
        message_id = self.store.add_message(conversation_id, tid, "assistant", full, meta=meta or None)
        self.store.finish_turn(tid, status, usage=usage)
        if not cancel.cancelled:
            self._after_turn(CompletedTurn(conversation_id, tid, mid, text, full, message_id))
        yield Final(text=full, conversation_id=conversation_id, message_id=message_id, usage=usage,
                    citations=list(citations), cancelled=cancel.cancelled,
                    uncertainty=dict(uncertainty) if uncertainty is not None else None)

    def warm_up(self) -> None:
        """Evaluate the stable prompt prefixes (tool list, persona) before the first message arrives."""
        backend = self._backend()
        warm = getattr(backend, "warm", None)
        if warm is None:
            return
        tools = self.registry.enabled(self.config.disabled_tools) if self.config.tools_enabled else []
        if tools:
            warm(router_messages(router_system_prompt(tools), "", []), json_schema=decision_schema(tools),
                 purpose="router")
        warm([{"role": "system", "content": self.config.persona}, {"role": "user", "content": ""}])

    def _may_call_tool(self, state: _TurnState) -> bool:
        return (state.steps < self.config.max_steps and state.failures <= self.config.max_retries
                and not state.denied)

    def _execute(self, name: str | None, arguments: Any, problem: str, call_id: str, state: _TurnState,
                 cancel: CancelToken):
        """Validate, ask approval when needed, and run one call (a sub-generator yielding approval events)."""
        signature = _signature(name, arguments)
        if problem:
            outcome = ToolOutcome(False, f"error: {problem}")
        else:
            prepared = self.executor.prepare(name, arguments)
            outcome = prepared if isinstance(prepared, ToolOutcome) else None
            if isinstance(prepared, PreparedCall):
                approval: Approval | None = None
                if prepared.needs_approval:
                    request: ApprovalRequested = prepared.approval_request(call_id)
                    yield request
                    ok, reason = request.decision
                    approval = Approval.grant(request)  # the executor refuses the call without it
                    if not ok:
                        state.denied = True
                        outcome = ToolOutcome(False, f"denied: the user did not allow this call of {name} "
                                                     f"({reason}). Nothing was done. Tell the user; do not retry.",
                                              denied=True)
                if outcome is None:
                    ctx = self.tool_context(prepared.spec.name, call_id, cancel)
                    ctx.citations = state.citations  # numbering continues from the recalled context
                    ctx.conversation_id = state.conversation_id
                    outcome = self.executor.run(prepared, ctx, approval)
                    state.denied = state.denied or outcome.denied
        state.calls.add(signature)
        state.steps += 1
        state.failures = 0 if outcome.ok else state.failures + 1
        return outcome

    def _count(self, state: _TurnState, backend: ChatBackend) -> None:
        u = backend.last_usage
        state.generations += 1
        state.prompt_tokens = u.prompt_tokens
        state.completion_tokens += u.completion_tokens
        state.cached_tokens = u.cached_tokens

    def _context_for(self, text: str, conversation_id: str, citations: list[dict[str, Any]],
                     hinted: list[str], notes: list[str]) -> str:
        parts = []
        for provider in self.context_providers:
            try:
                block = provider(text, conversation_id)
            except Exception:  # noqa: BLE001 - recall must never block a turn
                log.exception("context provider failed")
                continue
            marked = False
            if isinstance(block, ContextBlock):
                citations.extend(block.citations)
                hinted.extend(block.tools)
                if block.router_note:
                    notes.append(block.router_note)
                marked = block.marked
                block = block.text
            if block and not marked:  # a provider that did not mark its outside text: all of it is untrusted
                block = untrusted(str(block), getattr(provider, "__name__", "context"))
            if block:
                parts.append(block)
        return "\n\n".join(parts)

    def _after_turn(self, turn: CompletedTurn) -> None:
        for hook in self.after_turn:
            try:
                hook(turn)
            except Exception:  # noqa: BLE001 - a failing hook (memory extraction) must not lose the answer
                log.exception("after-turn hook failed")

    def _fail(self, cid: str, tid: str, message: str, kind: str) -> Iterator[Event]:
        self.store.finish_turn(tid, "error", error=message)
        yield ErrorEvent(message, kind=kind, conversation_id=cid)


def _last_exchange(history: list[list[dict[str, Any]]]) -> tuple[str, str] | None:
    """The previous turn's user message and answer, so follow-ups ("and in Seoul?") route well."""
    if not history:
        return None
    turn = history[-1]
    answer = next((m["content"] for m in reversed(turn) if m["role"] == "assistant"), "")
    return own_words(turn[0]["content"]), answer


def _uncertainty(value: Any) -> dict[str, Any] | None:
    """The backend's {"mean_entropy", "max_entropy", "tokens"} as plain numbers, or None when not measured."""
    if not isinstance(value, dict):
        return None
    try:
        return {"mean_entropy": float(value["mean_entropy"]), "max_entropy": float(value["max_entropy"]),
                "tokens": int(value["tokens"])}
    except (KeyError, TypeError, ValueError):
        return None


def _signature(name: str | None, arguments: Any) -> str:
    return json.dumps([name, arguments], sort_keys=True, default=str)


def parse_decision(text: str) -> tuple[str | None, Any, str]:
    """(tool name, arguments, problem) from the model's decision JSON; problem is '' when well-formed."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, None, f"the tool call was not valid JSON ({exc.msg}); it may have been cut off"
    if not isinstance(obj, dict) or not isinstance(obj.get("tool"), str):
        return None, None, 'the tool call must be a JSON object like {"tool": "name", "arguments": {...}}'
    name = obj["tool"]
    if name == NO_TOOL:
        return NO_TOOL, None, ""
    if clean_text(name) != name or len(name) > 100:
        # Control characters, a lone surrogate ("\ud800" is valid JSON) or a flood: never a tool's name.
        shown = clean_text(name)[:60]
        return shown, None, f"there is no tool named {shown!r}{'...' if len(name) > 60 else ''}"
    arguments = obj.get("arguments", {})
    cleaned = clean_data(arguments)
    if cleaned != arguments:
        # JSON may spell NULs, control characters and lone surrogates. Cleaning them silently would change
        # what runs ("a.txt\x00../b" would become another path), so the call is refused, and the cleaned
        # arguments are what gets stored and shown.
        return name, cleaned, ("the arguments contain a NUL byte, a control character or a lone surrogate, "
                               "which no tool accepts; nothing was run")
    return name, arguments, ""
