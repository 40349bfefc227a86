"""Start a training run in its own process and read its progress (used by `biseo train` and the desktop app)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger("biseo.learning")


def train_command(*, adapter: str | None = None, source: str | None = None, docs: list[str] | None = None,
                  epochs: int | None = None, persona: str | None = None, activate: str | None = None,
                  limit: int | None = None, skip_eval: bool = False) -> list[str]:
    """The command line of a training run with these choices (None: the settings decide)."""
    cmd = [sys.executable, "-m", "assistant.learning.train_job"]
    for flag, value in (("--adapter", adapter), ("--from", source), ("--epochs", epochs),
                        ("--persona", persona), ("--activate", activate), ("--limit", limit)):
        if value is not None:
            cmd += [flag, str(value)]
    if docs:
        cmd += ["--docs", *[str(d) for d in docs]]
    if skip_eval:
        cmd.append("--skip-eval")
    return cmd


class TrainingRun:
    """A running `train_job` process: its JSON events, cancel (SIGTERM, then kill), and its exit code."""

    def __init__(self, command: list[str], *, env: dict[str, str] | None = None, log_file: Path | None = None):
        self.command = command
        self.log_file = log_file
        environ = dict(os.environ if env is None else env)
        environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        environ["PYTHONUNBUFFERED"] = "1"
        stderr = open(log_file, "ab") if log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                                            env=environ, start_new_session=True)
        finally:
            if log_file:
                stderr.close()
        self.last: dict[str, Any] | None = None
        self._cancelled = threading.Event()

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self) -> Iterator[dict[str, Any]]:
        """Each JSON line the run prints, as it comes; ends when the process closes its output."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                log.debug("training output: %s", line)
                continue
            if isinstance(event, dict) and "event" in event:
                self.last = event
                yield event

    def cancel(self, grace_s: float = 20.0) -> None:
        """Ask the run to stop (it removes its unfinished version); kill it if it does not within `grace_s`."""
        self._cancelled.set()
        if self.process.poll() is not None:
            return
        try:
            self.process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            return

        def reaper() -> None:
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()  # a killed run leaves only a partial folder the next run removes

        threading.Thread(target=reaper, name="biseo-train-reaper", daemon=True).start()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    def outcome(self) -> dict[str, Any]:
        """The final event (done/cancelled/error); a run that died without one becomes an error."""
        code = self.process.wait()
        if self.last and self.last.get("event") in ("done", "cancelled", "error"):
            return self.last
        if self.cancelled:
            return {"event": "cancelled", "message": "Training was cancelled; your adapters are as they were."}
        where = f" (details in {self.log_file})" if self.log_file else ""
        return {"event": "error", "message": f"the training process stopped unexpectedly (exit code {code}){where}; "
                                              "your adapters are as they were."}
