"""Thumbs, corrections, regenerate, edit-and-resend and the persona picker in the real window."""

from __future__ import annotations

from PySide6.QtCore import Qt

from ui.chat.messages import AssistantMessage, UserMessage


def test_rating_an_answer_is_stored_and_shown(qtbot, open_window, send, wait_idle):
    window = open_window(answers=["Paris."], plugins=())
    send(window, "capital of France?")
    wait_idle(window)
    answer = window.chat.transcript.last_assistant()
    qtbot.mouseClick(answer.up_button, Qt.LeftButton)
    feedback = window.services.assistant.feedback
    assert feedback.for_message(answer.message_id)["rating"] == 1
    assert answer.up_button.isChecked() and not answer.down_button.isChecked()
    qtbot.mouseClick(answer.down_button, Qt.LeftButton)
    assert feedback.for_message(answer.message_id)["rating"] == -1
    # reopening the conversation shows the stored state (the filled thumb)
    cid = window.chat.cid
    window.new_chat()
    window.chat.open_conversation(cid)
    assert window.chat.transcript.last_assistant().down_button.isChecked()


def test_correcting_an_answer(qtbot, open_window, send, wait_idle):
    window = open_window(answers=["The capital of Australia is Sydney."], plugins=())
    send(window, "capital of Australia?")
    wait_idle(window)
    answer = window.chat.transcript.last_assistant()
    qtbot.mouseClick(answer.correct_button, Qt.LeftButton)
    dialog = window.chat.dialog
    assert dialog.isVisible() and dialog.editor.toPlainText() == "The capital of Australia is Sydney."
    dialog.editor.setPlainText("The capital of Australia is Canberra.")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    stored = window.services.assistant.feedback.for_message(answer.message_id)
    assert stored["correction"] == "The capital of Australia is Canberra."
    assert "correction was saved" in answer.note.text()


def test_regenerate_replaces_the_last_answer(qtbot, open_window, send, wait_idle):
    window = open_window(answers=["First try.", "Second try."], plugins=())
    send(window, "tell me something")
    wait_idle(window)
    answer = window.chat.transcript.last_assistant()
    assert answer.regenerate_button.isVisible()
    qtbot.mouseClick(answer.regenerate_button, Qt.LeftButton)
    wait_idle(window)
    answers = window.chat.transcript.of_type(AssistantMessage)
    assert [a.text for a in answers] == ["Second try."]
    assert len(window.chat.transcript.of_type(UserMessage)) == 1


def test_edit_and_resend_a_user_message(qtbot, open_window, send, wait_idle):
    window = open_window(answers=["About cats.", "About dogs."], plugins=())
    send(window, "tell me about cats")
    wait_idle(window)
    user = window.chat.transcript.of_type(UserMessage)[0]
    qtbot.mouseClick(user.edit_button, Qt.LeftButton)
    assert user.editor.isVisible()
    user.editor.setPlainText("tell me about dogs")
    qtbot.mouseClick(user.save_button, Qt.LeftButton)
    wait_idle(window)
    assert [u.text for u in window.chat.transcript.of_type(UserMessage)] == ["tell me about dogs"]
    assert [a.text for a in window.chat.transcript.of_type(AssistantMessage)] == ["About dogs."]


def test_the_persona_picker_sets_the_conversation_persona(qtbot, open_window, send, wait_idle, make_assistant):
    from assistant.personas import Persona

    app = make_assistant(answers=["Arr.", "Ok."], plugins=())
    app.personas.save(Persona(name="Pirate", system_prompt="Talk like a pirate."))
    window = open_window(app)
    picker = window.chat.persona
    assert "Pirate" in [picker.itemText(i) for i in range(picker.count())]
    send(window, "hello")
    wait_idle(window)
    picker.setCurrentIndex(picker.findText("Pirate"))
    picker.activated.emit(picker.currentIndex())
    assert app.persona_of(window.chat.cid) == "Pirate"
    send(window, "hello again")
    wait_idle(window)
    assert "Talk like a pirate." in str(app.agent._backend().calls[-1]["messages"])
