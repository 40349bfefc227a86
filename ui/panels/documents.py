"""Documents panel: the folders and files Biseo reads, each file's indexing status, and indexing progress."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.panels import common
from ui.panels.common import Panel, Relay, button, empty_state

EMPTY = ("No documents yet.\n\nPress Add folder… or Add files… and Biseo reads them, so you can ask about them "
         "in chat and get answers with the page they came from. Your files never leave this computer.")
STATUS_WORDS = {"indexed": "Ready", "pending": "Waiting to be read", "error": "Could not read"}
ERROR_COLOUR = QColor("#b3261e")


def file_status(row: Any) -> tuple[str, str]:
    """The status word and the reason (error or warning) for one file row."""
    word = STATUS_WORDS.get(row.status, row.status)
    if row.status == "indexed":
        chunks = getattr(row, "chunk_count", 0)
        word = f"Ready ({chunks} passage{'s' if chunks != 1 else ''})"
    return word, (row.error or row.warning or "")


def load_sources(documents: Any) -> list[tuple[Any, list[Any]]]:
    """Every added source with its files (runs in a worker thread)."""
    return [(source, documents.files(source)) for source in documents.sources()]


class DocumentsPanel(Panel):
    """Added folders and files as a tree; a progress bar while indexing; per-file reasons for failures."""

    title = "Documents"
    subtitle = "Folders and files Biseo can search to answer your questions."

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.add_folder_button = button("Add folder…", "Read every supported file in a folder", self.add_folder)
        self.add_files_button = button("Add files…", "Read some files", self.add_files)
        self.remove_button = button("Remove", "Stop using the selected folder or file (your files stay)",
                                    self.remove_selected)
        self.reindex_button = button("Reindex", "Read every file again", self.reindex)
        for b in (self.add_folder_button, self.add_files_button, self.remove_button, self.reindex_button):
            top.addWidget(b)
        top.addStretch(1)
        layout.addLayout(top)

        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.cancel_button = button("Cancel", "Stop after the current file; the rest is read next time",
                                    self.cancel_indexing)
        progress_row.addWidget(self.progress_label, 1)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_box.hide()
        layout.addWidget(self.progress_box)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Status", "Reason"])
        self.tree.setAlternatingRowColors(True)
        self.tree.setTextElideMode(Qt.ElideMiddle)  # a long path keeps its folder name visible
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        header.resizeSection(0, 340)
        self.empty = empty_state(EMPTY)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(self._open_item)
        self._relay = Relay(self)
        self._relay.fired.connect(self._on_progress)
        self._cancel: threading.Event | None = None
        self._selection_changed()
        return body

    # data
    def reload(self) -> None:
        self.background(load_sources, self.assistant.documents, on_done=self._show,
                        what="Could not read the list of documents")

    def _show(self, sources: list[tuple[Any, list[Any]]]) -> None:
        self.tree.clear()
        total_errors = 0
        for source, files in sources:
            errors = sum(1 for f in files if f.status == "error")
            total_errors += errors
            ready = sum(1 for f in files if f.status == "indexed")
            status = f"{ready} of {len(files)} file{'s' if len(files) != 1 else ''} ready"
            if source.kind == "file" and files:
                status = file_status(files[0])[0]
            top = QTreeWidgetItem([source.path, status, f"{errors} could not be read" if errors else ""])
            top.setData(0, Qt.UserRole, ("source", source.path))
            top.setToolTip(0, source.path)
            if errors:
                top.setForeground(2, QBrush(ERROR_COLOUR))
            self.tree.addTopLevelItem(top)
            if source.kind == "folder":
                root = Path(source.path)
                for f in files:
                    word, reason = file_status(f)
                    try:
                        name = str(Path(f.path).relative_to(root))
                    except ValueError:
                        name = f.path
                    child = QTreeWidgetItem([name, word, reason])
                    child.setData(0, Qt.UserRole, ("file", f.path))
                    child.setToolTip(0, f.path)
                    child.setToolTip(2, reason)
                    if f.status == "error":
                        for col in (1, 2):
                            child.setForeground(col, QBrush(ERROR_COLOUR))
                    top.addChild(child)
                top.setExpanded(True)
            elif files and files[0].status == "error":
                top.setText(2, file_status(files[0])[1])
                top.setToolTip(2, file_status(files[0])[1])
                top.setForeground(1, QBrush(ERROR_COLOUR))
        self.stack.setCurrentWidget(self.tree if sources else self.empty)
        self.reindex_button.setEnabled(bool(sources) and self._cancel is None)
        self._selection_changed()

    def _selection_changed(self) -> None:
        items = self.tree.selectedItems()
        self.remove_button.setEnabled(bool(items) and items[0].parent() is None)

    def _open_item(self, item: QTreeWidgetItem, _column: int) -> None:
        kind, path = item.data(0, Qt.UserRole) or ("", "")
        if kind == "file" or (kind == "source" and Path(path).is_file()):
            opener = getattr(self.services, "open_path", None)
            if opener is not None:
                opener(path)

    # actions
    def add_folder(self) -> None:
        folder = common.ask_folder(self, "Add a folder of documents")
        if folder:
            self.add_paths([folder])

    def add_files(self) -> None:
        files = common.ask_files(self, "Add documents")
        if files:
            self.add_paths(files)

    def add_paths(self, paths: list[str]) -> None:
        """Register the paths, then index them with progress."""
        self.background(self.assistant.documents.add, list(paths), on_done=self._added,
                        what="Could not add that")

    def _added(self, result: tuple[list[Any], list[str]]) -> None:
        added, problems = result
        if problems:
            self.error.show_error("Some items could not be added: " + "; ".join(problems))
        self.reload()
        if added:
            self.start_indexing()

    def remove_selected(self) -> None:
        items = self.tree.selectedItems()
        if not items or items[0].parent() is not None:
            return
        path = items[0].data(0, Qt.UserRole)[1]
        if not common.confirm(self, "Remove from Biseo?",
                              f"Biseo will stop using {path} in answers. Your files are not deleted.",
                              yes="Remove"):
            return
        self.background(self.assistant.documents.remove, path,
                        on_done=lambda _s: (self.notice.say(f"Removed {path}."), self.reload()),
                        what="Could not remove it")

    def reindex(self) -> None:
        self.start_indexing(force=True)

    def start_indexing(self, force: bool = False) -> None:
        """Read new and changed files in a worker thread; progress arrives through the relay."""
        if self._cancel is not None:
            return  # one indexing run at a time; the one running picks up what was just added
        self._cancel = cancel = threading.Event()
        self.progress.setRange(0, 0)  # busy until the first report says how many files there are
        self.progress_label.setText("Looking for files…")
        self.progress_box.show()
        self.cancel_button.setEnabled(True)
        self.reindex_button.setEnabled(False)
        documents, relay = self.assistant.documents, self._relay

        def work() -> Any:
            return documents.sync(relay.fired.emit, force=force, cancel=cancel)

        self.background(work, on_done=self._indexed, on_error=self._index_failed)

    def cancel_indexing(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Stopping after the current file…")

    def _on_progress(self, state: Any) -> None:
        if self._cancel is None:
            return
        total = max(int(state.total), 0)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(int(state.done), max(total, 1)))
        if state.current and not self._cancel.is_set():
            self.progress_label.setText(f"Reading {Path(state.current).name} ({state.done + 1} of {total})"
                                        if state.done < total else "Saving the index…")

    def _finish_indexing(self) -> None:
        self._cancel = None
        self.progress_box.hide()
        self.reload()

    def _indexed(self, state: Any) -> None:
        self._finish_indexing()
        parts = []
        if state.cancelled:
            parts.append("Indexing stopped; the remaining files are read next time.")
        if state.indexed:
            parts.append(f"Read {state.indexed} file{'s' if state.indexed != 1 else ''}.")
        if state.removed:
            parts.append(f"{state.removed} deleted file{'s' if state.removed != 1 else ''} removed.")
        if state.errors:
            n = len(state.errors)
            parts.append(f"{n} file{'s' if n != 1 else ''} could not be read (see Reason).")
        if not parts:
            parts.append("Everything is up to date.")
        self.summary.setText(" ".join(parts))

    def _index_failed(self, exc: Any) -> None:
        self._finish_indexing()
        self.show_error("Indexing failed", exc)
