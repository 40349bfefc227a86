"""The memory tools (remember, recall, forget) run like the app runs them, on a real memory database."""

from __future__ import annotations

import pytest

from assistant.api import ToolContext
from assistant.memory.service import MemoryService
from assistant.paths import resolve_paths
from assistant.settings import Settings
from assistant.testing import approve
from assistant.tools.executor import PreparedCall, ToolExecutor
from assistant.tools.registry import ToolRegistry
from plugins.memory import forget, recall, remember

from tests.memory.fakes import FakeIndex


@pytest.fixture
def memory():
    service = MemoryService(resolve_paths().ensure().data_dir, Settings(), index_factory=FakeIndex)
    yield service
    service.close()


@pytest.fixture
def run(tool_runner, memory):
    """Validate with the shipped tool runner, then run with a context that has the memory service."""

    def call(func, *, service=memory, **arguments):
        prepared = tool_runner.prepare(func, **arguments)
        if not isinstance(prepared, PreparedCall):
            return prepared
        registry = ToolRegistry()
        registry.add(prepared.spec, plugin="memory")
        ctx = ToolContext(tool_name=prepared.spec.name, call_id="call-1", memory=service)
        return ToolExecutor(registry).run(prepared, ctx, approve(prepared, ctx.call_id))

    return call


@pytest.mark.parametrize("func", [remember, recall, forget])
def test_contract(tool_contract, func):
    spec = tool_contract(func)
    assert spec.examples, "the router needs examples to pick memory tools"


def test_only_forget_waits_for_approval(tool_runner):
    assert tool_runner.needs_approval(remember, fact="I live in Busan") is False
    assert tool_runner.needs_approval(recall, query="") is False
    assert tool_runner.needs_approval(forget, what="I live in Busan") is True


def test_remember_then_recall(run, memory):
    out = run(remember, fact="my sister's birthday is May 3")
    assert out.ok and out.output.startswith("Remembered: my sister's birthday is May 3")
    saved = memory.list()[0]
    assert saved.source.kind == "tool" and saved.source.describe() == "the remember tool (call call-1)"
    found = run(recall, query="sister's birthday")
    assert found.ok and "my sister's birthday is May 3" in found.output and saved.id[:8] in found.output


def test_remember_twice_and_a_change(run, memory):
    run(remember, fact="my sister's birthday is May 3")
    again = run(remember, fact="My sister's birthday is May 3.")
    assert again.ok and again.output.startswith("Already remembered")
    changed = run(remember, fact="The user's sister's birthday is June 3")
    assert changed.ok and "replaces: my sister's birthday is May 3" in changed.output
    assert [m.text for m in memory.list()] == ["The user's sister's birthday is June 3"]


def test_recall_with_no_query_lists_what_is_known(run):
    assert run(recall).output == "Nothing is remembered about the user yet."
    run(remember, fact="I live in Busan")
    run(remember, fact="I'm allergic to peanuts")
    out = run(recall, query="")
    assert "I live in Busan" in out.output and "I'm allergic to peanuts" in out.output


def test_recall_says_when_nothing_matches(run):
    run(remember, fact="I live in Busan")
    out = run(recall, query="favourite football team")
    assert out.ok and out.output == "Nothing in memory matches 'favourite football team'."


def test_forget_by_description_or_id(run, memory):
    run(remember, fact="my sister's birthday is May 3")
    run(remember, fact="I live in Busan")
    out = run(forget, what="my sister's birthday")
    assert out.ok and out.output.startswith("Forgotten: my sister's birthday is May 3")
    assert [m.text for m in memory.list()] == ["I live in Busan"]
    busan = memory.list()[0]
    assert run(forget, what=busan.id[:8]).ok and memory.list() == []


def test_forget_something_unknown_is_a_clear_error(run):
    run(remember, fact="I live in Busan")
    out = run(forget, what="my car's colour")
    assert not out.ok and "no memory matches" in out.output and "nothing was forgotten" in out.output


def test_bad_input_is_refused_and_loses_nothing(run, memory):
    run(remember, fact="I live in Busan")
    assert not run(remember, fact="   ").ok
    assert not run(remember, fact="x" * 600).ok
    assert [m.text for m in memory.list()] == ["I live in Busan"]


def test_without_a_memory_service_the_tools_say_so(run):
    out = run(recall, service=None)
    assert not out.ok and "not available" in out.output


@pytest.mark.parametrize("fact", ["Remembering things better takes practice", "what is my dog's name?"])
def test_remember_refuses_what_is_not_a_fact_about_the_user(run, memory, fact):
    out = run(remember, fact=fact)
    assert not out.ok and "nothing was saved" in out.output
    assert memory.list() == []


def test_forget_refuses_to_guess_between_equally_good_matches(run, memory):
    run(remember, fact="my sister Jane lives in Busan")
    run(remember, fact="my sister Jane lives in Seoul")
    out = run(forget, what="sister Jane")
    assert not out.ok and "several memories match" in out.output and "by id" in out.output
    assert len(memory.list()) == 2
