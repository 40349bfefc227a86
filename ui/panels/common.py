"""Shared parts of the panels: the panel base, an in-place error banner, empty states and small dialogs."""

from __future__ import annotations

import datetime as _dt
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)


class Relay(QObject):
    """Carries a value from a worker thread to a GUI-thread slot (a queued signal)."""

    fired = Signal(object)


def plain_error(exc: Any) -> tuple[str, str]:
    """A one-line message for the user and the full details (type, message, traceback) for on demand."""
    if isinstance(exc, BaseException):
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return message, details
    text = str(exc)
    return (text.strip().splitlines()[0] if text.strip() else "Something went wrong"), text


class ErrorBanner(QFrame):
    """A plain-words error shown where it happened, with its details behind a button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet("#errorBanner { background: #fdecea; border: 1px solid #e0a39d; border-radius: 4px; }"
                           "#errorBanner QLabel { color: #611a15; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        row = QHBoxLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.message.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.close_button = QPushButton("Dismiss")
        row.addWidget(self.message, 1)
        row.addWidget(self.details_button)
        row.addWidget(self.close_button)
        layout.addLayout(row)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(140)
        self.details.hide()
        layout.addWidget(self.details)
        self.details_button.toggled.connect(self.details.setVisible)
        self.close_button.clicked.connect(self.clear)
        self.hide()

    def show_error(self, message: str, details: str = "") -> None:
        self.message.setText(message)
        self.details.setPlainText(details or message)
        self.details_button.setVisible(bool(details) and details != message)
        self.details_button.setChecked(False)
        self.show()

    def clear(self) -> None:
        self.message.clear()
        self.details.clear()
        self.hide()


class Notice(QLabel):
    """A one-line, word-wrapped note (saved, restart needed) under a panel's heading."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setObjectName("notice")
        self.setStyleSheet("#notice { background: #eef5fc; border: 1px solid #b6d2ee; border-radius: 4px;"
                           " padding: 6px; color: #123a5e; }")
        self.hide()

    def say(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))


def empty_state(text: str) -> QLabel:
    """A centred, word-wrapped hint saying what to do when a list is empty."""
    label = QLabel(text)
    label.setObjectName("emptyState")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignCenter)
    label.setStyleSheet("#emptyState { color: #555; padding: 24px; font-size: 11pt; }")
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def when(ts: float | None) -> str:
    """A timestamp as the user reads it: 'today 14:05', 'yesterday 09:12', '3 Mar 2025 18:00'."""
    if not ts:
        return ""
    moment = _dt.datetime.fromtimestamp(float(ts))
    today = _dt.date.today()
    clock = moment.strftime("%H:%M")
    if moment.date() == today:
        return f"today {clock}"
    if moment.date() == today - _dt.timedelta(days=1):
        return f"yesterday {clock}"
    return f"{moment.day} {moment.strftime('%b %Y')} {clock}"


# Dialogs go through these module functions so tests can answer them without a modal loop.
def confirm(parent: QWidget, title: str, text: str, yes: str = "OK") -> bool:
    box = QMessageBox(QMessageBox.Question, title, text, QMessageBox.Cancel, parent)
    ok = box.addButton(yes, QMessageBox.AcceptRole)
    box.setDefaultButton(QMessageBox.Cancel)
    box.exec()
    return box.clickedButton() is ok


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getMultiLineText(parent, title, label, text)
    return value if ok else None


def ask_folder(parent: QWidget, title: str) -> str | None:
    folder = QFileDialog.getExistingDirectory(parent, title)
    return folder or None


def ask_files(parent: QWidget, title: str) -> list[str]:
    files, _ = QFileDialog.getOpenFileNames(parent, title)
    return list(files)


def ask_save_path(parent: QWidget, title: str, suggested: str, filters: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
    return path or None


class Panel(QWidget):
    """Base of every panel: heading, error banner, notice, and a 'Starting…' page until the assistant exists."""

    title = "Panel"
    subtitle = ""

    def __init__(self, services: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.setObjectName(self.title)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 12)
        heading = QLabel(self.title)
        heading.setObjectName("panelHeading")
        heading.setStyleSheet("#panelHeading { font-size: 15pt; font-weight: 600; }")
        outer.addWidget(heading)
        if self.subtitle:
            sub = QLabel(self.subtitle)
            sub.setWordWrap(True)
            sub.setStyleSheet("color: #555;")
            outer.addWidget(sub)
        self.error = ErrorBanner()
        self.notice = Notice()
        outer.addWidget(self.error)
        outer.addWidget(self.notice)
        self.pages = QStackedWidget()
        self.starting = empty_state("Starting… Biseo is getting ready; this page fills in by itself.")
        self.pages.addWidget(self.starting)
        self.body = self.build()
        self.pages.addWidget(self.body)
        outer.addWidget(self.pages, 1)
        self._busy = 0
        ready = getattr(services, "ready", None)
        if ready is not None:
            ready.connect(self.refresh)

    # subclasses
    def build(self) -> QWidget:
        """The panel's content (shown once the assistant is ready)."""
        raise NotImplementedError

    def reload(self) -> None:
        """Fetch and show the panel's data (called by refresh() once the assistant exists)."""

    # shared behaviour
    @property
    def assistant(self) -> Any:
        return getattr(self.services, "assistant", None)

    def refresh(self) -> None:
        """Show current data, or 'Starting…' while the assistant is still being built."""
        if self.assistant is None:
            self.pages.setCurrentWidget(self.starting)
            return
        self.pages.setCurrentWidget(self.body)
        self.reload()

    @property
    def busy(self) -> bool:
        """True while background work started by this panel is running."""
        return self._busy > 0

    def background(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
                   what: str = "That did not work", on_error: Callable[[Any], None] | None = None) -> None:
        """Run fn off the GUI thread; the result goes to on_done, a failure to the banner as '<what>: reason'."""
        self._busy += 1

        def done(result: Any = None) -> None:
            self._busy -= 1
            if on_done is not None:
                try:
                    on_done(result)
                except RuntimeError as exc:  # the widget was closed while the work ran
                    if "already deleted" not in str(exc):
                        raise

        def failed(exc: Any) -> None:
            self._busy -= 1
            try:
                if on_error is not None:
                    on_error(exc)
                else:
                    self.show_error(what, exc)
            except RuntimeError as err:
                if "already deleted" not in str(err):
                    raise

        self.services.run_in_background(fn, *args, on_done=done, on_error=failed)

    def show_error(self, what: str, exc: Any) -> None:
        message, details = plain_error(exc)
        self.error.show_error(f"{what}: {message}" if what else message, details)

    def settings_written(self) -> None:
        """Tell the rest of the app that config.toml changed."""
        signal = getattr(self.services, "settings_changed", None)
        if signal is not None:
            signal.emit()


def button(text: str, tip: str = "", slot: Callable[[], None] | None = None) -> QPushButton:
    b = QPushButton(text)
    if tip:
        b.setToolTip(tip)
    if slot is not None:
        b.clicked.connect(lambda _checked=False: slot())
    return b


def select_row(tree: Any, key: Any) -> bool:
    """Make the top-level row whose UserRole data is `key` current; False when there is none."""
    for i in range(tree.topLevelItemCount()):
        if tree.topLevelItem(i).data(0, Qt.UserRole) == key:
            tree.setCurrentItem(tree.topLevelItem(i))
            return True
    return False
