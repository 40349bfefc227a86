"""Documents panel: adding a folder indexes it with progress; a file that cannot be read says why."""

from __future__ import annotations

from ui.panels import common
from ui.panels.documents import DocumentsPanel


def tree_rows(panel) -> dict[str, tuple[str, str]]:
    out = {}
    for i in range(panel.tree.topLevelItemCount()):
        top = panel.tree.topLevelItem(i)
        out[top.text(0)] = (top.text(1), top.text(2))
        for j in range(top.childCount()):
            child = top.child(j)
            out[child.text(0)] = (child.text(1), child.text(2))
    return out


def test_empty_state_then_add_a_folder_with_a_good_and_a_binary_file(qtbot, services, idle, tmp_path, monkeypatch):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "garden.md").write_text("# Garden\n\nThe tomatoes were sown on March 12 in the greenhouse.\n")
    (folder / "photo.txt").write_bytes(bytes(range(256)) * 40)  # binary bytes under a text name
    panel = DocumentsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    assert panel.stack.currentWidget() is panel.empty and "Add folder…" in panel.empty.text()

    seen = []
    panel._relay.fired.connect(lambda state: seen.append((state.done, state.total)))
    monkeypatch.setattr(common, "ask_folder", lambda *a, **k: str(folder))
    panel.add_folder_button.click()
    qtbot.waitUntil(lambda: not panel.busy and panel._cancel is None and "file" in panel.summary.text(),
                    timeout=20_000)
    idle(panel)
    rows = tree_rows(panel)
    assert rows[str(folder.resolve())] == ("1 of 2 files ready", "1 could not be read")
    assert rows["garden.md"][0].startswith("Ready")
    status, reason = rows["photo.txt"]
    assert status == "Could not read" and reason  # the reason the indexer gave is shown
    assert "1 file could not be read" in panel.summary.text()
    assert seen and seen[-1][1] == 2  # progress reached the panel
    assert not panel.progress_box.isVisibleTo(panel)

    # Remove the folder: the list is empty again (the files stay on disk).
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    monkeypatch.setattr(common, "confirm", lambda *a, **k: True)
    panel.remove_button.click()
    idle(panel)
    qtbot.waitUntil(lambda: panel.stack.currentWidget() is panel.empty, timeout=5000)
    assert (folder / "garden.md").exists()


def test_cancel_stops_indexing_and_says_so(qtbot, services, idle, tmp_path, monkeypatch):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        (folder / f"note{i:02d}.md").write_text(f"# Note {i}\n\nPlant number {i} needs water on day {i}.\n")
    panel = DocumentsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    started = []
    original = services.assistant.documents.sync

    def slow_sync(progress, **kwargs):
        def report(state):
            started.append(state.done)
            progress(state)
            if state.total and not kwargs["cancel"].is_set():
                kwargs["cancel"].wait(0.05)  # a slow disk, so the user has time to press Cancel
        return original(report, **kwargs)

    monkeypatch.setattr(services.assistant.documents, "sync", slow_sync)
    panel.add_paths([str(folder)])
    qtbot.waitUntil(lambda: panel.progress_box.isVisibleTo(panel) and panel.progress.maximum() == 30,
                    timeout=10_000)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel._cancel is None, timeout=10_000)
    idle(panel)
    assert "Indexing stopped" in panel.summary.text()
    top = panel.tree.topLevelItem(0)
    assert not top.text(1).startswith("30 of 30")
