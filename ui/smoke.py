"""Smoke test of the (frozen) desktop app: show the real window, ask one question through the chat, check the answer."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

QUESTION = "What is 12345 * 6789?"
EXPECTED = "83810205"


def _emit(result: dict, out: str | None) -> None:
    """One JSON line on stdout (absent in a windowed Windows build) and, when asked, in a file."""
    line = json.dumps(result, ensure_ascii=False)
    if sys.stdout is not None:
        print(line, flush=True)
    if out:
        Path(out).write_text(line + "\n", encoding="utf-8")


def run(question: str = QUESTION, expected: str = EXPECTED, timeout_s: float = 900.0,
        out: str | None = None, services=None) -> int:
    """Open the main window as ui.app does, ask `question` in the chat once the model is ready; 0 if it answered.

    `services` replaces the real ui.services.Services (tests pass one over a fake backend).
    """
    t0 = time.perf_counter()
    # Offscreen unless the caller chose a platform: a smoke test needs no display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QTimer

    from ui.app import VisibleWatch, create_app
    from ui.main_window import MainWindow
    from ui.services import Services

    app = create_app()
    services = services if services is not None else Services()
    window = MainWindow(services)
    result: dict = {"visible_s": None, "ready_s": None, "answer_s": None, "answer": None, "ok": False,
                    "error": None}
    state: dict = {"turn": None, "final": None, "asked": False, "done": False}

    def finish(error: str | None = None) -> None:
        if state["done"]:
            return
        state["done"] = True
        final, turn = state["final"], state["turn"]
        answer = final.text if final is not None else (turn.answer.text if turn and turn.answer else None)
        result.update(answer=answer, error=error,
                      ok=error is None and final is not None and expected in (answer or "").replace(",", ""))
        if state["asked"]:
            result["answer_s"] = round(time.perf_counter() - t0, 3)
        app.quit()

    def on_event(event) -> None:
        from assistant.events import ErrorEvent, Final

        if isinstance(event, Final):
            state["final"] = event
        elif isinstance(event, ErrorEvent):
            result["error"] = f"{event.kind}: {event.message}"

    def ask() -> None:
        # The same path as typing in the composer and pressing Enter.
        result["ready_s"] = round(time.perf_counter() - t0, 3)
        chat = window.chat
        chat.send(question)
        turn = chat.turn
        if turn is None or turn.worker is None:
            finish("the chat did not start a turn")
            return
        state.update(turn=turn, asked=True)
        turn.worker.event.connect(on_event)
        chat.turn_finished.connect(lambda _cid: finish(result["error"] if state["final"] is None else None))

    def on_status(text: str) -> None:
        if state["asked"] or state["done"]:
            return
        if text.startswith("Model ready"):
            QTimer.singleShot(0, ask)
        elif text.startswith("Model failed") or text.startswith("Biseo could not start"):
            finish(text)

    def visible() -> None:
        result["visible_s"] = round(time.perf_counter() - t0, 3)
        services.model_status.connect(on_status)
        services.start()  # as ui.app does once the window is on screen

    watch = VisibleWatch(window, t0, visible)
    window.show()
    watch.attach()
    handle = window.windowHandle()
    if handle is not None and handle.isExposed() and not watch.done:
        watch.eventFilter(handle, QEvent(QEvent.Expose))
    QTimer.singleShot(int(timeout_s * 1000), lambda: finish(f"no answer within {timeout_s:.0f} s"))
    try:
        app.exec()
    finally:
        result["visible"] = bool(window.isVisible()) or result["visible_s"] is not None
        services.shutdown()
    _emit(result, out)
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="biseo --smoke-test", description=__doc__)
    parser.add_argument("--smoke-out", help="also write the JSON result to this file")
    parser.add_argument("--smoke-timeout", type=float, default=900.0, help="seconds to wait for the answer")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--expected", default=EXPECTED)
    args, _ = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    return run(args.question, args.expected, args.smoke_timeout, args.smoke_out)


if __name__ == "__main__":
    sys.exit(main())
