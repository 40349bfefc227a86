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


def component_checks(assistant) -> dict[str, str]:
    """Load what the app loads later (memory search, speech models, time zones): "ok" or the error, each."""
    checks: dict[str, str] = {}

    def check(name, fn) -> None:
        try:
            fn()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised: every check runs
            checks[name] = f"{type(exc).__name__}: {exc}"

    def memory() -> None:
        # Embedding model (onnxruntime, tokenizers, the vocabulary) and the Chroma index (Rust bindings, SQL).
        # A throwaway memory folder: a smoke test run in someone's real home must not add to their memories.
        import tempfile

        from assistant.memory.service import MemoryService

        with tempfile.TemporaryDirectory(prefix="biseo-smoke-memory-") as folder:
            service = MemoryService(Path(folder), assistant.settings, paths=assistant.paths)
            try:
                service.add("My favourite colour is teal.")
                if not service.search("favourite colour"):
                    raise RuntimeError("memory search found nothing")
            finally:
                service.close()

    def speech_to_text() -> None:
        import numpy as np

        from assistant.voice.stt import Transcriber

        model = Transcriber(assistant.settings.voice, assistant.paths).load()._model
        list(model.transcribe(np.zeros(16000, dtype=np.float32), language="en")[0])

    def voice_activity() -> None:
        import numpy as np

        from assistant.voice.vad import StreamingVad

        StreamingVad().frame_probability(np.zeros(512, dtype=np.float32))

    def time_zones() -> None:
        import zoneinfo

        zoneinfo.ZoneInfo("Asia/Seoul")

    for name, fn in (("memory", memory), ("speech_to_text", speech_to_text), ("voice_activity", voice_activity),
                     ("time_zones", time_zones)):
        check(name, fn)
    return checks


def _emit(result: dict, out: str | None) -> None:
    """One JSON line on stdout (absent in a windowed Windows build) and, when asked, in a file."""
    line = json.dumps(result, ensure_ascii=False)
    if sys.stdout is not None:
        print(line, flush=True)
    if out:
        Path(out).write_text(line + "\n", encoding="utf-8")


def run(question: str = QUESTION, expected: str = EXPECTED, timeout_s: float = 900.0,
        out: str | None = None, services=None, checks: bool = True) -> int:
    """Open the main window as ui.app does, ask `question` in the chat once the model is ready; 0 if it answered.

    `services` replaces the real ui.services.Services (tests pass one over a fake backend); `checks` also
    loads the memory, speech and time-zone parts after the answer (component_checks).
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
                    "error": None, "visible": False}
    state: dict = {"turn": None, "final": None, "asked": False, "done": False}

    def finish(error: str | None = None) -> None:
        if state["done"]:
            return
        state["done"] = True
        final, turn = state["final"], state["turn"]
        answer = final.text if final is not None else (turn.answer.text if turn and turn.answer else None)
        result.update(answer=answer, error=error,
                      ok=error is None and final is not None and result["visible"]
                      and expected in (answer or "").replace(",", ""))
        if state["asked"]:
            result["answer_s"] = round(time.perf_counter() - t0, 3)
        if result["ok"] and checks and services.assistant is not None:
            services.run_in_background(component_checks, services.assistant, on_done=checked,
                                       on_error=lambda exc: checked({"checks": f"{type(exc).__name__}: {exc}"}))
        else:
            app.quit()

    def checked(outcome: dict) -> None:
        result["checks"] = outcome
        result["ok"] = result["ok"] and all(value == "ok" for value in outcome.values())
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
        result["visible"] = window.isVisible()
        services.model_status.connect(on_status)
        services.start()  # as ui.app does once the window is on screen

    watch = VisibleWatch(window, t0, visible)
    window.show()
    watch.attach()
    handle = window.windowHandle()
    if handle is not None and handle.isExposed() and not watch.done:
        watch.eventFilter(handle, QEvent(QEvent.Expose))

    def no_expose() -> None:  # as ui.app: some platforms never send an expose event
        if not watch.done:
            watch.done = True
            visible()

    timers = [_one_shot(3000, no_expose)]

    def timed_out() -> None:
        if not state["done"]:
            finish(f"no answer within {timeout_s:.0f} s")
        else:  # the answer came, the component checks did not finish
            result.update(checks=result.get("checks") or {"all": f"not done within {timeout_s:.0f} s"}, ok=False)
            app.quit()

    timers.append(_one_shot(int(timeout_s * 1000), timed_out))
    try:
        app.exec()
    finally:
        # A timer left pending would call app.quit() later, ending whatever event loop runs then (in a test
        # session: the next test's waits).
        for timer in timers:
            timer.stop()
        services.shutdown()
    _emit(result, out)
    return 0 if result["ok"] else 1


def _one_shot(ms: int, slot):
    from PySide6.QtCore import QTimer  # imported late, as everywhere in this module: the core loads first

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(slot)
    timer.start(ms)
    return timer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="biseo --smoke-test", description=__doc__)
    parser.add_argument("--smoke-out", help="also write the JSON result to this file")
    parser.add_argument("--smoke-timeout", type=float, default=900.0, help="seconds to wait for the answer")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--expected", default=EXPECTED)
    parser.add_argument("--no-checks", action="store_true", help="only the chat answer, no component checks")
    args, _ = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    return run(args.question, args.expected, args.smoke_timeout, args.smoke_out, checks=not args.no_checks)


if __name__ == "__main__":
    sys.exit(main())
