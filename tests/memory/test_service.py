"""The memory service with a fast in-memory index: dedup, updates, recall, forgetting and index repair."""

from __future__ import annotations

import pytest

from assistant.context import CompletedTurn
from assistant.memory.service import MemoryService, MemoryUnavailable, format_memories
from assistant.memory.store import MemoryNotFound, Source
from assistant.index.base import IndexLocked
from assistant.paths import resolve_paths


def turn(text: str, cid: str = "c0nversation", mid: str = "msg1") -> CompletedTurn:
    return CompletedTurn(cid, "turn1", mid, text, "Noted.", "answer1")


def test_the_same_fact_twice_is_one_memory(memory):
    first = memory.add("My dog is called Bori")
    again = memory.add("my dog is called Bori.")
    other_words = memory.add("My dog's name is Bori")
    assert first.action == "added" and again.action == "unchanged" and other_words.action == "unchanged"
    assert [m.text for m in memory.list()] == ["My dog is called Bori"]


def test_a_changed_fact_replaces_the_old_one_which_stays_in_history(memory):
    old = memory.add("My sister's birthday is May 3").memory
    result = memory.add("My sister's birthday is actually June 3")
    assert result.action == "updated" and result.previous[0].id == old.id
    assert [m.text for m in memory.list()] == ["My sister's birthday is actually June 3"]
    assert [v.text for v in memory.history(result.memory.id)][0] == "My sister's birthday is May 3"
    assert memory.get(old.id[:8]).status == "superseded"


def test_search_finds_the_memory_and_skips_unrelated_ones(memory, fake_index):
    memory.add("My sister's birthday is May 3")
    memory.add("I live in Busan")
    hits = memory.search("when is my sister's birthday?", k=3)
    assert hits[0].memory.text == "My sister's birthday is May 3"
    assert len(fake_index.items) == 2


def test_recall_gives_relevant_memories_and_nothing_for_unrelated_messages(memory):
    memory.add("My sister's birthday is May 3")
    block = memory.recall_context("When is my sister's birthday?")
    assert block is not None and "- My sister's birthday is May 3" in block.text
    assert block.text.startswith("[What you know about the user")
    assert memory.recall_context("Write a haiku about autumn leaves") is None


def test_asking_what_you_know_about_me_lists_recent_memories(memory):
    memory.add("I live in Busan")
    memory.add("I am allergic to peanuts")
    block = memory.recall_context("What do you know about me?")
    assert "I live in Busan" in block.text and "I am allergic to peanuts" in block.text


def test_recall_can_be_switched_off(memory, settings):
    memory.add("I live in Busan")
    settings.memory.enabled = False
    assert memory.recall_context("Where do I live in Busan?") is None


def test_nothing_remembered_means_no_index_is_opened(fake_index, settings):
    opened = []
    service = MemoryService(resolve_paths().ensure().data_dir, settings,
                            index_factory=lambda: opened.append(1) or fake_index)
    assert service.recall_context("When is my sister's birthday?") is None
    assert service.search("anything") == []
    assert opened == []
    service.close()


def test_edit_changes_what_is_recalled(memory):
    m = memory.add("My sister's birthday is May 3").memory
    memory.edit(m.id[:6], "My sister's birthday is June 3")
    block = memory.recall_context("When is my sister's birthday?")
    assert "June 3" in block.text and "May 3" not in block.text
    assert [v.text for v in memory.history(m.id)] == ["My sister's birthday is May 3",
                                                      "My sister's birthday is June 3"]


def test_forget_removes_it_from_answers_and_from_the_index(memory, fake_index):
    m = memory.add("My sister's birthday is May 3").memory
    memory.forget(m.id[:8])
    assert memory.recall_context("When is my sister's birthday?") is None
    assert m.id not in fake_index.items and memory.list() == []
    assert memory.get(m.id).text == ""  # a tombstone: the id says it was forgotten, the words are gone


def test_find_by_description_or_id(memory):
    m = memory.add("My sister's birthday is May 3").memory
    memory.add("I live in Busan")
    assert memory.find("my sister's birthday")[0].memory.id == m.id
    assert memory.find(m.id[:8])[0].memory.id == m.id
    assert memory.find("the capital of France") == []


def test_unknown_ids_are_a_clear_error(memory):
    with pytest.raises(MemoryNotFound, match="no memory"):
        memory.get("deadbeef")


def test_facts_from_a_turn_are_learned_with_their_source(memory):
    learned = memory.learn_from_turn(turn("Btw, I live in Busan. What's a good restaurant?", "c" * 32, "m" * 32))
    assert [r.memory.text for r in learned] == ["I live in Busan"]
    mem = learned[0].memory
    assert mem.source == Source("conversation", "c" * 32, "m" * 32)
    assert memory.search("where do I live, Busan?")[0].memory.id == mem.id  # indexed before the next search


def test_auto_extract_can_be_switched_off(memory, settings):
    settings.memory.auto_extract = False
    assert memory.learn_from_turn(turn("I live in Busan")) == []
    assert memory.list() == []


def test_a_turn_that_used_the_memory_tools_is_not_learned_from_again(memory):
    # The user said "remember that ..." and refused the call, or forgot something: that decision stands.
    assert memory.learn_from_turn(turn("remember that I live in Busan"), ["remember"]) == []
    assert memory.learn_from_turn(turn("forget that I live in Busan"), ["forget"]) == []
    assert memory.list() == []


def test_questions_in_a_turn_are_not_learned(memory):
    assert memory.learn_from_turn(turn("What is my sister's birthday?")) == []


def test_a_crash_between_database_and_index_is_repaired_on_open(fake_index, settings):
    data = resolve_paths().ensure().data_dir
    first = MemoryService(data, settings, index_factory=lambda: fake_index)
    first.learn_from_turn(turn("I live in Busan"))  # written to SQLite, index update still pending
    first.store.close()  # the process dies here: nothing else runs
    assert fake_index.items == {}
    second = MemoryService(data, settings, index_factory=lambda: fake_index)
    assert second.search("Busan")[0].memory.text == "I live in Busan"
    second.close()


def test_a_damaged_index_is_rebuilt_from_the_database(memory, fake_index, settings):
    memory.add("I live in Busan")
    memory.add("I am allergic to peanuts")
    memory.close()
    fake_index.damaged = True
    again = MemoryService(resolve_paths().data_dir, settings, index_factory=lambda: fake_index)
    assert again.search("peanuts")[0].memory.text == "I am allergic to peanuts"
    assert fake_index.rebuilds == 1 and len(fake_index.items) == 2
    again.close()


def test_an_index_that_disagrees_with_the_database_is_rebuilt(memory, fake_index, settings):
    memory.add("I live in Busan")
    memory.close()
    fake_index.items.clear()  # e.g. the index folder was deleted
    again = MemoryService(resolve_paths().data_dir, settings, index_factory=lambda: fake_index)
    assert again.search("Busan")[0].memory.text == "I live in Busan" and fake_index.rebuilds == 1
    again.close()


def test_a_locked_index_gives_a_clear_message_and_loses_nothing(settings):
    def locked():
        raise IndexLocked("/x/memory-index is in use by another Biseo process (pid 42)")

    service = MemoryService(resolve_paths().ensure().data_dir, settings, index_factory=locked)
    saved = service.add("I live in Busan")  # safe in SQLite; the index owner applies it on its next search
    assert saved.action == "added" and service.store.pending() == [saved.memory.id]
    with pytest.raises(MemoryUnavailable, match="another Biseo process"):
        service.search("Busan")
    assert service.recall_context("Do I live in Busan?") is None  # a turn still runs
    service.close()


def test_the_block_for_the_model_is_short_and_marked():
    from assistant.memory.store import Memory

    m = Memory("a" * 32, "I live in Busan", "home", "active", None, Source(), 1.0, 1.0, 1)
    assert format_memories([m]).splitlines() == [
        "[What you know about the user (from earlier conversations; the user said these):]",
        '<untrusted source="memory">', "- I live in Busan", "</untrusted>", "[End of what you know about the user]"]


def test_an_index_that_breaks_while_running_is_reopened_and_rebuilt(memory, fake_index):
    memory.add("I live in Busan")
    fake_index.items.clear()
    fake_index.damaged = True  # e.g. its files were damaged under the running app
    original = fake_index.search

    def broken_once(*args, **kwargs):
        fake_index.search = original
        from assistant.index.base import IndexDamaged
        raise IndexDamaged("unreadable")

    fake_index.search = broken_once
    assert memory.search("Busan")[0].memory.text == "I live in Busan"
    assert fake_index.rebuilds == 1


def test_lead_ins_are_not_part_of_the_memory(memory):
    assert memory.add("btw, I moved to Seoul").memory.text == "I moved to Seoul"
    assert memory.add("Please remember that my dog is called Bori").memory.text == "my dog is called Bori"
