"""Personas panel: named system prompts; create, edit, delete, and use one in the current conversation."""

from __future__ import annotations

import inspect
import sys
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.panels import common
from ui.panels.common import Panel, button, empty_state

DEFAULT_PERSONA = "Biseo"


def store_of(assistant: Any) -> Any:
    return getattr(assistant, "personas", None)


def save_persona(store: Any, name: str, description: str, system_prompt: str) -> Any:
    """Call store.save with a Persona or with keywords, whichever its signature takes."""
    params = inspect.signature(store.save).parameters
    if "system_prompt" in params:
        return store.save(name=name, description=description, system_prompt=system_prompt)
    persona_class = getattr(sys.modules.get(type(store).__module__), "Persona", None)
    if persona_class is None:
        raise TypeError("the persona store does not say how to build a persona")
    return store.save(persona_class(name=name, description=description, system_prompt=system_prompt))


class PersonasPanel(Panel):
    """The list on the left, the selected persona's name, description and system prompt on the right."""

    title = "Personas"
    subtitle = "A persona is how Biseo behaves: its instructions to the model. Pick one per conversation."
    # "Use in current conversation" was chosen; the conversation is services.current_conversation_id
    # (an attribute or a callable the window keeps up to date).
    use_persona = Signal(str)

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.unavailable = empty_state("Personas are not available in this version of Biseo's core.")
        self.unavailable.hide()
        layout.addWidget(self.unavailable)
        self.split = QSplitter(Qt.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        left_layout.addWidget(self.list, 1)
        left_buttons = QHBoxLayout()
        self.new_button = button("New", "Start a new persona", self.new_persona)
        self.delete_button = button("Delete…", "Delete the selected persona", self.delete_persona)
        left_buttons.addWidget(self.new_button)
        left_buttons.addWidget(self.delete_button)
        left_buttons.addStretch(1)
        left_layout.addLayout(left_buttons)
        self.split.addWidget(left)

        right = QWidget()
        form = QFormLayout(right)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Tutor")
        self.description = QLineEdit()
        self.description.setPlaceholderText("One line: what this persona is for")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Instructions for the model, e.g. \"You are a patient maths tutor. Explain "
                                       "step by step and ask a question back.\"")
        form.addRow("Name", self.name)
        form.addRow("Description", self.description)
        form.addRow("System prompt", self.prompt)
        right_buttons = QHBoxLayout()
        self.save_button = button("Save", "Save this persona", self.save)
        self.use_button = button("Use in current conversation", "Answer in this conversation as this persona",
                                 self.use_selected)
        right_buttons.addStretch(1)
        right_buttons.addWidget(self.use_button)
        right_buttons.addWidget(self.save_button)
        form.addRow(right_buttons)
        self.split.addWidget(right)
        self.split.setStretchFactor(1, 2)
        self.split.setSizes([200, 500])
        layout.addWidget(self.split, 1)
        self.list.currentItemChanged.connect(self._selected)
        return body

    # data
    def reload(self) -> None:
        store = store_of(self.assistant)
        self.unavailable.setVisible(store is None)
        self.split.setVisible(store is not None)
        if store is not None:
            self.background(store.list, on_done=self._show, what="Could not read the personas")

    def _show(self, personas: list[Any]) -> None:
        keep = self.selected_name() or DEFAULT_PERSONA
        self.list.blockSignals(True)
        self.list.clear()
        for persona in personas:
            item = QListWidgetItem(persona.name)
            item.setData(Qt.UserRole, persona)
            item.setToolTip(getattr(persona, "description", "") or "")
            self.list.addItem(item)
        self.list.blockSignals(False)
        matches = self.list.findItems(keep, Qt.MatchExactly)
        if matches:
            self.list.setCurrentItem(matches[0])
        elif self.list.count():
            self.list.setCurrentRow(0)
        self._selected(self.list.currentItem(), None)

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.text() if item else None

    def _selected(self, item: QListWidgetItem | None, _previous: Any) -> None:
        persona = item.data(Qt.UserRole) if item else None
        self.name.setText(getattr(persona, "name", "") if persona else "")
        self.description.setText(getattr(persona, "description", "") if persona else "")
        self.prompt.setPlainText(getattr(persona, "system_prompt", "") if persona else "")
        is_default = bool(persona) and persona.name == DEFAULT_PERSONA
        self.delete_button.setEnabled(bool(persona) and not is_default)
        self.delete_button.setToolTip("The default persona cannot be deleted" if is_default else
                                      "Delete the selected persona")
        self.use_button.setEnabled(bool(persona))

    # actions
    def new_persona(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentItem(None)
        self._selected(None, None)
        self.name.setFocus()

    def save(self) -> None:
        name, prompt = self.name.text().strip(), self.prompt.toPlainText().strip()
        if not name or not prompt:
            self.error.show_error("A persona needs a name and a system prompt.")
            return
        self.error.clear()
        store = store_of(self.assistant)
        self.background(save_persona, store, name, self.description.text().strip(), prompt,
                        on_done=lambda _p: self._saved(name), what="Could not save the persona")

    def _saved(self, name: str) -> None:
        self.notice.say(f"Saved the persona {name}.")
        item = QListWidgetItem(name)  # select it once the list is read again
        self.list.addItem(item)
        self.list.setCurrentItem(item)
        self.reload()

    def delete_persona(self) -> None:
        name = self.selected_name()
        if not name or name == DEFAULT_PERSONA:
            return
        if not common.confirm(self, "Delete this persona?", f"The persona {name} will be deleted. Conversations "
                              "that used it go back to the default.", yes="Delete"):
            return
        self.background(store_of(self.assistant).delete, name,
                        on_done=lambda _r: (self.notice.say(f"Deleted the persona {name}."), self._after_delete()),
                        what="Could not delete the persona")

    def _after_delete(self) -> None:
        self.list.setCurrentItem(None)
        self.reload()

    def use_selected(self) -> None:
        """Apply the persona to the conversation open in the chat, through the window or directly."""
        name = self.selected_name()
        if not name:
            return
        self.use_persona.emit(name)
        cid = getattr(self.services, "current_conversation_id", None)
        cid = cid() if callable(cid) else cid
        if not cid:
            self.error.show_error("Open or start a conversation first, then choose a persona for it.")
            return
        try:
            self.assistant.set_persona(cid, name)
        except Exception as exc:  # noqa: BLE001 - e.g. the persona was deleted meanwhile
            self.show_error("Could not switch persona", exc)
            return
        self.notice.say(f"The current conversation now answers as {name}.")
