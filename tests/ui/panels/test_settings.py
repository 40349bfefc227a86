"""Settings panel: a form from the Settings model with help text; invalid values are refused, valid ones saved."""

from __future__ import annotations

import tomllib

from ui.panels.settings import BoolEditor, ChoiceEditor, ListEditor, NumberEditor, SettingsPanel, TextEditor


def config(services) -> dict:
    path = services.assistant.paths.config_file
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_form_has_a_widget_per_field_with_its_description(qtbot, services, idle):
    panel = SettingsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    assert isinstance(panel.rows["tools.enabled"].editor, BoolEditor)
    assert isinstance(panel.rows["llm.backend"].editor, ChoiceEditor)
    assert isinstance(panel.rows["llm.n_ctx"].editor, NumberEditor)
    assert panel.rows["llm.n_ctx"].editor.spin.maximum() == 131072  # le bound from the model
    assert isinstance(panel.rows["tools.file_roots"].editor, ListEditor)
    assert isinstance(panel.rows["chat.system_prompt"].editor, TextEditor)
    assert panel.rows["llm.n_gpu_layers"].editor.value() == "auto"
    assert panel.rows["llm.n_threads"].editor.value() is None
    assert panel.rows["llm.temperature"].help.text() == "Sampling temperature for answers."
    assert panel.rows["llm.temperature"].editor.toolTip() == "Sampling temperature for answers."
    assert panel.rows["tools.file_roots"].editor.value() == ["~/Documents"]
    assert panel.findChild(object, "section-memory").title() == "Long-term memory"


def test_an_invalid_value_is_refused_and_nothing_written(qtbot, services, idle):
    panel = SettingsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    panel.rows["llm.temperature"].editor.set_value(0.7)  # valid, but saved only with the rest
    panel.rows["llm.request_timeout_s"].editor.set_value(0)  # must be > 0
    panel.save_button.click()
    problem = panel.rows["llm.request_timeout_s"].problem
    assert problem.isVisibleTo(panel) and "greater than 0" in problem.text()
    assert "Nothing was saved" in panel.error.message.text()
    assert config(services) == {}


def test_a_valid_value_is_saved_and_restore_default_removes_it(qtbot, services, idle):
    panel = SettingsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    panel.rows["llm.temperature"].editor.set_value(0.7)
    panel.rows["llm.backend"].editor.set_value("openai")
    panel.rows["tools.file_roots"].editor.set_value(["~/Documents", "~/Notes"])
    panel.save_button.click()
    assert config(services) == {"llm": {"temperature": 0.7, "backend": "openai"},
                                "tools": {"file_roots": ["~/Documents", "~/Notes"]}}
    assert "Saved 3 settings" in panel.notice.text()
    assert services.assistant.settings.llm.temperature == 0.7

    panel.rows["llm.temperature"].restore.click()
    assert panel.rows["llm.temperature"].editor.value() == 0.2
    panel.save_button.click()
    assert "temperature" not in config(services)["llm"]
    panel.refresh()
    idle(panel)
    assert panel.rows["llm.backend"].editor.value() == "openai"  # read back from config.toml
