"""Screenshots of the desktop app on seeded data: `python scripts/screenshots.py [--out DIR] [--xvfb]`.

Builds the real main window (when ui.main_window exists) over an Assistant with a scripted backend and a
temporary BISEO_HOME seeded with a conversation (a calculator tool card and a document citation), memories,
an indexed folder with one unreadable file, feedback, answers waiting for review, two trained adapter versions
and an MCP server (mcp-server-time, one tool marked read-only); saves main-window.png, approval-dialog.png,
mcp-server-dialog.png and one PNG per panel. Runs offscreen by default; --xvfb renders under a real X server
(xvfb-run) instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class ScriptedBackend:
    """Router decisions and answers from lists, streamed word by word; no model is loaded."""

    def __init__(self, decisions: list[Any], answers: list[str], entropies: list[float] | None = None) -> None:
        from assistant.llm.base import BackendInfo, Usage

        self.decisions, self.answers = list(decisions), list(answers)
        self.entropies = list(entropies or [])  # how unsure each answer was (as llama.cpp measures it)
        self.last_uncertainty: dict[str, Any] | None = None
        self.info = BackendInfo(backend="scripted", model="scripted (screenshots)", context_length=4096)
        self.last_usage = Usage()

    def count_tokens(self, messages: list[dict[str, Any]], prefill: str = "") -> int:
        return sum(len(str(m.get("content", "")).split()) + 4 for m in messages)

    def stream(self, messages, *, prefill="", json_schema=None, max_tokens=512, temperature=0.2,
               cancel=None, purpose="chat") -> Iterator[str]:
        from assistant.llm.base import Usage

        self.last_uncertainty = None
        if purpose == "router":
            item = self.decisions.pop(0) if self.decisions else {"tool": "none"}
            pieces = [item if isinstance(item, str) else json.dumps(item)]
        else:
            text = self.answers.pop(0) if self.answers else "ok"
            pieces = [w + " " for w in text.split(" ")]
        self.last_usage = Usage(prompt_tokens=self.count_tokens(messages), completion_tokens=len(pieces))
        yield from pieces
        if purpose != "router" and json_schema is None and self.entropies:
            mean = self.entropies.pop(0)
            self.last_uncertainty = {"mean_entropy": mean, "max_entropy": round(mean * 2.7, 2),
                                     "tokens": len(pieces)}

    def close(self) -> None:
        pass


def seed(home: Path) -> tuple[Any, str]:
    """An Assistant over `home` holding the data every screenshot shows; returns it and the conversation id."""
    from assistant.app import Assistant
    from assistant.events import ApprovalRequested, Final
    from assistant.memory.store import Source
    from assistant.settings import load_settings

    folder = home / "Documents" / "Home"
    folder.mkdir(parents=True)
    (folder / "lease.md").write_text(
        "# Lease agreement\n\n## Rent\n\nThe monthly rent is 1850 euros, due on the first day of each month. "
        "The deposit is 3700 euros.\n\n## Notice\n\nEither party may end the lease with ninety days notice.\n")
    (folder / "garden.md").write_text("# Garden notes\n\nThe tomatoes were sown on March 12 in the greenhouse.\n")
    (folder / "scan.txt").write_bytes(bytes(range(256)) * 64)  # not text: indexing says why it was skipped

    backend = ScriptedBackend(
        decisions=[{"tool": "calculator", "arguments": {"expression": "1850 * 12"}}],
        answers=["Your monthly rent is **1,850 euros** [1], so over a year you pay **22,200 euros**."])
    # A plugin the user installed: it runs in its own process, with the permissions it declares.
    from assistant.paths import resolve_paths

    plugins = resolve_paths().plugins_dir
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "weather.py").write_text(
        "from assistant.api import Permissions, hookimpl, tool\n"
        "PERMISSIONS = Permissions(files='none', network=True, side_effects=False)\n\n"
        "@tool\ndef weather(city: str) -> str:\n    \"\"\"Tell today's weather in a city.\"\"\"\n"
        "    return f'sunny in {city}'\n\n"
        "@hookimpl\ndef register_tools(register):\n    register(weather)\n")
    seed_mcp(resolve_paths())
    app = Assistant(load_settings(plugins={"user_folder_enabled": True}), backend=backend,
                    builtin_plugins=("plugins.calculator", "plugins.clock", "plugins.files", "plugins.memory",
                                     "plugins.documents", "plugins.archives"))
    app.documents.add([folder])
    app.documents.sync()
    app.memory.add("My sister's birthday is May 3", Source("cli", detail="in the desktop app"))
    app.memory.add("I live in Busan", Source("cli", detail="in the desktop app"))
    app.memory.add("I prefer answers in metric units", Source("cli", detail="in the desktop app"))
    cid = app.new_conversation("Yearly rent")
    final = None
    for event in app.chat("How much rent do I pay in a year under my lease?", cid):
        if isinstance(event, ApprovalRequested):
            event.approve()
        if isinstance(event, Final):
            final = event
    if final is not None and not final.citations:
        print("note: the answer carries no citation (the lease passage was not found relevant)", file=sys.stderr)
    feedback = getattr(app, "feedback", None)
    if feedback is not None and final is not None:
        try:
            from ui.chat.feedback import correct, rate

            answer = [m for m in app.store.messages(cid) if m.role == "assistant"][-1]
            rate(app, cid, answer.id, 1)
            correct(app, cid, answer.id, "Also mention that the deposit is 3,700 euros.")
        except Exception as exc:  # noqa: BLE001 - screenshots of the rest are still worth having
            print(f"note: feedback not seeded ({exc})", file=sys.stderr)
    seed_review(app, backend)
    seed_adapters(app)
    return app, cid


def seed_mcp(paths: Any) -> None:
    """An MCP server in config.toml: mcp-server-time run by this Python, one of its tools marked read-only."""
    try:
        from assistant.mcp.config import add_server, set_read_only
    except ImportError:
        return
    add_server(paths, "time", command=sys.executable, args=["-m", "mcp_server_time", "--local-timezone", "UTC"])
    set_read_only(paths, "time", "convert_time", True)


REVIEW = [("What is my cat's name?", "I'm not sure, but it might be Max.", 1.84),
          ("When does my lease end?", "Your lease ends on **August 31**, with ninety days notice.", 0.93),
          ("Which day is the recycling collected?", "Recycling is probably collected on Tuesdays.", 1.21),
          ("Convert 30 degrees Celsius to Fahrenheit.", "30 °C is **86 °F**.", 0.18)]


def seed_review(app: Any, backend: ScriptedBackend) -> None:
    """A conversation whose answers carry how unsure the model was: the Review panel's queue."""
    cid = app.new_conversation("Quick questions")
    for question, answer, entropy in REVIEW:
        backend.answers.append(answer)
        backend.entropies = [entropy]
        for _event in app.chat(question, cid):
            pass


def seed_adapters(app: Any) -> None:
    """Two trained versions (dummy adapter files) with the figures a training run records; v2 in use."""
    registry = getattr(app, "adapters", None)
    if registry is None:
        return

    def side(perplexity: float, personal: int, sanity: int) -> dict[str, Any]:
        return {"perplexity": perplexity, "text_perplexity": None, "personal_accuracy": personal / 8,
                "personal_correct": personal, "personal_total": 8, "sanity_accuracy": sanity / 20,
                "sanity_correct": sanity, "sanity_total": 20,
                "answers": [{"set": "personal", "question": "Where do I live?", "expected": "Busan",
                             "answer": "You live in Busan." if personal > 3 else "I don't know where you live.",
                             "ok": personal > 3}]}

    def version(days_ago: float, train: int, before: tuple, after: tuple, verdict: str, reasons: list[str],
                seconds: float, first: float, last: float, agreement: float) -> None:
        number, partial = registry.reserve("personal")
        (partial / "adapter.gguf").write_bytes(b"GGUF")  # the screenshot never loads it
        registry.commit("personal", number, partial, {
            "created_at": time.time() - days_ago * 86400, "persona": None,
            "base_model": {"name": "Qwen2.5-Coder 0.5B Instruct (Q4_K_M)"},
            "data": {"train": train, "held_out": train // 4, "source": "feedback",
                     "by_source": {"correction": train // 2, "rating": train - train // 2 + train // 4},
                     "skipped": {"rated bad, no correction": 3}},
            "config": {"rank": 16, "alpha": 32.0, "epochs": 4},
            "training": {"device": "cpu", "precision": "bfloat16", "seconds": seconds, "examples": train,
                         "peak_memory_mb": 2860.0, "seconds_per_100_examples": seconds / train * 100,
                         "first_loss": first, "last_loss": last},
            "evaluation": {"verdict": verdict, "reasons": reasons, "before": side(*before), "after": side(*after)},
            "agreement": {"adapted": {"top1_agreement": agreement, "positions": 640, "first_token_agreement": 1.0},
                          "base": {"top1_agreement": 0.995, "positions": 640, "first_token_agreement": 1.0}}})

    version(3, 24, (9.41, 2, 18), (9.41, 2, 18), "same", ["no measure changed"], 212.0, 2.61, 2.02, 0.97)
    version(0.1, 48, (9.41, 2, 18), (5.87, 6, 18), "better",
            ["held-out reply perplexity 9.41 -> 5.87", "personal questions 25% -> 75%"], 418.0, 2.58, 0.91, 0.96)
    registry.use("personal/v2")


def wait(app: Any, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


def select_mcp_server(panel: Any, name: str) -> None:
    """Select an MCP server's row, so the Remove button shows as it does in use."""
    from PySide6.QtCore import Qt

    for item in panel.tree.findItems(name, Qt.MatchExactly, 0):
        panel.tree.setCurrentItem(item)


def save(widget: Any, path: Path) -> None:
    widget.grab().save(str(path))
    print(path)


def main_window(services: Any, cid: str) -> Any:
    """The app's main window showing the seeded conversation, or None when ui.main_window is not there."""
    try:
        from ui.main_window import MainWindow
    except ImportError as exc:
        print(f"note: no main window yet ({exc}); panels only", file=sys.stderr)
        return None
    window = MainWindow(services)
    for name in ("open_conversation", "show_conversation", "select_conversation"):
        opener = getattr(window, name, None) or getattr(getattr(window, "chat", None), name, None)
        if callable(opener):
            opener(cid)
            break
    return window


def run(out: Path) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="biseo-screens-"))
    os.environ["BISEO_HOME"] = str(home)
    out.mkdir(parents=True, exist_ok=True)
    assistant, cid = seed(home)

    from PySide6.QtWidgets import QApplication

    from assistant.events import ApprovalRequested
    from ui.panels import PANELS, load_panel
    from ui.services import Services

    app = QApplication.instance() or QApplication(sys.argv[:1])
    services = Services(warm_up=False)
    services.assistant = assistant
    services.current_conversation_id = cid
    try:
        window = main_window(services, cid)
        if window is not None:
            window.resize(1200, 780)
            window.show()
            # What the status bar says once the model has loaded (the scripted model never loads a file).
            services.model_status.emit("Model ready: Qwen2.5-Coder 0.5B Instruct (Q4_K_M)")
            wait(app, lambda: False, 1.5)  # let the conversation render
            save(window, out / "main-window.png")

        from ui.dialogs.approval import ApprovalDialog

        request = ApprovalRequested(call_id="c1", name="files", description="Read, list, move and delete files "
                                    "in your allowed folders.", side_effects=True,
                                    arguments={"action": "move", "path": "~/Documents/Home/scan.txt",
                                               "destination": "~/Documents/Archive/scan.txt"})
        dialog = ApprovalDialog(request)
        dialog.show()
        wait(app, lambda: False, 0.3)
        save(dialog, out / "approval-dialog.png")
        dialog.close()

        for title, spec in PANELS:
            panel = load_panel(spec)(services)
            panel.resize(900, 620)
            panel.show()
            panel.refresh()
            wait(app, lambda p=panel: not p.busy)
            if title == "Memory" and panel.list.topLevelItemCount():
                panel.list.setCurrentItem(panel.list.topLevelItem(0))
            if title == "Models":
                panel.select("qwen2.5-coder-0.5b-instruct")
            if title == "Adapters":
                panel.select("personal/v2")
            if title == "Plugins":
                select_mcp_server(panel, "time")
            wait(app, lambda p=panel: not p.busy)
            save(panel, out / f"panel-{title.lower()}.png")
            if title == "Plugins" and hasattr(panel, "add_mcp_server"):
                dialog = panel.add_mcp_server()
                dialog.name_edit.setText("fetch")
                dialog.command_edit.setText("uvx mcp-server-fetch --ignore-robots-txt")
                dialog.env_edit.setPlainText("HTTPS_PROXY=http://proxy.local:3128")
                dialog.show_error("")
                wait(app, lambda: False, 0.3)
                save(dialog, out / "mcp-server-dialog.png")
                dialog.reject()
            panel.close()
    finally:
        services.pool.waitForDone(5000)
        assistant.close()
        shutil.rmtree(home, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--xvfb", action="store_true", help="render under xvfb-run instead of offscreen")
    args = parser.parse_args(argv)
    if args.xvfb and not os.environ.get("BISEO_SCREENSHOTS_IN_XVFB"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            print("xvfb-run is not installed (apt-get install xvfb)", file=sys.stderr)
            return 2
        env = {**os.environ, "BISEO_SCREENSHOTS_IN_XVFB": "1", "QT_QPA_PLATFORM": "xcb"}
        cmd = [xvfb, "-a", "-s", "-screen 0 1400x900x24", sys.executable, __file__, "--out", str(args.out)]
        return subprocess.call(cmd, env=env)
    return run(args.out)


if __name__ == "__main__":
    sys.exit(main())
