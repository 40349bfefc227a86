"""Adapters panel: the trained LoRA adapter versions, their before/after figures, which is in use, and training."""

from __future__ import annotations

import html
import threading
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.panels import common
from ui.panels.adapter_chart import BeforeAfterChart, metrics_from
from ui.panels.common import Panel, button, empty_state, select_row, when

EMPTY = ("No adapters yet.\n\nAn adapter is a small add-on to the model, trained on this computer from your ratings, "
         "corrections and chosen documents. Train one below; Biseo compares it with the plain model and uses it "
         "only when it is better.")
SOURCES = [("Your feedback", "feedback"), ("Documents", "docs"), ("Feedback and documents", "both")]
VERDICT_WORDS = {"better": "better", "same": "no change", "worse": "worse", "unknown": "not evaluated"}
POLICY_WORDS = {
    "if-better": "Runs in the background while you chat; the new version is used only if it beats the plain model.",
    "always": "Runs in the background while you chat; the new version is used as soon as it is done.",
    "never": "Runs in the background while you chat; to use a new version, select it and press Use.",
}
SOURCE_WORDS = {"rating": "good ratings", "correction": "corrections", "conversation": "marked conversations",
                "document": "document passages"}


# words for figures
def where_words(scopes: list[str]) -> str:
    """'default, Tutor' for the scopes a version is active in ('' when none)."""
    return ", ".join("default" if s == "" else s.removeprefix("persona:") for s in scopes)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def percent(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, (int, float)) else "n/a"


def examples_text(meta: dict[str, Any]) -> str:
    data = meta.get("data") or {}
    train, held = data.get("train"), data.get("held_out")
    if train is None:
        return ""
    return f"{train} (+{held} held out)" if held else str(train)


def describe(version: Any, scopes: list[str]) -> list[tuple[str, str]]:
    """The details of one version as (label, text) lines; the text is plain (the meta holds the user's data)."""
    meta = version.meta or {}
    lines: list[tuple[str, str]] = []
    base = (meta.get("base_model") or {}).get("name")
    head = when(version.created_at) or "at an unknown time"
    if base:
        head += f", for {base}"
    if meta.get("persona"):
        head += f", with the persona {meta['persona']}"
    lines.append((version.ref, f"trained {head}."))
    in_use = ", ".join("by default" if s == "" else "for " + s.removeprefix("persona:") for s in scopes)
    lines.append(("In use", f"{in_use}." if in_use else "not now."))
    evaluation = meta.get("evaluation") or {}
    reasons = "; ".join(str(r) for r in evaluation.get("reasons") or [])
    lines.append(("Verdict", VERDICT_WORDS.get(version.verdict, version.verdict) + (f" ({reasons})." if reasons
                                                                                      else ".")))
    tried = evaluation.get("strengths") or []
    if len(tried) > 1:
        lines.append(("Strength", f"{version.strength:g} (the best of "
                      + ", ".join(f"{row['strength']:g}: {VERDICT_WORDS.get(row['verdict'], row['verdict'])}"
                                  for row in tried) + ")."))
    data = meta.get("data") or {}
    if data:
        text = f"{data.get('train', 0)} examples trained on, {data.get('held_out', 0)} held out to judge it"
        by_source = data.get("by_source") or {}
        if by_source:
            text += " (" + ", ".join(f"{n} {SOURCE_WORDS.get(k, k)}" for k, n in by_source.items()) + ")"
        skipped = data.get("skipped") or {}
        if skipped:
            text += f"; {sum(int(n) for n in skipped.values())} skipped ({', '.join(skipped)})"
        lines.append(("Data", text + "."))
    training = meta.get("training") or {}
    if training:
        config = meta.get("config") or {}
        text = f"{config.get('epochs', '?')} epochs on {training.get('device', '?')}"
        if training.get("precision"):
            text += f" ({training['precision']})"
        text += f", {duration(training.get('seconds'))}"
        if isinstance(training.get("seconds_per_100_examples"), (int, float)):
            text += f", {duration(training['seconds_per_100_examples'])} per 100 examples"
        if isinstance(training.get("peak_memory_mb"), (int, float)):
            text += f", peak memory {training['peak_memory_mb'] / 1024:.1f} GB"
        first, last = training.get("first_loss"), training.get("last_loss")
        if isinstance(first, (int, float)) and isinstance(last, (int, float)):
            text += f", loss {first:.3f} → {last:.3f}"
        lines.append(("Training", text + "."))
    agreement = meta.get("agreement") or {}
    adapted, base_side = agreement.get("adapted") or {}, agreement.get("base") or {}
    if adapted:
        lines.append(("Agreement", f"the served model (llama.cpp) picks the trained model's next token "
                                   f"{percent(adapted.get('top1_agreement'))} of the time over "
                                   f"{adapted.get('positions', '?')} positions (base model "
                                   f"{percent(base_side.get('top1_agreement'))})."))
    return lines


def figures_html(lines: list[tuple[str, str]]) -> str:
    """The details as rich text; every value is escaped, so nothing in them acts as HTML."""
    return "".join(f"<p style='margin: 0 0 4px 0'><b>{html.escape(label)}:</b> {html.escape(text)}</p>"
                   for label, text in lines)


def answers_text(meta: dict[str, Any]) -> str:
    """The evaluation's questions with the answers before and after, as plain text."""
    evaluation = meta.get("evaluation") or {}
    before = {(a.get("set"), a.get("question")): a for a in (evaluation.get("before") or {}).get("answers") or []}
    out = []
    for a in (evaluation.get("after") or {}).get("answers") or []:
        b = before.get((a.get("set"), a.get("question")), {})
        mark = lambda x: "right" if x.get("ok") else "wrong"  # noqa: E731
        out.append(f"[{a.get('set', '')}] {a.get('question', '')}\n  expected: {a.get('expected', '')}\n"
                   f"  before ({mark(b) if b else '?'}): {b.get('answer', '')}\n"
                   f"  after ({mark(a)}): {a.get('answer', '')}")
    return "\n\n".join(out)


def done_text(event: dict[str, Any]) -> str:
    """What a finished training run produced, in a sentence or two."""
    meta = event.get("meta") or {}
    ref = event.get("adapter", "the adapter")
    evaluation = meta.get("evaluation") or {}
    verdict = evaluation.get("verdict", "unknown")
    reasons = "; ".join(str(r) for r in evaluation.get("reasons") or [])
    text = f"Trained {ref}"
    training = meta.get("training") or {}
    if training.get("examples"):
        text += f" on {training['examples']} examples in {duration(training.get('seconds'))}"
    text += f". Compared with the plain model it is {VERDICT_WORDS.get(verdict, verdict)}"
    text += f" ({reasons})." if reasons else "."
    persona = meta.get("persona")
    if event.get("activated"):
        text += f" It is now in use {'for ' + persona if persona else 'by default'}, from your next message."
    else:
        text += " It was not put in use; select it and press Use to use it anyway."
    return text


class TrainingTask(QObject):
    """One training process; its events are read on a worker thread and re-emitted on the GUI thread.

    It belongs to the panel, not to its visibility: hiding the panel leaves the run going.
    """

    event = Signal(object)  # each JSON event the run prints
    finished = Signal(object)  # the final event: done / cancelled / error

    def __init__(self, command: list[str], log_file: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from assistant.learning.process import TrainingRun

        self.run = TrainingRun(command, log_file=log_file)
        self.thread = threading.Thread(target=self._read, name="biseo-train-events", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.run.cancel()

    def _read(self) -> None:
        try:
            for item in self.run.events():
                self._emit(self.event, item)
            outcome = self.run.outcome()
        except Exception as exc:  # noqa: BLE001 - reading the pipe failed: still one final event
            outcome = {"event": "error", "message": f"could not follow the training run ({exc})"}
        self._emit(self.finished, outcome)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the window was closed while the run went on
            pass


class AdaptersPanel(Panel):
    """Versions list, details with a before/after chart, Use / Off / Roll back / Delete / Re-evaluate, and Train."""

    title = "Adapters"
    subtitle = "Add-ons to the model, trained on this computer from what you taught Biseo."

    def __init__(self, services: Any, parent: QWidget | None = None, *,
                 command_factory: Callable[..., list[str]] | None = None) -> None:
        # The training command line for the chosen options (tests give a stand-in process); None: train_command.
        self.command_factory = command_factory
        self.training: TrainingTask | None = None
        self.reevaluating: str | None = None
        self.versions: list[Any] = []
        self.state: dict[str, Any] = {"active": {}, "previous": {}}
        self.last_event: dict[str, Any] | None = None
        self._select_next: str | None = None  # the version a finished training made, once listed
        self._defaults_set = False
        super().__init__(services, parent)
        app = QCoreApplication.instance()
        if app is not None:  # a run must not outlive the app half-written: it cleans up on cancel
            app.aboutToQuit.connect(self.cancel_training)

    # layout
    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.in_use = QLabel()
        self.in_use.setObjectName("adaptersInUse")
        self.in_use.setWordWrap(True)
        layout.addWidget(self.in_use)

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Adapter", "Trained", "Examples", "Verdict", "In use"])
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.list.header()
        header.setStretchLastSection(True)
        for col in range(4):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        self.list.setMinimumHeight(70)
        self.empty = empty_state(EMPTY)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.list)
        self.list_stack.addWidget(self.empty)

        top = QWidget()
        top_box = QVBoxLayout(top)
        top_box.setContentsMargins(0, 0, 0, 0)
        top_box.addWidget(self.list_stack, 1)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("For:"))
        self.scope = QComboBox()
        self.scope.setToolTip("Where Use, Off and Roll back apply: every conversation, or one persona's")
        actions.addWidget(self.scope)
        self.use_button = button("Use", "Use the selected version here", self.use_selected)
        self.off_button = button("Off", "Answer without an adapter here", self.turn_off)
        self.rollback_button = button("Roll back", "Go back to what was used here before the last change",
                                      self.roll_back)
        self.reevaluate_button = button("Re-evaluate", "Compare the selected version with the plain model again "
                                        "(loads the model twice; takes a while)", self.reevaluate_selected)
        self.delete_button = button("Delete…", "Delete the selected version", self.delete_selected)
        for b in (self.use_button, self.off_button, self.rollback_button):
            actions.addWidget(b)
        actions.addStretch(1)
        actions.addWidget(self.reevaluate_button)
        actions.addWidget(self.delete_button)
        top_box.addLayout(actions)

        details = QWidget()
        row = QHBoxLayout(details)
        row.setContentsMargins(0, 4, 0, 0)
        self.chart = BeforeAfterChart()
        row.addWidget(self.chart, 5, Qt.AlignTop)
        text = QWidget()
        text_box = QVBoxLayout(text)
        text_box.setContentsMargins(0, 0, 0, 0)
        self.figures = QLabel()
        self.figures.setObjectName("adapterFigures")
        self.figures.setTextFormat(Qt.RichText)
        self.figures.setWordWrap(True)
        self.figures.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.figures.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        text_box.addWidget(self.figures)
        self.answers_button = button("Show the test answers", "The questions it was tested on, with the answers "
                                     "before and after")
        self.answers_button.setCheckable(True)
        text_box.addWidget(self.answers_button, 0, Qt.AlignLeft)
        self.answers = QPlainTextEdit()
        self.answers.setReadOnly(True)
        self.answers.setMinimumHeight(140)
        self.answers.hide()
        text_box.addWidget(self.answers)
        text_box.addStretch(1)
        self.answers_button.toggled.connect(self.answers.setVisible)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(text)
        row.addWidget(scroll, 6)

        split = QSplitter(Qt.Vertical)
        split.addWidget(top)
        split.addWidget(details)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        layout.addWidget(self._build_train())

        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.scope.currentIndexChanged.connect(lambda _i: self._update_actions())
        self._selection_changed()
        return body

    def _build_train(self) -> QGroupBox:
        group = QGroupBox("Train a new version")
        box = QVBoxLayout(group)
        fields = QGridLayout()
        self.train_name = QLineEdit()
        self.train_name.setPlaceholderText("personal")
        self.train_name.setToolTip("The adapter's name; each training makes a new version of it")
        self.train_source = QComboBox()
        for label, value in SOURCES:
            self.train_source.addItem(label, value)
        self.train_epochs = QSpinBox()
        self.train_epochs.setRange(1, 50)
        self.train_epochs.setToolTip("Passes over your examples: more learns more, and takes longer")
        self.train_persona = QComboBox()
        self.train_persona.setToolTip("Train with a persona's system prompt; the adapter is then used for it")
        self.train_persona.setMinimumContentsLength(16)
        for widget in (self.train_name, self.train_source, self.train_persona):
            widget.setMinimumWidth(200)
        fields.addWidget(QLabel("Name:"), 0, 0)
        fields.addWidget(self.train_name, 0, 1)
        fields.addWidget(QLabel("Epochs:"), 0, 2)
        fields.addWidget(self.train_epochs, 0, 3, Qt.AlignLeft)
        fields.addWidget(QLabel("Learn from:"), 1, 0)
        fields.addWidget(self.train_source, 1, 1)
        fields.addWidget(QLabel("Persona:"), 1, 2)
        fields.addWidget(self.train_persona, 1, 3)
        self.train_button = button("Train", "Train a new version in the background (you can keep chatting)",
                                   self.start_training)
        self.train_button.setMinimumWidth(100)
        fields.addWidget(self.train_button, 1, 5)
        fields.setColumnStretch(4, 1)
        fields.setHorizontalSpacing(10)
        box.addLayout(fields)
        self.docs_row = QWidget()
        docs = QHBoxLayout(self.docs_row)
        docs.setContentsMargins(0, 0, 0, 0)
        docs.addWidget(QLabel("Documents:"))
        self.train_docs = QLineEdit()
        self.train_docs.setPlaceholderText("files or folders to learn from, separated by ;")
        docs.addWidget(self.train_docs, 1)
        docs.addWidget(button("Choose folder…", "Add a folder of documents", self._choose_docs))
        box.addWidget(self.docs_row)
        self.train_source.currentIndexChanged.connect(lambda _i: self._source_changed())

        self.run_row = QWidget()
        run = QHBoxLayout(self.run_row)
        run.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = button("Cancel", "Stop training; nothing already trained changes",
                                    self.cancel_training)
        run.addWidget(self.progress, 1)
        run.addWidget(self.cancel_button)
        box.addWidget(self.run_row)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("trainProgress")
        self.progress_label.setWordWrap(True)
        box.addWidget(self.progress_label)
        self.policy = QLabel()
        self.policy.setWordWrap(True)
        self.policy.setStyleSheet("color: #555;")
        box.addWidget(self.policy)
        self.result = QLabel()
        self.result.setObjectName("trainResult")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.PlainText)
        self.result.setStyleSheet("#trainResult { background: #eef7ee; border: 1px solid #b9dcb9; border-radius: 4px;"
                                  " padding: 6px; color: #1d4d1d; }")
        self.result.hide()
        box.addWidget(self.result)
        self.run_row.hide()
        self.progress_label.hide()
        self._source_changed()
        return group

    # data
    def reload(self) -> None:
        self._fill_choices()
        registry = self.assistant.adapters

        def load() -> tuple[list[Any], dict[str, Any]]:
            versions = sorted(registry.all(), key=lambda v: (v.name, -v.version))
            return versions, registry.state()

        self.background(load, on_done=self._show, what="Could not read the adapters")

    def _fill_choices(self) -> None:
        """Scopes and personas from the persona list; the training form's defaults from the settings."""
        try:
            names = list(self.assistant.personas.names())
        except Exception:  # noqa: BLE001 - without personas only the default scope is offered
            names = []
        scope, persona = self.scope.currentData(), self.train_persona.currentData()
        self.scope.blockSignals(True)
        self.scope.clear()
        self.scope.addItem("Every conversation (default)", "")
        for name in names:
            self.scope.addItem(f"Persona {name}", f"persona:{name}")
        self.scope.setCurrentIndex(max(self.scope.findData(scope), 0) if scope is not None else 0)
        self.scope.blockSignals(False)
        self.train_persona.clear()
        self.train_persona.addItem("None (the default prompt)", "")
        for name in names:
            self.train_persona.addItem(name, name)
        self.train_persona.setCurrentIndex(max(self.train_persona.findData(persona), 0) if persona else 0)
        if not self._defaults_set:
            learning = getattr(self.assistant.settings, "learning", None)
            if learning is not None:
                self.train_name.setText(learning.adapter_name)
                self.train_epochs.setValue(learning.epochs)
                self.train_source.setCurrentIndex(max(self.train_source.findData(learning.source), 0))
                self.train_docs.setText("; ".join(learning.documents))
                self.policy.setText(POLICY_WORDS.get(learning.activate, ""))
            self._defaults_set = True

    def _show(self, result: tuple[list[Any], dict[str, Any]]) -> None:
        selected, self._select_next = self._select_next or self.selected_ref(), None
        self.versions, self.state = result
        active = self.state.get("active") or {}
        self.list.clear()
        for v in self.versions:
            scopes = [s for s, ref in active.items() if ref == v.ref]
            item = QTreeWidgetItem([v.ref, when(v.created_at), examples_text(v.meta),
                                    VERDICT_WORDS.get(v.verdict, v.verdict), where_words(scopes)])
            item.setData(0, Qt.UserRole, v.ref)
            item.setToolTip(3, "; ".join(str(r) for r in (v.meta.get("evaluation") or {}).get("reasons") or []))
            self.list.addTopLevelItem(item)
        self.list_stack.setCurrentWidget(self.list if self.versions else self.empty)
        self.in_use.setText(self._in_use_text(active))
        if selected:
            self.select(selected)
        elif self.versions and self.list.currentItem() is None:
            self.list.setCurrentItem(self.list.topLevelItem(0))
        self._selection_changed()

    @staticmethod
    def _in_use_text(active: dict[str, str]) -> str:
        default = active.get("")
        parts = [f"In use by default: {default}." if default else "By default Biseo answers without an adapter."]
        for scope, ref in sorted(active.items()):
            if scope.startswith("persona:"):
                parts.append(f"{scope.removeprefix('persona:')}: {ref or 'none'}.")
        return " ".join(parts)

    # selection
    def selected_ref(self) -> str | None:
        item = self.list.currentItem()
        return item.data(0, Qt.UserRole) if item is not None and item.isSelected() else None

    def selected_version(self) -> Any:
        ref = self.selected_ref()
        return next((v for v in self.versions if v.ref == ref), None)

    def select(self, ref: str) -> None:
        select_row(self.list, ref)

    def _selection_changed(self) -> None:
        version = self.selected_version()
        if version is None:
            self.chart.set_metrics([], "Select a version to see how it compares with the plain model.")
            self.figures.setText("")
            self.answers.clear()
            self.answers_button.hide()
        else:
            meta = version.meta or {}
            scopes = [s for s, ref in (self.state.get("active") or {}).items() if ref == version.ref]
            self.chart.set_metrics(metrics_from(meta.get("evaluation")),
                                   "Not evaluated: press Re-evaluate to compare it with the plain model.")
            self.figures.setText(figures_html(describe(version, scopes)))
            answers = answers_text(meta)
            self.answers.setPlainText(answers)
            self.answers_button.setVisible(bool(answers))
            if not answers:
                self.answers_button.setChecked(False)
        self._update_actions()

    def _update_actions(self) -> None:
        version = self.selected_version()
        scope = self.scope.currentData() or ""
        active = (self.state.get("active") or {}).get(scope)
        self.use_button.setEnabled(version is not None and active != version.ref)
        self.off_button.setEnabled(bool(active))
        self.rollback_button.setEnabled(bool((self.state.get("previous") or {}).get(scope)))
        self.delete_button.setEnabled(version is not None)
        self.reevaluate_button.setEnabled(version is not None and self.reevaluating is None
                                          and self.training is None)
        self.reevaluate_button.setText("Re-evaluating…" if self.reevaluating else "Re-evaluate")

    # which version is in use
    def _scope_words(self, scope: str) -> str:
        return "by default" if not scope else f"for {scope.removeprefix('persona:')}"

    def _change(self, fn: Callable[[], Any], said: Callable[[Any], str], what: str) -> None:
        """Run a registry change off the GUI thread; a refusal (AdapterError) shows its own plain words."""
        self.error.clear()
        self.notice.say("")

        def done(result: Any) -> None:
            self.notice.say(said(result))
            self.reload()

        def failed(exc: Any) -> None:
            if isinstance(exc, ValueError):  # AdapterError: "is in use", "nothing to roll back to"
                self.error.show_error(str(exc))
            else:
                self.show_error(what, exc)
            self.reload()

        self.background(fn, on_done=done, on_error=failed)

    def use_selected(self) -> None:
        version = self.selected_version()
        if version is None:
            return
        scope = self.scope.currentData() or ""
        self._change(lambda: self.assistant.adapters.use(version.ref, scope),
                     lambda v: f"{v.ref} is now in use {self._scope_words(scope)}, from your next message.",
                     "Could not use the adapter")

    def turn_off(self) -> None:
        scope = self.scope.currentData() or ""
        self._change(lambda: self.assistant.adapters.off(scope),
                     lambda _r: f"No adapter {self._scope_words(scope)} from your next message"
                                + ("." if not scope else " (not even the default one)."),
                     "Could not turn the adapter off")

    def roll_back(self) -> None:
        scope = self.scope.currentData() or ""
        self._change(lambda: self.assistant.adapters.rollback(scope),
                     lambda v: f"Rolled back {self._scope_words(scope)}: "
                               + (f"{v.ref} is in use again." if v is not None else "no adapter is in use."),
                     "Could not roll back")

    def delete_selected(self) -> None:
        version = self.selected_version()
        if version is None:
            return
        if not common.confirm(self, "Delete this adapter version?",
                              f"{version.ref} and its files will be deleted. This cannot be undone.", yes="Delete"):
            return
        self._change(lambda: self.assistant.adapters.delete(version.ref), lambda _r: f"Deleted {version.ref}.",
                     "Could not delete the adapter")

    def reevaluate_selected(self) -> None:
        version = self.selected_version()
        if version is None or self.reevaluating:
            return
        from assistant.learning import reevaluate

        registry, ref = self.assistant.adapters, version.ref
        self.reevaluating = ref
        self.error.clear()
        self.notice.say(f"Re-evaluating {ref}: the model answers the test questions with and without it; "
                        "this takes a while.")
        self._update_actions()

        def done(updated: Any) -> None:
            self.reevaluating = None
            self.notice.say(f"Re-evaluated {ref}: {VERDICT_WORDS.get(updated.verdict, updated.verdict)} than the "
                            "plain model." if updated.verdict in ("better", "worse") else
                            f"Re-evaluated {ref}: {VERDICT_WORDS.get(updated.verdict, updated.verdict)}.")
            self.reload()

        def failed(exc: Any) -> None:
            self.reevaluating = None
            self.notice.say("")
            self.show_error(f"Could not re-evaluate {ref}", exc)
            self._update_actions()

        self.background(reevaluate.rerun, registry, version, on_done=done, on_error=failed)

    # training
    def _source_changed(self) -> None:
        self.docs_row.setVisible(self.train_source.currentData() in ("docs", "both"))

    def _choose_docs(self) -> None:
        folder = common.ask_folder(self, "Documents to learn from")
        if folder:
            current = [d.strip() for d in self.train_docs.text().split(";") if d.strip()]
            self.train_docs.setText("; ".join([*current, folder]))

    @property
    def training_running(self) -> bool:
        return self.training is not None

    def start_training(self) -> None:
        if self.training is not None or self.assistant is None:
            return
        source = self.train_source.currentData()
        docs = [d.strip() for d in self.train_docs.text().split(";") if d.strip()]
        if source in ("docs", "both") and not docs:
            self.error.show_error("Choose the documents to learn from (a file or a folder) first.")
            return
        factory = self.command_factory
        if factory is None:
            from assistant.learning.process import train_command as factory
        try:
            from assistant.learning.registry import check_name

            name = check_name(self.train_name.text() or self.train_name.placeholderText())
            command = factory(adapter=name, source=source, docs=docs if source != "feedback" else None,
                              epochs=self.train_epochs.value(), persona=self.train_persona.currentData() or None)
            log_file = self.assistant.paths.logs_dir / "training.log"
            log_file.parent.mkdir(parents=True, exist_ok=True)
            task = TrainingTask(command, log_file=log_file, parent=self)
        except ValueError as exc:
            self.error.show_error(str(exc))
            return
        except OSError as exc:
            self.show_error("Could not start training", exc)
            return
        self.training = task
        task.event.connect(self._on_event)
        task.finished.connect(self._on_finished)
        self.error.clear()
        self.notice.say("")
        self.result.hide()
        self.progress.setRange(0, 0)
        self.progress.setFormat("")
        self.progress_label.setText("Starting…")
        self.progress_label.show()
        self.policy.hide()  # the progress line takes its place while a run goes on
        self.run_row.show()
        self.cancel_button.setEnabled(True)
        self.train_button.setEnabled(False)
        self._update_actions()
        task.start()

    def cancel_training(self) -> None:
        if self.training is None:
            return
        self.training.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Stopping… nothing already trained changes.")

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "phase":
            self.progress.setRange(0, 0)  # loading, exporting, evaluating: no step count
            self.progress.setFormat("")
            self.progress_label.setText(f"{event.get('message') or event.get('phase')}…")
        elif kind == "dataset":
            self.progress_label.setText(f"{event.get('train', 0)} examples to train on, "
                                        f"{event.get('held_out', 0)} kept to judge the result.")
        elif kind == "progress":
            step, total = int(event.get("step") or 0), int(event.get("total") or 0)
            if total:
                self.progress.setRange(0, total)
                self.progress.setValue(min(step, total))
                self.progress.setFormat(f"step {step} of {total}")
            text = f"Training: epoch {event.get('epoch', '?')} of {event.get('epochs', '?')}"
            if isinstance(event.get("loss"), (int, float)):
                text += f", loss {event['loss']:.3f}"
            elapsed = event.get("elapsed_s")
            if isinstance(elapsed, (int, float)) and step and total > step:
                text += f", about {duration(elapsed / step * (total - step))} left"
            self.progress_label.setText(text + ".")
        self.last_event = event

    def _on_finished(self, outcome: dict[str, Any]) -> None:
        self.training = None
        self.run_row.hide()
        self.progress_label.setText("")
        self.progress_label.hide()
        self.policy.show()
        self.train_button.setEnabled(True)
        kind = outcome.get("event")
        if kind == "done":
            self.result.setText(done_text(outcome))
            self.result.show()
            self._select_next = outcome.get("adapter")
            self.reload()
        elif kind == "cancelled":
            self.notice.say(outcome.get("message") or "Training was cancelled; your adapters are as they were.")
        else:
            message = outcome.get("message") or "the training process failed"
            log_file = self.assistant.paths.logs_dir / "training.log" if self.assistant is not None else None
            self.error.show_error(f"Training failed: {message}",
                                  f"{message}\n\nThe training log is in {log_file}." if log_file else "")
        self._update_actions()
