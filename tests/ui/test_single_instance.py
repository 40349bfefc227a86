"""A second launch focuses the first window and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ui.single_instance import SingleInstance, server_name

REPO = Path(__file__).resolve().parents[2]


def test_the_name_depends_on_user_and_home():
    assert server_name("/a", "u") != server_name("/b", "u")
    assert server_name("/a", "u") != server_name("/a", "v")
    assert server_name("/a", "u") == server_name("/a", "u")


def test_a_second_instance_signals_the_first(qtbot, tmp_path):
    name = server_name(str(tmp_path), "tester")
    first = SingleInstance(name)
    assert first.listen()
    second = SingleInstance(name)
    with qtbot.waitSignal(first.activated, timeout=5000):
        assert second.signal_existing()
    first.close()
    assert not SingleInstance(name).signal_existing(200)  # nobody listens any more


def test_a_second_launch_of_the_app_exits_0_and_focuses_the_first(qtbot):
    first = SingleInstance()  # the running app, as main() sets it up (same user and BISEO_HOME)
    assert first.listen()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-m", "ui"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    with qtbot.waitSignal(first.activated, timeout=30_000):
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30_000)
    out, err = proc.communicate()
    first.close()
    assert proc.returncode == 0, err
    assert "already running" in out
