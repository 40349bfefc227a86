"""One process per data folder: a second Biseo on the same data is refused with the first one's pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.instance_lock import InstanceLock, InstanceLocked
from assistant.settings import Settings

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt makes the QApplication

# A process that opens the data like the app does, says so, and stays until it is killed.
HOLDER = """
import time
from assistant.app import Assistant
from assistant.settings import Settings
app = Assistant(Settings(), builtin_plugins=())
conversation = app.new_conversation("kept")
print(conversation, flush=True)
time.sleep(600)
"""


def start_holder() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    line = proc.stdout.readline().strip()
    assert line, proc.stderr.read()
    return proc, line


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def biseo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


@pytest.mark.trust("single-instance")
def test_a_second_process_is_refused_while_the_first_runs_and_starts_after_a_kill_9():
    first, conversation = start_holder()
    try:
        with pytest.raises(InstanceLocked, match=rf"already running with this data \(pid {first.pid}\)"):
            Assistant(Settings(), builtin_plugins=())
        # The CLI says the same in one line and exits non-zero; nothing was answered or stored.
        refused = biseo("ask", "hello")
        assert refused.returncode == 1
        assert f"Biseo is already running with this data (pid {first.pid})" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        kill(first)  # kill -9: the OS drops the lock with the process, nothing stale is left
    app = Assistant(Settings(), builtin_plugins=())
    try:
        assert [c.id for c in app.store.list_conversations()] == [conversation]  # the first one's data is there
    finally:
        app.close()


@pytest.mark.trust("single-instance")
def test_the_next_start_after_a_kill_9_works_even_with_the_pid_left_in_the_lock_file():
    first, _ = start_holder()
    kill(first)
    lock_file = Path(os.environ["BISEO_HOME"]) / "data" / "biseo.lock"
    assert lock_file.read_text() == str(first.pid)  # the hint is stale; the kernel lock died with the process
    second, _ = start_holder()
    try:
        assert second.poll() is None and lock_file.read_text() == str(second.pid)
    finally:
        kill(second)


@pytest.mark.trust("single-instance")
def test_one_process_may_open_its_data_several_times_and_closing_the_last_frees_it(tmp_path):
    a = Assistant(Settings(), builtin_plugins=())
    b = Assistant(Settings(), builtin_plugins=())  # tests and the app's own rebuilds do this
    a.close()
    a.close()  # twice is harmless and gives up only a's share
    data = Path(os.environ["BISEO_HOME"]) / "data"
    probe = [sys.executable, "-c", "from assistant.instance_lock import InstanceLock\n"
             f"InstanceLock({str(data)!r}).acquire()"]
    held = subprocess.run(probe, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert held.returncode != 0 and f"pid {os.getpid()}" in held.stderr  # b still holds the data
    b.close()
    assert subprocess.run(probe, capture_output=True, text=True, cwd=REPO, timeout=60).returncode == 0
    # Other data folders are independent.
    other = InstanceLock(tmp_path / "other-data").acquire()
    assert other.held
    other.release()


@pytest.mark.trust("single-instance")
def test_the_training_process_runs_while_the_app_holds_the_data():
    """The app starts `biseo train` itself: the training process must not need the app's lock."""
    app = Assistant(Settings(), builtin_plugins=())
    try:
        # A dataset with nothing in it fails at once with its own message, after the settings, the personas,
        # the history and the feedback database were opened: not with the instance lock's refusal.
        proc = subprocess.run([sys.executable, "-m", "assistant.learning.train_job", "--from", "feedback"],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        assert "already running" not in proc.stdout + proc.stderr
        assert '"event": "error"' in proc.stdout and "InstanceLocked" not in proc.stdout
    finally:
        app.close()



@pytest.mark.trust("single-instance")
def test_the_desktop_app_shows_the_cores_message_when_the_data_is_taken(qtbot):
    """The app's own single-instance check missed the other process (a terminal `biseo chat`, say)."""
    import ui.app
    from ui.main_window import MainWindow
    from ui.services import Services

    ui.app.create_app()
    first, _ = start_holder()
    try:
        services = Services(warm_up=False)  # builds the real Assistant, as the app does
        window = MainWindow(services)
        qtbot.addWidget(window)
        with qtbot.waitSignal(services.failed, timeout=60_000) as failed:
            services.start()
        message = f"Biseo is already running with this data (pid {first.pid})"
        assert message in failed.args[0]
        assert message in window.model_label.text()  # in the status bar, and in the transcript as an error
        services.pool.waitForDone(5000)
    finally:
        kill(first)
