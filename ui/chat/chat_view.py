"""The chat page: header (title, persona), transcript, composer and voice bar; it runs turns off the GUI thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from assistant.events import (ApprovalRequested, ErrorEvent, Final, Status, Token, ToolCallRequested, ToolResult,
                              TurnStarted)
from ui.chat import feedback
from ui.chat.citations import PassageDialog
from ui.chat.composer import Composer
from ui.chat.messages import AssistantMessage, UserMessage
from ui.chat.tool_card import ToolCard
from ui.chat.transcript import Transcript
from ui.dialogs.approval import ApprovalDialog
from ui.dialogs.correction import CorrectionDialog
from ui.workers import TurnWorker

log = logging.getLogger("biseo.ui")
NEW_TITLE = "New chat"


@dataclass
class _Turn:
    """What the window knows about the turn in progress."""

    cid: str
    kind: str  # "chat", "voice", "regenerate", "edit", "hands_free"
    worker: TurnWorker | None = None
    user: UserMessage | None = None
    answer: AssistantMessage | None = None
    cards: dict[str, ToolCard] = field(default_factory=dict)
    ended: bool = False


class ChatView(QWidget):
    """Shows one conversation and streams new turns into it."""

    status_message = Signal(str)
    conversation_changed = Signal(object)  # id or None (a new, not yet saved chat)
    conversations_changed = Signal()
    turn_finished = Signal(str)

    def __init__(self, services, parent=None, *, voice_bar: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatPage")
        self.services = services
        self.cid: str | None = None
        self.turn: _Turn | None = None
        self.approval: ApprovalDialog | None = None
        self.dialog = None  # the last passage/correction dialog (tests look at it)
        self.pending_persona: str | None = None
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        header = QWidget()
        header.setObjectName("chatHeader")
        head = QHBoxLayout(header)
        head.setContentsMargins(20, 8, 16, 8)
        self.title = QLabel(NEW_TITLE)
        self.title.setObjectName("chatTitle")
        self.title.setTextFormat(Qt.PlainText)
        head.addWidget(self.title, 1)
        persona_label = QLabel("Persona")
        persona_label.setObjectName("roleLabel")
        head.addWidget(persona_label)
        self.persona = QComboBox()
        self.persona.setToolTip("How Biseo talks in this conversation")
        self.persona.setMinimumWidth(150)
        self.persona.setEnabled(False)
        self.persona.activated.connect(self._persona_chosen)
        head.addWidget(self.persona)
        box.addWidget(header)
        self.transcript = Transcript()
        self.transcript.link_clicked.connect(self.services.open_url)
        self.transcript.citation_clicked.connect(self.show_citation)
        self.transcript.rated.connect(self.rate)
        self.transcript.correct_requested.connect(self.correct)
        self.transcript.regenerate_requested.connect(self.regenerate)
        self.transcript.edit_submitted.connect(self.edit_and_resend)
        box.addWidget(self.transcript, 1)
        self.composer = Composer()
        self.composer.send.connect(self.send)
        self.composer.stop.connect(self.stop)
        box.addWidget(self.composer)
        self.voice_bar = voice_bar
        if voice_bar is not None:
            self.composer.row.insertWidget(1, voice_bar, 0, Qt.AlignBottom)
            voice_bar.conversation_id = lambda: self.cid
            voice_bar.command.connect(self.run_voice_command)
            voice_bar.hands_free_events.connect(self._on_hands_free_event)
            voice_bar.heard_nothing.connect(self.status_message)
        services.when_ready(self._ready)

    # startup
    def _ready(self) -> None:
        self.composer.set_ready(True)
        self._fill_personas()

    def _fill_personas(self) -> None:
        personas = getattr(self.services.assistant, "personas", None)
        self.persona.clear()
        if personas is None:
            self.persona.addItem("Default")
            return
        try:
            items = personas.list()
        except Exception as exc:  # noqa: BLE001 - the chat works without personas
            log.warning("personas could not be listed: %s", exc)
            items = []
        for item in items:
            name = item if isinstance(item, str) else getattr(item, "name", None) or str(item)
            self.persona.addItem(name)
        self.persona.setEnabled(self.persona.count() > 0)
        self._show_persona()

    def _show_persona(self) -> None:
        assistant = self.services.assistant
        name = self.pending_persona
        if self.cid and assistant is not None and hasattr(assistant, "persona_of"):
            name = assistant.persona_of(self.cid)
        elif name is None and assistant is not None and getattr(assistant, "personas", None) is not None:
            name = assistant.personas.default_name
        index = self.persona.findText(name) if name else -1
        self.persona.setCurrentIndex(index if index >= 0 else 0)

    def _persona_chosen(self, index: int) -> None:
        name = self.persona.itemText(index)
        if self.cid is None:
            self.pending_persona = name  # applied when the conversation is created by the first message
            return
        self._apply_persona(self.cid, name)

    def _apply_persona(self, cid: str, name: str) -> None:
        try:
            self.services.assistant.set_persona(cid, name)
            self.status_message.emit(f"Persona: {name}")
        except Exception as exc:  # noqa: BLE001 - plain words in the window, not a crash
            self.status_message.emit(f"The persona could not be changed: {exc}")

    # conversations
    def new_conversation(self) -> None:
        self.cid = None
        self.title.setText(NEW_TITLE)
        self.transcript.clear()
        self.pending_persona = None
        self._show_persona()
        self.conversation_changed.emit(None)
        self.composer.input.setFocus()

    def open_conversation(self, cid: str | None) -> None:
        if cid is None:
            self.new_conversation()
            return
        store = self.services.assistant.store
        self.cid = cid
        try:
            self.title.setText(store.get_conversation(cid).title)
        except KeyError:
            self.new_conversation()
            return
        self.reload()
        self._show_persona()
        self.conversation_changed.emit(cid)

    def reload(self) -> None:
        """Show the current conversation as stored (the store is the source of truth)."""
        if self.cid is None:
            self.transcript.clear()
            return
        assistant = self.services.assistant
        self.transcript.load(assistant.store.messages(self.cid),
                             lambda mid: feedback.state(assistant, mid))
        self.transcript.update_actions(self.turn is None)
        try:
            self.title.setText(assistant.store.get_conversation(self.cid).title)
        except KeyError:
            pass

    def conversation_deleted(self, cid: str) -> None:
        if cid == self.cid:
            if self.turn is not None and self.turn.cid == cid:
                self.stop()
            self.new_conversation()

    def _ensure_conversation(self) -> str:
        if self.cid is None:
            assistant = self.services.assistant
            if self.pending_persona:
                self.cid = assistant.new_conversation(persona=self.pending_persona)
                self.pending_persona = None
            else:
                self.cid = assistant.new_conversation()
            self.conversation_changed.emit(self.cid)
        return self.cid

    # turns
    @property
    def busy(self) -> bool:
        return self.turn is not None

    def send(self, text: str) -> None:
        """A typed message: shown at once, answered on a worker."""
        if self.busy or not self.services.is_ready:
            return
        cid = self._ensure_conversation()
        assistant = self.services.assistant
        self.run_turn(lambda cancel: assistant.chat(text, cid, cancel=cancel), kind="chat", user_text=text)

    def run_voice_command(self, text: str, make_events: Callable[[Any], Iterator]) -> None:
        if self.busy:
            return
        self._ensure_conversation()
        self.run_turn(make_events, kind="voice", user_text=text)
        if self.voice_bar is not None:
            self.voice_bar.watch_answer()

    def regenerate(self) -> None:
        if self.busy or self.cid is None:
            return
        assistant, cid = self.services.assistant, self.cid
        if not hasattr(assistant, "regenerate"):
            self.status_message.emit("Regenerating needs a newer Biseo core.")
            return
        users = self.transcript.of_type(UserMessage)
        if users:  # the old answer (and its tool cards) make way for the new one
            index = self.transcript.items.index(users[-1])
            if index + 1 < len(self.transcript.items):
                self.transcript.remove_from(self.transcript.items[index + 1])
        self.run_turn(lambda cancel: assistant.regenerate(cid, cancel=cancel), kind="regenerate",
                      user=users[-1] if users else None)

    def edit_and_resend(self, message_id: str, new_text: str) -> None:
        if self.busy or self.cid is None:
            return
        assistant, cid = self.services.assistant, self.cid
        if not hasattr(assistant, "edit_and_resend"):
            self.status_message.emit("Editing a message needs a newer Biseo core.")
            return
        user = next((w for w in self.transcript.of_type(UserMessage) if w.message_id == message_id), None)
        if user is not None:
            index = self.transcript.items.index(user)
            if index + 1 < len(self.transcript.items):
                self.transcript.remove_from(self.transcript.items[index + 1])
        self.run_turn(lambda cancel: assistant.edit_and_resend(cid, message_id, new_text, cancel=cancel),
                      kind="edit", user=user)

    def run_turn(self, make_events: Callable[[Any], Iterator], *, kind: str, user_text: str | None = None,
                 user: UserMessage | None = None) -> _Turn:
        cid = self.cid
        if user is None and user_text is not None:
            user = self.transcript.add_user(user_text)
        worker = TurnWorker(make_events, parent=self)
        turn = _Turn(cid=cid, kind=kind, worker=worker, user=user)
        self.turn = turn
        worker.event.connect(lambda event, t=turn: self._on_event(t, event))
        worker.crashed.connect(lambda message, details, t=turn: self._on_crash(t, message, details))
        worker.finished.connect(lambda t=turn: self._on_finished(t))
        self.composer.set_running(True)
        self.transcript.update_actions(False)
        self.transcript.scroll_to_end()
        worker.start(self.services.pool)
        return turn

    def stop(self) -> None:
        """Stop: cancel the turn (a pending approval is denied) and interrupt speech."""
        turn = self.turn
        if turn is None:
            return
        if turn.worker is not None:
            turn.worker.stop()
        if self.approval is not None and not self.approval.answered:
            self.approval.reject()
        if self.voice_bar is not None and turn.kind in ("voice", "hands_free"):
            self.voice_bar.barge_in()
        self.status_message.emit("Stopping…")

    def _shown(self, turn: _Turn) -> bool:
        return turn.cid == self.cid

    def _answer(self, turn: _Turn) -> AssistantMessage:
        if turn.answer is None:
            turn.answer = self.transcript.add_assistant()
        return turn.answer

    def _on_event(self, turn: _Turn, event) -> None:
        """One event of a turn, on the GUI thread; cheap per token (append only)."""
        if isinstance(event, ApprovalRequested):
            self._ask_approval(turn, event)  # asked even when another conversation is on screen
            return
        if not self._shown(turn):
            return
        if isinstance(event, Token):
            self._answer(turn).append(event.text)
        elif isinstance(event, TurnStarted):
            if turn.user is None:
                turn.user = self.transcript.add_user(self._stored_text(event.message_id), event.message_id)
            else:
                turn.user.message_id = event.message_id
            self._answer(turn)
        elif isinstance(event, Status):
            self._answer(turn).set_status(event.text)
            self.status_message.emit(event.text)
        elif isinstance(event, ToolCallRequested):
            answer = turn.answer
            if answer is not None and not answer.text:  # cards go before the answer they lead to
                self.transcript.remove_from(answer)
                turn.answer = None
            turn.cards[event.call_id] = self.transcript.add_tool_card(event.call_id, event.name, event.arguments)
            self._answer(turn).set_status(f"Using {event.name}…")
        elif isinstance(event, ToolResult):
            card = turn.cards.get(event.call_id)
            if card is not None:
                card.set_result(event.ok, event.output, event.duration_s, event.denied)
        elif isinstance(event, Final):
            answer = self._answer(turn)
            answer.finish(event.text, event.message_id, event.citations, event.cancelled)
            answer.set_rating(feedback.current_rating(self.services.assistant, event.message_id))
            turn.ended = True
            if turn.kind == "hands_free":
                self._end(turn)
        elif isinstance(event, ErrorEvent):
            if turn.answer is not None:
                if turn.answer.text:
                    turn.answer.finish(turn.answer.text, None, note="The answer was cut off.")
                else:
                    self.transcript.remove_from(turn.answer)
                turn.answer = None
            self.transcript.add_error(event.message, f"kind: {event.kind}\n\n{event.message}")
            turn.ended = True
            if turn.kind == "hands_free":
                self._end(turn)

    def _stored_text(self, message_id: str) -> str:
        for message in self.services.assistant.store.messages(self.cid or ""):
            if message.id == message_id:
                return message.content
        return ""

    def _ask_approval(self, turn: _Turn, request: ApprovalRequested) -> None:
        card = turn.cards.get(request.call_id)
        if card is not None:
            card.set_waiting()
        spec = self.services.assistant.registry.get(request.name) if self.services.assistant else None
        if spec is not None:
            request.files = getattr(spec, "file_access", "none")
        dialog = ApprovalDialog(request, self.window())
        dialog.decided.connect(lambda ok: self.status_message.emit(
            f"Allowed {request.name} once." if ok else f"Denied {request.name}."))
        self.approval = dialog
        dialog.open()
        # A spoken yes/no (hands-free) may answer first: then the dialog just closes.
        timer = QTimer(dialog, interval=150)
        timer.timeout.connect(lambda: dialog.done(0) if request.wait(0) and not dialog.answered else None)
        timer.start()

    def _on_crash(self, turn: _Turn, message: str, details: str) -> None:
        if self._shown(turn):
            if turn.answer is not None and not turn.answer.text:
                self.transcript.remove_from(turn.answer)
                turn.answer = None
            self.transcript.add_error(message, details)

    def _on_finished(self, turn: _Turn) -> None:
        self._end(turn)

    def _end(self, turn: _Turn) -> None:
        if self.turn is turn:
            self.turn = None
        if self.approval is not None and not self.approval.answered and self.approval.isVisible():
            self.approval.reject()
        if self._shown(turn):
            if turn.answer is not None and turn.answer.message_id is None and not turn.ended:
                turn.answer.finish(turn.answer.text, None, cancelled=True)
            if turn.kind in ("regenerate", "edit"):
                self.reload()  # the core rewrote the end of the history: show it as stored
        self.composer.set_running(False)
        self.transcript.update_actions(True)
        self.conversations_changed.emit()
        if self.cid is not None and self._shown(turn):
            try:
                self.title.setText(self.services.assistant.store.get_conversation(self.cid).title)
            except KeyError:
                pass
        self.status_message.emit("")
        self.turn_finished.emit(turn.cid)

    def _on_hands_free_event(self, event) -> None:
        """Hands-free: a command arrives as a turn on its own (TurnStarted), approvals are also spoken."""
        if isinstance(event, TurnStarted) and self.turn is None:
            if self.cid != event.conversation_id:
                self.open_conversation(event.conversation_id)
            self.turn = _Turn(cid=event.conversation_id, kind="hands_free")
            self.composer.set_running(True)
        if self.turn is not None and self.turn.kind == "hands_free":
            self._on_event(self.turn, event)

    # feedback and citations
    def rate(self, message_id: str, value: int) -> None:
        try:
            feedback.rate(self.services.assistant, self.cid, message_id, value)
        except Exception as exc:  # noqa: BLE001
            self.status_message.emit(f"Your rating could not be saved: {exc}")
            return
        self.status_message.emit({1: "Thanks: marked as a good answer.", -1: "Thanks: marked as a bad answer."}
                                 .get(value, "Rating cleared."))

    def correct(self, message_id: str, text: str) -> None:
        widget = next((w for w in self.transcript.of_type(AssistantMessage) if w.message_id == message_id), None)

        def save(corrected: str) -> None:
            if not corrected.strip() or corrected.strip() == text.strip():
                return
            try:
                feedback.correct(self.services.assistant, self.cid, message_id, corrected, original=text)
            except Exception as exc:  # noqa: BLE001
                self.status_message.emit(f"Your correction could not be saved: {exc}")
                return
            if widget is not None:
                widget.note.setText("Your correction was saved; Biseo will learn from it.")
                widget.note.show()
            self.status_message.emit("Correction saved.")

        self.dialog = CorrectionDialog(text, save, self.window())
        self.dialog.open()

    def show_citation(self, citation: dict) -> None:
        self.dialog = PassageDialog(citation, self.services.open_path, self.window())
        self.dialog.open()
