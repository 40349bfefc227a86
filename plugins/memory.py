"""Built-in memory tools: remember a fact about the user, recall what is known, forget a memory."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any, Callable

from pydantic import Field

from assistant.api import ToolContext, ToolError, hookimpl, tool

RECALL_LIMIT = 10
FORGET_MIN_SCORE = 0.45  # closeness in meaning (0-1) a description needs to pick a memory to erase
AMBIGUOUS_GAP = 0.05  # two matches closer than this are too close to choose between
# A fact worth keeping is about the user: it says I, my, me (or "the user"). This stops a misrouted
# request ("how do I remember things better?") from turning into a junk memory.
ABOUT_THE_USER = re.compile(r"\b(i|i'm|i've|i'd|i'll|im|my|me|mine|myself|we|our|us|user|user's)\b", re.IGNORECASE)


def _memory(ctx: ToolContext) -> Any:
    if ctx.memory is None:
        raise ToolError("long-term memory is not available in this app")
    return ctx.memory


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


def _line(memory: Any) -> str:
    return f"- {memory.text} (id {memory.id[:8]}; {memory.source.describe()}, {_when(memory.updated_at)})"


def _call(ctx: ToolContext, what: Callable[[], Any]) -> Any:
    """Run a memory operation; its known faults become errors the model can read and pass on."""
    try:
        return what()
    except (KeyError, ValueError) as exc:  # MemoryNotFound, InvalidMemory
        raise ToolError(str(exc).strip("'\"")) from None
    except RuntimeError as exc:  # MemoryUnavailable: another Biseo process holds the index
        raise ToolError(str(exc)) from None


def _source(ctx: ToolContext, tool_name: str) -> dict[str, Any]:
    """Where the change came from, as the memory service records it (a tool call in a conversation)."""
    return {"kind": "tool", "conversation_id": getattr(ctx, "conversation_id", None),
            "detail": f"{tool_name}, call {ctx.call_id}" if ctx.call_id else tool_name}


# Remembering needs no approval: it only adds to the user's own memory, which they can list, edit and
# forget at any time, and automatic memory stores such facts without asking anyway. Forgetting erases
# for good, so it waits for the user's yes (a misrouted "forget" must not destroy anything).
@tool(side_effects=False, examples=[
    ("remember that my sister's birthday is May 3", {"fact": "my sister's birthday is May 3"}),
    ("don't forget that I'm allergic to peanuts", {"fact": "I'm allergic to peanuts"}),
    ("keep in mind that I prefer short answers", {"fact": "I prefer short answers"}),
])
def remember(
    fact: Annotated[str, Field(description="The fact about the user to keep, in the user's words, like "
                               "'my sister's birthday is May 3'", min_length=1, max_length=500)],
    ctx: ToolContext,
) -> str:
    """Save a fact about the user in long-term memory, so it is known in later conversations."""
    memory = _memory(ctx)
    fact = fact.replace("\u2019", "'").strip()
    if fact.endswith("?") or not ABOUT_THE_USER.search(fact):
        raise ToolError("remember keeps facts about the user in their words, like 'my sister's birthday is "
                        "May 3'; this is not one, so nothing was saved")
    result = _call(ctx, lambda: memory.add(fact, _source(ctx, "remember")))
    saved = result.memory
    if result.action == "unchanged":
        return f"Already remembered: {saved.text} (id {saved.id[:8]})"
    if result.action == "updated":
        old = "; ".join(p.text for p in result.previous)
        return f"Updated memory: {saved.text} (id {saved.id[:8]}); it replaces: {old}"
    return f"Remembered: {saved.text} (id {saved.id[:8]})"


@tool(examples=[
    ("what do you know about me?", {"query": ""}),
    ("do you remember where I live?", {"query": "where I live"}),
])
def recall(
    query: Annotated[str, Field(description="What to look for in memory, like 'sister's birthday'; empty "
                                "lists the most recent memories", max_length=300)] = "",
    ctx: ToolContext = None,  # type: ignore[assignment]
) -> str:
    """Look up what is known about the user from long-term memory (facts they told in earlier conversations)."""
    memory = _memory(ctx)
    if query.strip():
        found = [r.memory for r in _call(ctx, lambda: memory.find(query))][:RECALL_LIMIT]
        if not found:
            return f"Nothing in memory matches {query.strip()!r}."
        return "Memories about the user matching the query:\n" + "\n".join(_line(m) for m in found)
    found = _call(ctx, lambda: memory.list(limit=RECALL_LIMIT))
    if not found:
        return "Nothing is remembered about the user yet."
    return "What is remembered about the user (newest first):\n" + "\n".join(_line(m) for m in found)


@tool(side_effects=True, examples=[
    ("forget my sister's birthday", {"what": "my sister's birthday"}),
    ("delete what you remember about my allergy", {"what": "my allergy"}),
])
def forget(
    what: Annotated[str, Field(description="The memory to erase: its id, or words describing it like "
                               "'my sister's birthday'", min_length=1, max_length=300)],
    ctx: ToolContext,
) -> str:
    """Erase one memory about the user for good (from memory and from later answers)."""
    memory = _memory(ctx)
    # Erasing the wrong memory cannot be undone, so a description must match clearly and one memory only.
    found = _call(ctx, lambda: memory.find(what, min_score=FORGET_MIN_SCORE))
    if not found:
        raise ToolError(f"no memory matches {what.strip()!r}; nothing was forgotten")
    if len(found) > 1 and found[1].score >= found[0].score - AMBIGUOUS_GAP:
        options = "\n".join(_line(r.memory) for r in found[:5])
        raise ToolError(f"several memories match {what.strip()!r}; nothing was forgotten. Ask the user which "
                        f"one (by id):\n{options}")
    target = found[0].memory
    _call(ctx, lambda: memory.forget(target.id, _source(ctx, "forget")))
    return f"Forgotten: {target.text} (id {target.id[:8]})"


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(remember)
    register(recall)
    register(forget)
