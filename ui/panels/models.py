"""Models panel: the model catalog, downloads with progress (cancel and resume), the model in use, GPU layers."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.panels.common import Panel, Relay, button

KIND_WORDS = {"llm": "Chat", "embedding": "Search", "stt": "Speech to text"}
# Which setting "Use this model" writes for each kind of model.
SETTING_FOR_KIND = {"llm": "llm.model", "stt": "voice.stt_model", "embedding": "memory.embedding_model"}
COLUMNS = ["Model", "Kind", "Size", "Memory", "Status", "Licence"]


def usable(status: str) -> bool:
    return status in ("bundled", "downloaded")


def load_rows(paths: Any) -> tuple[dict[str, Any], list[Any]]:
    """The catalog and each model's status (reads the models folder; runs in a worker thread)."""
    from assistant.catalog.manifests import load_catalog
    from assistant.catalog.resolver import list_models

    catalog = load_catalog(paths)
    return catalog, list_models(paths, catalog)


def in_use(settings: Any) -> dict[str, str]:
    """Model name -> the setting that uses it."""
    return {settings.llm.model: "llm.model", settings.voice.stt_model: "voice.stt_model",
            settings.memory.embedding_model: "memory.embedding_model"}


class ModelsPanel(Panel):
    """The catalog as a table; Download / Cancel / Resume and "Use this model" act on the selected row."""

    title = "Models"
    subtitle = ("Models run on this computer. Bundled ones are ready; others are downloaded once and checked "
                "before use.")

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        layout.addWidget(self.table, 1)

        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #444;")
        layout.addWidget(self.description)

        actions = QHBoxLayout()
        self.download_button = button("Download", "Download the selected model (resumes a stopped download)",
                                      self.download_selected)
        self.cancel_button = button("Cancel", "Stop the download; what arrived is kept for Resume",
                                    self.cancel_download)
        self.use_button = button("Use this model", "Make Biseo use the selected model", self.use_selected)
        actions.addWidget(self.download_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.use_button)
        actions.addStretch(1)
        layout.addLayout(actions)

        self.progress = QProgressBar()
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        progress_row = QHBoxLayout()
        progress_row.setContentsMargins(0, 0, 0, 0)
        progress_row.addWidget(self.progress_label, 1)
        progress_row.addWidget(self.progress, 1)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        self.progress_box.hide()
        layout.addWidget(self.progress_box)

        gpu = QHBoxLayout()
        gpu_label = QLabel("GPU layers:")
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("auto (all, when a GPU is available)")
        self.gpu_layers.setToolTip("Layers of the chat model to run on the GPU. 'auto' offloads all of them when "
                                   "llama.cpp was built with GPU support; 0 keeps everything on the CPU.")
        self.gpu_layers.setMinimumWidth(260)
        self.gpu_apply = button("Apply", "Save the GPU layers setting", self.apply_gpu_layers)
        gpu.addWidget(gpu_label)
        gpu.addWidget(self.gpu_layers)
        gpu.addWidget(self.gpu_apply)
        gpu.addStretch(1)
        layout.addLayout(gpu)

        self.table.itemSelectionChanged.connect(self._selection_changed)
        self._relay = Relay(self)
        self._relay.fired.connect(self._on_progress)
        self._catalog: dict[str, Any] = {}
        self._rows: list[Any] = []
        self._downloading: str | None = None
        self._cancel: Any = None
        self._selection_changed()
        return body

    # data
    def reload(self) -> None:
        n = self.assistant.settings.llm.n_gpu_layers
        self.gpu_layers.setValue(-1 if n == "auto" else int(n))
        self.background(load_rows, self.assistant.paths, on_done=self._show, what="Could not read the model list")

    def _show(self, result: tuple[dict[str, Any], list[Any]]) -> None:
        self._catalog, self._rows = result
        selected = self.selected_name()
        uses = in_use(self.assistant.settings)
        self.table.setRowCount(len(self._rows))
        for r, row in enumerate(self._rows):
            status = row.status
            if row.name in uses:
                status += " · in use"
            if row.name == self._downloading:
                status = "downloading…"
            cells = [f"{row.display_name}\n{row.name}", KIND_WORDS.get(row.kind, row.kind), row.size,
                     f"~{row.ram_hint_gb:g} GB", status, row.licence]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, row.name)
                if c == 0:
                    item.setToolTip(row.name)
                self.table.setItem(r, c, item)
            if row.name == selected:
                self.table.selectRow(r)
        self.table.resizeRowsToContents()
        self._selection_changed()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.UserRole) if item else None

    def select(self, name: str) -> None:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.UserRole) == name:
                self.table.selectRow(r)
                return

    def _row(self, name: str | None) -> Any:
        return next((r for r in self._rows if r.name == name), None)

    def _selection_changed(self) -> None:
        row = self._row(self.selected_name())
        busy = self._downloading is not None
        manifest = self._catalog.get(row.name) if row else None
        downloadable = bool(row and manifest is not None and manifest.url and not usable(row.status))
        self.download_button.setEnabled(downloadable and not busy)
        self.download_button.setText("Resume" if row and row.status.startswith("partial") else "Download")
        self.cancel_button.setEnabled(busy)
        current = bool(row) and self.assistant is not None and row.name in in_use(self.assistant.settings)
        self.use_button.setEnabled(bool(row and usable(row.status)) and not current)
        self.use_button.setText("In use" if current else "Use this model")
        if manifest is not None:
            text = manifest.description or manifest.display_name
            if manifest.parameters or manifest.quantization:
                text += f" ({' '.join(x for x in (manifest.parameters, manifest.quantization) if x)})"
            self.description.setText(text)
        else:
            self.description.setText("Select a model to download it or to use it.")

    # downloads
    def download_selected(self) -> None:
        name = self.selected_name()
        manifest = self._catalog.get(name or "")
        if manifest is None or self._downloading is not None:
            return
        from assistant.cancel import CancelToken
        from assistant.catalog.resolver import download_model

        self._downloading, self._cancel = name, CancelToken()
        paths, cancel, relay = self.assistant.paths, self._cancel, self._relay
        self.progress.setRange(0, 0)
        self.progress_label.setText(f"Downloading {manifest.display_name}…")
        self.progress_box.show()
        self.error.clear()
        self._selection_changed()

        def work() -> Any:
            return download_model(manifest, paths, progress=lambda done, total: relay.fired.emit((done, total)),
                                  cancel=cancel)

        self.background(work, on_done=self._downloaded, on_error=self._download_failed)

    def cancel_download(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Stopping the download…")

    def _on_progress(self, value: tuple[int, int | None]) -> None:
        if self._downloading is None:
            return
        from assistant.catalog.download import human_bytes

        done, total = value
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done / total, 1.0)))
            self.progress.setFormat(f"{human_bytes(done)} of {human_bytes(total)}")
        else:
            self.progress.setRange(0, 0)
        self.last_progress = value

    def _end_download(self) -> str:
        name, self._downloading, self._cancel = self._downloading or "", None, None
        self.progress_box.hide()
        return name

    def _downloaded(self, result: Any) -> None:
        name = self._end_download()
        self.notice.say(f"Downloaded {name} ({result.note}). Press “Use this model” to use it.")
        self.reload()

    def _download_failed(self, exc: Any) -> None:
        from assistant.catalog.download import DownloadCancelled

        name = self._end_download()
        if isinstance(exc, DownloadCancelled):
            self.notice.say(f"Download of {name} stopped. What arrived is kept: press Resume to go on.")
        else:
            self.show_error(f"Could not download {name}", exc)
        self.reload()

    # settings
    def use_selected(self) -> None:
        row = self._row(self.selected_name())
        if row is None or not usable(row.status):
            return
        from assistant.settings import set_config_value

        key = SETTING_FOR_KIND.get(row.kind)
        if key is None:
            return
        try:
            set_config_value(self.assistant.paths, key, row.name)
        except Exception as exc:  # noqa: BLE001
            self.show_error("Could not save the setting", exc)
            return
        section, field = key.split(".")
        setattr(getattr(self.assistant.settings, section), field, row.name)
        self.settings_written()
        self.notice.say(f"Biseo will use {row.display_name} from the next start"
                        f"{' (restart to switch now)' if row.kind == 'llm' else ''}.")
        self._show((self._catalog, self._rows))

    def apply_gpu_layers(self) -> None:
        from assistant.settings import set_config_value

        value: int | str = "auto" if self.gpu_layers.value() < 0 else self.gpu_layers.value()
        try:
            set_config_value(self.assistant.paths, "llm.n_gpu_layers", value)
        except Exception as exc:  # noqa: BLE001
            self.show_error("Could not save the setting", exc)
            return
        self.assistant.settings.llm.n_gpu_layers = value
        self.settings_written()
        self.notice.say(f"GPU layers set to {value}. The model uses it the next time it loads (restart Biseo).")
