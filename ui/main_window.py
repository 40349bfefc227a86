"""The main window: sidebar (conversations), chat or a panel in the middle, panel switcher, model status."""

from __future__ import annotations

import importlib
import logging
import traceback

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QApplication, QLabel, QMainWindow, QPlainTextEdit, QSplitter, QStackedWidget,
                               QToolBar, QVBoxLayout, QWidget)

from ui.chat.chat_view import ChatView
from ui.chat.conversation_list import ConversationList
from ui.resources import icon
from ui.voice_bar import PushToTalkKey, VoiceBar

log = logging.getLogger("biseo.ui")


def panel_specs() -> list[tuple[str, str]]:
    """The panels other modules provide; none if the panels package itself cannot be imported."""
    try:
        from ui.panels import PANELS
    except Exception:  # noqa: BLE001 - the chat must open even when the panels are broken
        log.exception("ui.panels could not be imported")
        return []
    return list(PANELS)


class PanelError(QWidget):
    """Shown in place of a panel that failed to load: what failed, in plain words, and the details."""

    def __init__(self, title: str, error: str, details: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName(title)
        box = QVBoxLayout(self)
        box.setContentsMargins(24, 24, 24, 24)
        label = QLabel(f"The {title} panel could not be opened: {error}")
        label.setObjectName("panelError")
        label.setWordWrap(True)
        label.setTextFormat(Qt.PlainText)
        box.addWidget(label)
        view = QPlainTextEdit(details)
        view.setReadOnly(True)
        box.addWidget(view, 1)
        self.message = label.text()


class MainWindow(QMainWindow):
    """Built in milliseconds (nothing heavy here); the Assistant arrives later through Services."""

    shown_first = Signal()

    def __init__(self, services, parent=None, *, voice_bar: VoiceBar | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.setWindowTitle("Biseo")
        self.setWindowIcon(icon("app"))
        self.resize(1100, 720)
        self.setMinimumSize(860, 560)
        self.sidebar = ConversationList(services)
        self.sidebar.setMinimumWidth(220)
        self.sidebar.setMaximumWidth(380)
        self.voice_bar = voice_bar if voice_bar is not None else VoiceBar(services)
        self.chat = ChatView(services, voice_bar=self.voice_bar)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.chat)
        splitter = QSplitter()
        splitter.addWidget(self.sidebar)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 850])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)
        self.sidebar.selected.connect(self._open_conversation)
        self.sidebar.new_requested.connect(self.new_chat)
        self.sidebar.deleted.connect(self.chat.conversation_deleted)
        self.chat.conversations_changed.connect(self.sidebar.refresh)
        self.chat.conversation_changed.connect(self._conversation_changed)
        self.chat.status_message.connect(self._show_message)
        self._build_panel_bar()
        self._build_status_bar()
        self._build_shortcuts()
        self.key_filter = PushToTalkKey(self.voice_bar, self)
        self.installEventFilter(self.key_filter)
        self.chat.installEventFilter(self.key_filter)
        self.chat.composer.input.installEventFilter(self.key_filter)

    # panels
    def _build_panel_bar(self) -> None:
        bar = QToolBar("Panels")
        bar.setObjectName("panelBar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.addToolBar(Qt.TopToolBarArea, bar)
        self.panel_bar = bar
        group = QActionGroup(self)
        group.setExclusive(True)
        self.panel_actions: dict[str, QAction] = {}
        self.panels: dict[str, QWidget] = {}
        self._panel_paths = dict(panel_specs())
        for title in ["Chat", *self._panel_paths]:
            action = QAction(title, self, checkable=True)
            action.triggered.connect(lambda _=False, t=title: self.show_page(t))
            group.addAction(action)
            bar.addAction(action)
            self.panel_actions[title] = action
        self.panel_actions["Chat"].setChecked(True)

    def show_page(self, title: str) -> QWidget:
        """Show the chat or a panel (imported on first use; a panel that fails shows its error in place)."""
        self.panel_actions[title].setChecked(True)
        if title == "Chat":
            self.stack.setCurrentWidget(self.chat)
            self.sidebar.show()
            return self.chat
        panel = self.panels.get(title)
        if panel is None:
            panel = self._load_panel(title)
            self.panels[title] = panel
            self.stack.addWidget(panel)
        self.stack.setCurrentWidget(panel)
        self.sidebar.hide()
        refresh = getattr(panel, "refresh", None)
        if callable(refresh):
            try:
                refresh()
            except Exception as exc:  # noqa: BLE001 - a panel's fault stays in the panel
                log.exception("panel %s failed to refresh", title)
                self._show_message(f"The {title} panel could not refresh: {exc}")
        return panel

    def _load_panel(self, title: str) -> QWidget:
        path = self._panel_paths[title]
        try:
            module_name, _, class_name = path.partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            panel = cls(self.services)
            if not panel.objectName():
                panel.setObjectName(title)
            return panel
        except Exception as exc:  # noqa: BLE001
            log.exception("panel %s failed to load", title)
            return PanelError(title, f"{type(exc).__name__}: {exc}", traceback.format_exc())

    # status bar
    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.model_label = QLabel(self.services.status_text)
        self.model_label.setObjectName("modelStatus")
        status.addPermanentWidget(self.model_label)
        self.services.model_status.connect(self.model_label.setText)
        self.services.failed.connect(self._startup_failed)

    def _show_message(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, 6000)
        else:
            self.statusBar().clearMessage()

    def _startup_failed(self, message: str) -> None:
        self.chat.transcript.add_error(message, message)
        self.sidebar.hint.setText("History is not available.")

    # shortcuts
    def _build_shortcuts(self) -> None:
        def add(keys, slot) -> None:
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            self.addAction(action)

        add("Ctrl+N", self.new_chat)
        add("Esc", self.chat.stop)
        add("Ctrl+F", lambda: (self.show_page("Chat"), self.sidebar.search.setFocus()))
        add("Ctrl+L", lambda: self.chat.composer.input.setFocus())

    # conversations
    def new_chat(self) -> None:
        self.show_page("Chat")
        self.chat.new_conversation()

    def _open_conversation(self, cid: str) -> None:
        self.show_page("Chat")
        self.chat.open_conversation(cid)

    def _conversation_changed(self, cid) -> None:
        self.sidebar.refresh()
        self.sidebar.select(cid)

    # window
    def bring_to_front(self) -> None:
        """Another launch asked for this window (single instance) or the tray did."""
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowMinimized) | Qt.WindowActive)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.chat.stop()
        self.voice_bar.close_voice()
        super().closeEvent(event)
        app = QApplication.instance()
        if app is not None and not app.quitOnLastWindowClosed():
            app.quit()
