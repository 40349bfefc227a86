"""The chat in the real window: streaming, stop, approvals, feedback, conversations, citations."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from ui.chat.messages import AssistantMessage, ErrorMessage, UserMessage
from ui.chat.tool_card import ToolCard

WRITE = {"tool": "files", "arguments": {"action": "write", "path": "todo.txt", "content": "buy milk"}}


def test_a_typed_question_gets_a_streamed_answer(qtbot, open_window, send, wait_idle):
    window = open_window(answers=["Seoul is the capital of South Korea."])
    assert window.chat.transcript.empty.isVisible()  # the empty state greets a new chat
    send(window, "What is the capital of Korea?")
    wait_idle(window)
    users = window.chat.transcript.of_type(UserMessage)
    answers = window.chat.transcript.of_type(AssistantMessage)
    assert [u.text for u in users] == ["What is the capital of Korea?"]
    assert "Seoul is the capital of South Korea." in answers[-1].body.plain_text()
    assert answers[-1].up_button.isVisible() and answers[-1].correct_button.isVisible()
    assert not window.chat.transcript.empty.isVisible()
    assert window.sidebar.titles() == ["What is the capital of Korea?"]  # the new chat is listed
    assert window.chat.composer.input.toPlainText() == ""


def test_tokens_appear_while_the_answer_streams(qtbot, open_window, send, wait_idle, fake_backend):
    class Slow(fake_backend):
        def stream(self, *args, **kwargs):
            for piece in super().stream(*args, **kwargs):
                time.sleep(0.05)
                yield piece

    window = open_window(backend=Slow([], ["one two three four five six seven eight nine ten"]))
    send(window, "count")
    qtbot.waitUntil(lambda: (a := window.chat.transcript.last_assistant()) is not None and "two" in a.text)
    assert window.chat.busy  # still streaming: the text grew before the turn ended
    assert window.chat.composer.button.accessibleName() == "Stop"
    wait_idle(window)
    assert "ten" in window.chat.transcript.last_assistant().text


def test_stop_cancels_the_answer(qtbot, open_window, send, wait_idle, fake_backend):
    class Slow(fake_backend):
        def stream(self, *args, **kwargs):
            for piece in super().stream(*args, **kwargs):
                time.sleep(0.1)
                yield piece

    words = " ".join(f"word{i}" for i in range(200))
    window = open_window(backend=Slow([], [words]))
    send(window, "talk a lot")
    qtbot.waitUntil(lambda: (a := window.chat.transcript.last_assistant()) is not None and "word2" in a.text)
    qtbot.mouseClick(window.chat.composer.button, Qt.LeftButton)  # the Send button is Stop now
    wait_idle(window)
    answer = window.chat.transcript.last_assistant()
    assert "word199" not in answer.text
    assert answer.note.isVisible() and "Stopped" in answer.note.text()
    assert window.chat.composer.button.accessibleName() == "Send"
    stored = window.services.assistant.store.messages(window.chat.cid)
    assert stored[-1].turn_status == "cancelled"


@pytest.mark.parametrize("allow", [True, False])
def test_a_file_write_asks_first(qtbot, open_window, send, wait_idle, docs_folder, allow):
    window = open_window(decisions=[WRITE, {"tool": "none"}], answers=["Done." if allow else "I did not write it."])
    send(window, "save buy milk to todo.txt")
    qtbot.waitUntil(lambda: window.chat.approval is not None and window.chat.approval.isVisible())
    dialog = window.chat.approval
    assert '"path": "todo.txt"' in dialog.arguments_view.toPlainText()  # the app's rendering, not prose
    assert dialog.deny_button.isDefault()
    card = window.chat.transcript.of_type(ToolCard)[0]
    assert "waiting" in card.status.text()
    assert window.chat.busy  # the worker waits for the decision
    qtbot.mouseClick(dialog.allow_button if allow else dialog.deny_button, Qt.LeftButton)
    wait_idle(window)
    assert (docs_folder / "todo.txt").exists() is allow
    assert ("done" if allow else "denied") in card.status.text()


def test_escape_denies(qtbot, open_window, send, wait_idle, docs_folder):
    window = open_window(decisions=[WRITE, {"tool": "none"}], answers=["Not written."])
    send(window, "save buy milk to todo.txt")
    qtbot.waitUntil(lambda: window.chat.approval is not None and window.chat.approval.isVisible())
    qtbot.keyClick(window.chat.approval, Qt.Key_Escape)
    wait_idle(window)
    assert not (docs_folder / "todo.txt").exists()


def test_tool_card_shows_tool_arguments_result_and_collapses(qtbot, open_window, send, wait_idle):
    window = open_window(decisions=[{"tool": "calculator", "arguments": {"expression": "12345 * 6789"}},
                                    {"tool": "none"}], answers=["It is 83810205."])
    send(window, "What is 12345 * 6789?")
    wait_idle(window)
    card = window.chat.transcript.of_type(ToolCard)[0]
    assert card.name == "calculator" and "12345 * 6789" in card.arguments_view.toPlainText()
    assert "83810205" in card.result_text and "done" in card.status.text()
    assert card.expanded
    qtbot.mouseClick(card.toggle, Qt.LeftButton)
    assert not card.expanded


def test_an_error_is_shown_in_the_chat_with_details(qtbot, open_window, send, wait_idle, fake_backend):
    window = open_window(backend=fake_backend([], [], fail_on="chat"), plugins=())
    send(window, "hello")
    wait_idle(window)
    error = window.chat.transcript.of_type(ErrorMessage)[0]
    assert "crashed" in error.message
    assert not error.details.isVisible()
    qtbot.mouseClick(error.details_button, Qt.LeftButton)
    assert error.details.isVisible()


def test_switching_conversations_changes_the_transcript(qtbot, open_window, send, wait_idle):
    window = open_window(answers=["Answer one.", "Answer two."], plugins=())
    send(window, "first question")
    wait_idle(window)
    first = window.chat.cid
    qtbot.mouseClick(window.sidebar.new_button, Qt.LeftButton)
    assert window.chat.transcript.empty.isVisible()
    send(window, "second question")
    wait_idle(window)
    assert window.sidebar.titles() == ["second question", "first question"]
    item = window.sidebar.list.item(1)
    rect = window.sidebar.list.visualItemRect(item)
    qtbot.mouseClick(window.sidebar.list.viewport(), Qt.LeftButton, pos=rect.center())
    assert window.chat.cid == first
    assert [u.text for u in window.chat.transcript.of_type(UserMessage)] == ["first question"]
    assert "Answer one." in window.chat.transcript.last_assistant().text
    assert window.chat.title.text() == "first question"


def test_rename_delete_and_search_conversations(qtbot, open_window, send, wait_idle):
    window = open_window(answers=["A.", "B."], plugins=())
    send(window, "about apples")
    wait_idle(window)
    window.new_chat()
    send(window, "about bananas")
    wait_idle(window)
    sidebar = window.sidebar
    # search (matches message text too)
    qtbot.keyClicks(sidebar.search, "apple")
    qtbot.waitUntil(lambda: sidebar.titles() == ["about apples"])
    sidebar.search.clear()
    qtbot.waitUntil(lambda: len(sidebar.titles()) == 2)
    # rename
    sidebar.list.setCurrentRow(0)
    sidebar.rename_action.trigger()
    dialog = sidebar.dialog
    assert dialog.isVisible()
    dialog.edit.clear()
    qtbot.keyClicks(dialog.edit, "Fruit talk")
    qtbot.keyClick(dialog.edit, Qt.Key_Return)
    qtbot.waitUntil(lambda: "Fruit talk" in sidebar.titles())
    # delete asks first; Cancel keeps it
    sidebar.list.setCurrentRow(sidebar.titles().index("Fruit talk"))
    sidebar.delete_action.trigger()
    qtbot.mouseClick(sidebar.dialog.cancel_button, Qt.LeftButton)
    assert "Fruit talk" in sidebar.titles()
    sidebar.list.setCurrentRow(sidebar.titles().index("Fruit talk"))
    sidebar.delete_action.trigger()
    qtbot.mouseClick(sidebar.dialog.yes_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: sidebar.titles() == ["about apples"])
    assert len(window.services.assistant.store.list_conversations()) == 1


def test_a_citation_chip_opens_the_passage(qtbot, open_window, send, wait_idle, make_assistant, tmp_path):
    from assistant.context import ContextBlock

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    citation = {"n": 1, "source": str(pdf), "file": "report.pdf", "page": 3, "section": "",
                "snippet": "Revenue grew 12% in the third quarter.", "chunk_id": "c1"}
    app = make_assistant(answers=["Revenue grew 12% [1]."], plugins=())
    app.agent.context_providers.append(lambda text, cid: ContextBlock("[1] Revenue grew 12%.", [citation]))
    window = open_window(app)
    opened = []
    window.services.open_path = lambda path, page=None: opened.append((path, page)) or True
    send(window, "How did revenue do?")
    wait_idle(window)
    answer = window.chat.transcript.last_assistant()
    chip = answer.chips.chips[0]
    assert chip.text() == "[1] report.pdf p.3"
    qtbot.mouseClick(chip, Qt.LeftButton)
    dialog = window.chat.dialog
    assert dialog.isVisible() and "Revenue grew 12% in the third quarter." in dialog.passage.toPlainText()
    qtbot.mouseClick(dialog.open_button, Qt.LeftButton)
    assert opened == [(str(pdf), 3)]


def test_the_history_is_shown_again_after_reopening(qtbot, open_window, send, wait_idle, make_assistant):
    app = make_assistant(decisions=[{"tool": "calculator", "arguments": {"expression": "2+2"}}, {"tool": "none"}],
                         answers=["It is 4."])
    window = open_window(app)
    send(window, "what is 2+2")
    wait_idle(window)
    cid = window.chat.cid
    window.new_chat()
    window.chat.open_conversation(cid)
    cards = window.chat.transcript.of_type(ToolCard)
    assert len(cards) == 1 and "4" in cards[0].result_text and not cards[0].expanded
    assert "It is 4." in window.chat.transcript.last_assistant().text
