"""Review panel: the least sure answers come first; Good / Bad / Correct… store feedback and take them off the list."""

from __future__ import annotations

import pytest

from assistant.app import Assistant
from assistant.events import Final
from assistant.settings import Settings
from ui.panels import review
from ui.panels.review import ReviewPanel


@pytest.fixture
def measured(fake_backend):
    """The fake backend measuring like the real one: each answer gets the next entropy of `entropies`."""

    class Measured(fake_backend):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.entropies: list[float] = []
            self.last_uncertainty = None

        def stream(self, messages, *, json_schema=None, **kwargs):
            self.last_uncertainty = None
            yield from super().stream(messages, json_schema=json_schema, **kwargs)
            if json_schema is None and self.entropies:
                mean = self.entropies.pop(0)
                self.last_uncertainty = {"mean_entropy": mean, "max_entropy": mean * 3, "tokens": 9}

    return Measured()


@pytest.fixture
def assistant(measured, memory_index, docs_index):  # replaces the panels' fixture: this one measures answers
    app = Assistant(Settings(), backend=measured, builtin_plugins=())
    yield app
    app.close()


def say(app, backend, question: str, answer: str, entropy: float) -> str:
    backend.answers.append(answer)
    backend.entropies.append(entropy)
    return [e for e in app.chat(question) if isinstance(e, Final)][0].message_id


def rows(panel) -> list[tuple[str, str]]:
    return [(panel.list.topLevelItem(i).text(0), panel.list.topLevelItem(i).text(1))
            for i in range(panel.list.topLevelItemCount())]


def open_panel(qtbot, services, idle) -> ReviewPanel:
    panel = ReviewPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    return panel


def test_the_least_sure_answers_come_first_and_good_bad_correct_take_them_off(qtbot, services, measured, idle,
                                                                               monkeypatch):
    app = services.assistant
    sure = say(app, measured, "What is 2 + 2?", "4.", 0.2)
    cat = say(app, measured, "What is my cat's name?", "Maybe Max?", 2.0)
    sister = say(app, measured, "When is my sister's birthday?", "In June, I think.", 0.9)
    panel = open_panel(qtbot, services, idle)

    assert rows(panel) == [("2.00 · very unsure", "What is my cat's name?"),
                           ("0.90 · unsure", "When is my sister's birthday?"),
                           ("0.20 · fairly sure", "What is 2 + 2?")]
    assert panel.count.text() == "3 answers left to review."
    assert panel.selected().message_id == cat  # the least sure one is up first
    assert panel.question.toPlainText() == "What is my cat's name?"
    assert panel.answer.toPlainText().strip() == "Maybe Max?"
    assert "very unsure" in panel.figure.text() and "2.00" in panel.figure.text()

    panel.bad_button.click()
    idle(panel)
    assert app.feedback.for_message(cat)["rating"] == -1
    assert [r[1] for r in rows(panel)] == ["When is my sister's birthday?", "What is 2 + 2?"]
    assert panel.count.text() == "2 answers left to review."
    assert panel.selected().message_id == sister  # the next one is ready to review

    offered = []
    monkeypatch.setattr(review, "ask_correction", lambda parent, answer: offered.append(answer) or "On May 3.")
    panel.correct_button.click()
    idle(panel)
    assert offered == ["In June, I think."]  # the editor starts from the answer
    assert app.feedback.for_message(sister)["correction"] == "On May 3."
    assert panel.count.text() == "1 answer left to review."

    panel.good_button.click()
    idle(panel)
    assert app.feedback.for_message(sure)["rating"] == 1
    assert panel.stack.currentWidget() is panel.empty and "as you chat" in panel.empty.text()
    assert app.review.count_pending() == 0

    panel.refresh()  # reviewed answers stay reviewed
    idle(panel)
    assert panel.stack.currentWidget() is panel.empty


def test_skip_and_a_cancelled_correction_leave_the_feedback_alone(qtbot, services, measured, idle, monkeypatch):
    app = services.assistant
    first = say(app, measured, "q one", "a one", 1.7)
    say(app, measured, "q two", "a two", 1.2)
    panel = open_panel(qtbot, services, idle)

    monkeypatch.setattr(review, "ask_correction", lambda parent, answer: None)  # the user pressed Cancel
    panel.correct_button.click()
    idle(panel)
    assert panel.list.topLevelItemCount() == 2 and app.feedback.for_message(first) is None

    panel.skip_button.click()
    assert [r[1] for r in rows(panel)] == ["q two"]
    assert panel.count.text() == "1 answer left to review."
    assert app.feedback.for_message(first) is None and app.review.count_pending() == 2
    panel.refresh()  # skipped stays out of the way for this session
    idle(panel)
    assert [r[1] for r in rows(panel)] == ["q two"]


def test_it_says_starting_until_the_assistant_is_ready_then_explains_the_empty_queue(qtbot, assistant, idle):
    from ui.services import Services

    services = Services(factory=lambda: assistant, warm_up=False)
    panel = ReviewPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.pages.currentWidget() is panel.starting and "Starting" in panel.starting.text()
    with qtbot.waitSignal(services.ready, timeout=10_000):
        services.start()
    idle(panel)
    assert panel.pages.currentWidget() is panel.body
    assert panel.stack.currentWidget() is panel.empty and "least sure" in panel.empty.text()
    services.pool.waitForDone(10_000)


def test_an_answer_is_shown_as_safe_markdown(qtbot, services, measured, idle):
    app = services.assistant
    say(app, measured, "Show me my cat",
        "**Max** <img src='http://example.com/x.png'> ![Max asleep](http://example.com/max.png)", 1.0)
    panel = open_panel(qtbot, services, idle)
    assert panel.list.topLevelItem(0).text(2).startswith("Max <img")  # the list row drops the Markdown marks
    shown = panel.answer.toPlainText()
    assert "<img src='http://example.com/x.png'>" in shown  # raw HTML is shown as text
    assert "Max asleep" in shown and "**" not in shown  # an image becomes its alt text; bold is bold
    assert panel.answer.refused == []  # nothing was even asked for
