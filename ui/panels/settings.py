"""Settings panel: a form generated from the pydantic Settings model, validated before config.toml is written."""

from __future__ import annotations

import os
import tomllib
import typing
from typing import Any, Literal

# pydantic before PySide6: shiboken's import hook inspects modules that use Qt and trips over pydantic's
# lazy attributes when they are first touched after Qt was imported by the same module.
import annotated_types
import tomli_w
from pydantic import BaseModel, ValidationError

from assistant.settings import Settings, load_settings, set_config_value

from PySide6.QtCore import Qt, Signal  # noqa: E402,I001
from PySide6.QtWidgets import (  # noqa: E402
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.panels.common import Panel, button  # noqa: E402

LABELS = {
    "n_ctx": "Context window (tokens)", "n_gpu_layers": "GPU layers", "n_threads": "CPU threads",
    "api_key": "API key", "server_url": "Server URL", "searxng_url": "SearXNG URL",
    "stt_model": "Speech-to-text model", "stt_device": "Speech-to-text device",
    "stt_compute_type": "Whisper weights", "tts_voice": "Voice", "tts_rate": "Speaking rate (words per minute)",
    "vad": "Trim silence", "recall_k": "Memories per turn", "recall_min_score": "Recall threshold",
    "top_k": "Passages per turn", "max_file_mb": "Largest file (MB)", "max_output_chars": "Longest tool output",
    "max_page_chars": "Longest page text", "file_roots": "Folders tools may read",
    "allowed_hosts": "Allowed private hosts", "user_folder_enabled": "Load plugins from the user folder",
    "disabled": "Switched off", "enabled": "On", "request_timeout_s": "Server timeout (seconds)",
    "push_to_talk_key": "Push-to-talk key", "end_of_speech_ms": "End of speech (milliseconds)",
    "follow_up_s": "Follow-up window (seconds)", "approval_timeout_s": "Spoken approval wait (seconds)",
    "watch_interval_s": "Check folders every (seconds)", "auto_extract": "Learn facts from conversations",
    "embedding_model": "Embedding model", "server_model": "Server model", "system_prompt": "System prompt",
}
LONG_TEXT = {"system_prompt"}
SECRET = {"api_key"}


def label_for(name: str) -> str:
    """A field name as a person reads it ('timeout_s' -> 'Timeout (seconds)')."""
    if name in LABELS:
        return LABELS[name]
    for suffix, unit in (("_s", "seconds"), ("_ms", "milliseconds"), ("_mb", "MB")):
        if name.endswith(suffix):
            return f"{name[:-len(suffix)].replace('_', ' ').capitalize()} ({unit})"
    return name.replace("_", " ").capitalize()


def bounds(field: Any) -> dict[str, float]:
    """ge/le/gt/lt from a pydantic field's constraints."""
    out: dict[str, float] = {}
    for item in field.metadata:
        for key in ("ge", "le", "gt", "lt"):
            value = getattr(item, key, None)
            if value is not None and isinstance(item, (annotated_types.Ge, annotated_types.Le,
                                                       annotated_types.Gt, annotated_types.Lt)):
                out[key] = value
    return out


class Editor(QWidget):
    """One field's input: value() and set_value(); `changed` when the user edits it."""

    changed = Signal()

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError


class BoolEditor(Editor):
    def __init__(self) -> None:
        super().__init__()
        self.box = QCheckBox()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.box)
        lay.addStretch(1)
        self.box.toggled.connect(lambda _v: self.changed.emit())

    def value(self) -> bool:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class NumberEditor(Editor):
    """A spin box within the field's bounds; `special` (None or 'auto') sits one step below the minimum."""

    def __init__(self, kind: type, limits: dict[str, float], special: Any = ..., special_text: str = "") -> None:
        super().__init__()
        self.kind, self.special = kind, special
        self.spin = QSpinBox() if kind is int else QDoubleSpinBox()
        low = limits.get("ge", limits.get("gt", 0 if kind is int else 0.0))
        high = limits.get("le", limits.get("lt", 1_000_000))
        if kind is float:
            self.spin.setDecimals(4)  # learning rates such as 0.001 must survive the round trip
            self.spin.setSingleStep(0.1 if high <= 10 else 1.0)
        # gt bounds are enterable on purpose: validation then says in words why the value is refused.
        self.low = low
        if special is not ...:
            low = low - 1
            self.spin.setSpecialValueText(special_text)
        self.spin.setRange(low, high)
        self.spin.setMinimumWidth(120)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.spin)
        lay.addStretch(1)
        self.spin.valueChanged.connect(lambda _v: self.changed.emit())

    def value(self) -> Any:
        v = self.spin.value()
        if self.special is not ... and v < self.low:
            return self.special
        return int(v) if self.kind is int else round(float(v), 4)

    def set_value(self, value: Any) -> None:
        if self.special is not ... and value == self.special:
            self.spin.setValue(self.spin.minimum())
        else:
            self.spin.setValue(value)


class ChoiceEditor(Editor):
    def __init__(self, choices: list[Any]) -> None:
        super().__init__()
        self.combo = QComboBox()
        for choice in choices:
            self.combo.addItem(str(choice), choice)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        lay.addStretch(1)
        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        self.combo.setCurrentIndex(max(index, 0))


class TextEditor(Editor):
    def __init__(self, long: bool = False, secret: bool = False) -> None:
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        if long:
            self.edit: Any = QPlainTextEdit()
            self.edit.setFixedHeight(90)
            self.edit.textChanged.connect(self.changed.emit)
        else:
            self.edit = QLineEdit()
            if secret:
                self.edit.setEchoMode(QLineEdit.PasswordEchoOnEdit)
            self.edit.textChanged.connect(lambda _t: self.changed.emit())
        lay.addWidget(self.edit)

    def value(self) -> str:
        return self.edit.toPlainText() if isinstance(self.edit, QPlainTextEdit) else self.edit.text()

    def set_value(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if isinstance(self.edit, QPlainTextEdit):
            self.edit.setPlainText(text)
        else:
            self.edit.setText(text)


class ListEditor(Editor):
    """An editable list of strings: double-click to edit, + adds a row, − removes the selected one."""

    def __init__(self) -> None:
        super().__init__()
        self.list = QListWidget()
        self.list.setMaximumHeight(84)
        self.add_button = QPushButton("+")
        self.add_button.setToolTip("Add an entry")
        self.remove_button = QPushButton("−")
        self.remove_button.setToolTip("Remove the selected entry")
        for b in (self.add_button, self.remove_button):
            b.setFixedWidth(32)
        side = QVBoxLayout()
        side.addWidget(self.add_button)
        side.addWidget(self.remove_button)
        side.addStretch(1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.list, 1)
        lay.addLayout(side)
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.list.itemChanged.connect(lambda _i: self.changed.emit())

    def _item(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemIsEditable)
        return item

    def _add(self) -> None:
        item = self._item("")
        self.list.addItem(item)
        self.list.setCurrentItem(item)
        self.list.editItem(item)

    def _remove(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.changed.emit()

    def value(self) -> list[str]:
        texts = [self.list.item(i).text().strip() for i in range(self.list.count())]
        return [t for t in texts if t]

    def set_value(self, value: Any) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for text in value or []:
            self.list.addItem(self._item(str(text)))
        self.list.blockSignals(False)


def _as_field(field: Any, value: Any) -> Any:
    """The editor's value as the field's type ("0.5" in a list of numbers is 0.5), or as is if it is invalid."""
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(field.annotation).validate_python(value)
    except (ValidationError, TypeError, ValueError):
        return value


def editor_for(name: str, field: Any) -> Editor:
    """The widget for a field, chosen by its type."""
    annotation = field.annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is bool:
        return BoolEditor()
    if annotation in (int, float):
        return NumberEditor(annotation, bounds(field))
    if origin is Literal:
        return ChoiceEditor(list(args))
    if origin is list:
        return ListEditor()
    if args and type(None) in args:  # int | None: empty means automatic
        base = next(a for a in args if a is not type(None))
        if base in (int, float):
            return NumberEditor(base, bounds(field), special=None, special_text="automatic")
    if args and any(typing.get_origin(a) is Literal for a in args):  # int | Literal["auto"]
        base = next((a for a in args if a in (int, float)), int)
        special = typing.get_args(next(a for a in args if typing.get_origin(a) is Literal))[0]
        return NumberEditor(base, bounds(field), special=special, special_text=str(special))
    return TextEditor(long=name in LONG_TEXT, secret=name in SECRET)


def field_default(field: Any) -> Any:
    return field.get_default(call_default_factory=True)


def unset_config_value(paths: Any, dotted_key: str) -> None:
    """Remove a key from config.toml (so its default applies again); written atomically like set_config_value."""
    path = paths.config_file
    if not path.is_file():
        return
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    *parents, leaf = dotted_key.split(".")
    node = data
    for part in parents:
        node = node.get(part)
        if not isinstance(node, dict):
            return
    if leaf not in node:
        return
    del node[leaf]
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class FieldRow:
    """The widgets of one field: label, editor, restore button, description and an error line."""

    def __init__(self, section: str, name: str, field: Any) -> None:
        self.section, self.name, self.field = section, name, field
        self.label = QLabel(label_for(name))
        self.label.setContentsMargins(0, 5, 0, 0)  # top-aligned, yet level with a one-line editor's text
        self.label.setToolTip(f"{section}.{name}")
        self.editor = editor_for(name, field)
        self.editor.setToolTip(field.description or "")
        self.restore = QPushButton("Restore default")
        self.restore.setToolTip(f"Default: {field_default(field)!r}")
        self.help = QLabel(field.description or "")
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: #5f6368; font-size: 9pt;")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e;")
        self.problem.hide()
        self.restore.clicked.connect(lambda: self.editor.set_value(field_default(field)))

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))


class SettingsPanel(Panel):
    """One group per section; Save validates every changed value and writes only when all are valid."""

    title = "Settings"
    subtitle = "Saved in config.toml in Biseo's config folder. Hover a setting for its name in that file."

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        form = QWidget()
        form_layout = QVBoxLayout(form)
        self.rows: dict[str, FieldRow] = {}
        for section, section_field in Settings.model_fields.items():
            model: type[BaseModel] = section_field.annotation
            box = QGroupBox((section_field.description or section).rstrip("."))
            box.setObjectName(f"section-{section}")
            grid = QGridLayout(box)
            grid.setColumnStretch(1, 1)
            if model.__doc__:
                intro = QLabel(model.__doc__.strip())
                intro.setWordWrap(True)
                intro.setStyleSheet("color: #444;")
                grid.addWidget(intro, 0, 0, 1, 3)
            line = 1
            for name, field in model.model_fields.items():
                if typing.get_origin(field.annotation) is dict:
                    continue  # tables (MCP servers) have their own editor: the Plugins panel and `biseo mcp`
                row = FieldRow(section, name, field)
                self.rows[row.key] = row
                grid.addWidget(row.label, line, 0, Qt.AlignTop)
                grid.addWidget(row.editor, line, 1)
                grid.addWidget(row.restore, line, 2, Qt.AlignTop)
                grid.addWidget(row.help, line + 1, 1, 1, 2)
                grid.addWidget(row.problem, line + 2, 1, 1, 2)
                line += 3
            form_layout.addWidget(box)
        form_layout.addStretch(1)
        scroll.setWidget(form)
        layout.addWidget(scroll, 1)
        actions = QHBoxLayout()
        self.save_button = button("Save", "Check and save the changed settings", self.save)
        self.revert_button = button("Undo changes", "Show the saved settings again", self.reload)
        actions.addStretch(1)
        actions.addWidget(self.revert_button)
        actions.addWidget(self.save_button)
        layout.addLayout(actions)
        self.loaded: Settings | None = None
        return body

    # data
    def reload(self) -> None:
        self.background(load_settings, self.assistant.paths, on_done=self._fill, on_error=self._load_failed)

    def _load_failed(self, exc: Any) -> None:
        self.show_error("config.toml could not be read, so the running settings are shown", exc)
        self._fill(self.assistant.settings)

    def _fill(self, settings: Settings) -> None:
        self.loaded = settings
        for row in self.rows.values():
            row.editor.set_value(getattr(getattr(settings, row.section), row.name))
            row.show_problem("")

    def current(self, key: str) -> Any:
        """The value a field's editor holds now."""
        return self.rows[key].editor.value()

    def changes(self) -> dict[str, dict[str, Any]]:
        """section -> {field: new value} for fields whose editor differs from the loaded settings."""
        out: dict[str, dict[str, Any]] = {}
        if self.loaded is None:
            return out
        for row in self.rows.values():
            value = row.editor.value()
            if _as_field(row.field, value) != getattr(getattr(self.loaded, row.section), row.name):
                out.setdefault(row.section, {})[row.name] = value
        return out

    def save(self) -> None:
        """Validate the changed sections with the pydantic models; write nothing unless every value is valid."""
        for row in self.rows.values():
            row.show_problem("")
        changes = self.changes()
        if not changes or self.loaded is None:
            self.notice.say("Nothing to save: no setting was changed.")
            return
        validated: dict[str, BaseModel] = {}
        problems = 0
        for section, values in changes.items():
            current: BaseModel = getattr(self.loaded, section)
            try:
                validated[section] = type(current).model_validate({**current.model_dump(), **values})
            except ValidationError as exc:
                for err in exc.errors():
                    key = f"{section}.{err['loc'][0]}" if err["loc"] else section
                    if key in self.rows:
                        self.rows[key].show_problem(f"Not saved: {err['msg']}.")
                        problems += 1
        if problems:
            self.error.show_error(f"Nothing was saved: {problems} value{'s' if problems != 1 else ''} "
                                  "need fixing (marked in red).")
            return
        try:
            for section, values in changes.items():
                for name, value in values.items():
                    key = f"{section}.{name}"
                    value = getattr(validated[section], name)
                    if value == field_default(self.rows[key].field):
                        unset_config_value(self.assistant.paths, key)  # back to the default, which may improve
                    else:
                        set_config_value(self.assistant.paths, key, value)
        except (OSError, ValueError, TypeError) as exc:
            self.show_error("Could not write config.toml", exc)
            return
        count = sum(len(v) for v in changes.values())
        for section, values in changes.items():
            for obj in {id(getattr(self.loaded, section)): getattr(self.loaded, section),
                        id(getattr(self.assistant.settings, section)): getattr(self.assistant.settings, section)
                        }.values():
                for name in values:
                    setattr(obj, name, getattr(validated[section], name))  # parts that read settings live see it
        self.error.clear()
        self.settings_written()
        self.notice.say(f"Saved {count} setting{'s' if count != 1 else ''}. Some take effect after Biseo restarts.")
