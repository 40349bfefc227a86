"""Plugin host processes and declared permissions: loading, load failures, the protocol and `biseo plugins list`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.api import Permissions, ToolContext, ToolDefinitionError, USER_FOLDERS, hookimpl, tool
from assistant.extensions.manager import PluginManager
from assistant.tools.executor import PreparedCall, ToolExecutor
from assistant.testing import approve

REPO = Path(__file__).resolve().parents[2]

GOOD = '''
from assistant.api import Permissions, hookimpl, tool

PERMISSIONS = Permissions(files="write", roots=["{root}"], side_effects=True)

@tool(files="write", side_effects=lambda args: args.get("mode") == "write")
def note(text: str, mode: str = "read", *, ctx) -> str:
    """Read or write the note file."""
    path = ctx.resolve_path("note.txt", write=mode == "write")
    if mode == "write":
        path.write_text(text)
    ctx.cite(str(path), line=1)
    return path.read_text() if path.exists() else "(empty)"

@hookimpl
def register_tools(register):
    register(note)
'''


def load(folder: Path, files: dict[str, str], **kwargs) -> PluginManager:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    manager = PluginManager()
    manager.load_all(builtins=(), entry_points=False, user_dir=folder, **kwargs)
    return manager


def info(manager: PluginManager, name: str):
    return next(p for p in manager.plugins if p.name == name)


def test_an_out_of_process_tool_works_like_an_in_process_one(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    manager = load(tmp_path / "plugins", {"good.py": GOOD.format(root=root)})
    try:
        plugin = info(manager, "good")
        assert plugin.status == "loaded" and plugin.isolation == "process", plugin.error
        assert plugin.permissions == {"files": "write", "roots": [str(root)], "network": False,
                                      "side_effects": True}
        spec = manager.registry.get("note")
        assert spec.schema["properties"]["text"]["type"] == "string"  # the router sees the real schema
        executor = ToolExecutor(manager.registry, timeout_s=10)
        assert executor.prepare("note", {"text": 3}).ok is False  # validated in the parent
        read = executor.prepare("note", {"text": "x"})
        write = executor.prepare("note", {"text": "hello", "mode": "write"})
        assert isinstance(read, PreparedCall) and isinstance(write, PreparedCall)
        assert not read.needs_approval and write.needs_approval  # asked of the plugin's own function
        ctx = ToolContext("note", "c1", roots=[tmp_path / "user-folder"])
        out = executor.run(write, ctx, approve(write, "c1"))
        assert out.ok and out.output == "hello", out.output
        assert (root / "note.txt").read_text() == "hello"  # its declared root, not the user's folders
        assert ctx.citations == [{"n": 1, "source": str(root / "note.txt"), "line": 1}]
    finally:
        manager.close()


def test_load_failures_are_listed_with_their_reason(tmp_path):
    manager = load(tmp_path / "plugins", {
        "broken.py": "import no_such_module_here\n",
        "slow.py": "import time\nwhile True:\n    time.sleep(0.1)\n",
        "exits.py": "import os\nos._exit(3)\n",
        "fine.py": GOOD.format(root=tmp_path),
    }, load_timeout_s=2)
    try:
        assert info(manager, "broken").status == "error"
        assert "ModuleNotFoundError: No module named 'no_such_module_here'" in info(manager, "broken").error
        assert info(manager, "slow").status == "error"
        assert "did not finish loading within 2 s" in info(manager, "slow").error
        assert info(manager, "exits").status == "error" and "exit status 3" in info(manager, "exits").error
        assert info(manager, "fine").status == "loaded"
        assert manager.registry.names() == ["note"]
    finally:
        manager.close()


def test_a_tool_that_declares_more_than_its_plugin_is_not_registered(tmp_path):
    manager = PluginManager()

    @tool(network=True)
    def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    @tool(files="read")
    def peek(path: str) -> str:
        """Read a file."""
        return path

    class Plugin:
        PERMISSIONS = Permissions(files="read")

        @hookimpl
        def register_tools(self, register):
            register(fetch)
            register(peek)

    plugin = manager.load_module("narrow", Plugin())
    assert plugin.tools == ["peek"]
    assert "tool 'fetch' declares more than its plugin's PERMISSIONS: network" in plugin.error


def test_a_plugin_without_permissions_gets_what_its_tools_declare():
    from plugins import calculator, files, web_search

    manager = PluginManager()
    for module in (calculator, files, web_search):
        manager.load_module(module.__name__.rsplit(".", 1)[-1], module)
    perms = {p.name: p.permissions for p in manager.plugins}
    assert perms["calculator"] == {"files": "none", "roots": [USER_FOLDERS], "network": False,
                                   "side_effects": False}
    assert perms["files"]["files"] == "write" and perms["files"]["side_effects"] is True
    assert perms["web_search"]["network"] is True


def test_roots_and_access_come_from_the_declaration(tmp_path):
    @tool(files="read")
    def peek(path: str, *, ctx) -> str:
        """Read a file."""
        return ctx.resolve_path(path).read_text()

    @tool
    def count(text: str, *, ctx) -> str:
        """Count letters."""
        return str(len(ctx.roots))

    @tool(files="read")
    def scribble(path: str, *, ctx) -> str:
        """Try to write."""
        ctx.resolve_path(path, write=True).write_text("x")
        return "written"

    user = tmp_path / "user"
    user.mkdir()
    (user / "a.txt").write_text("A")
    registry = PluginManager()
    registry.load_module("reader", type("M", (), {"register_tools": hookimpl(
        lambda register: [register(f) for f in (peek, count, scribble)])}))
    executor = ToolExecutor(registry.registry)

    def run(name, **args):
        return executor.run(executor.prepare(name, args), ToolContext(name, "c", roots=[user]))

    assert run("peek", path="a.txt").output == "A"
    assert run("count", text="x").output == "0"  # declared no files: no folders at all
    out = run("scribble", path="a.txt")
    assert not out.ok and "may only read files" in out.output and (user / "a.txt").read_text() == "A"


def test_permissions_must_be_declared_properly():
    with pytest.raises(ToolDefinitionError):
        Permissions(files="everything")
    manager = PluginManager()
    bad = manager.load_module("bad", type("M", (), {"PERMISSIONS": {"network": True}}))
    assert bad.status == "error" and "PERMISSIONS must be" in bad.error


def test_plugins_list_shows_permissions_and_isolation(tmp_path):
    home = Path(os.environ["BISEO_HOME"])
    folder = home / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.py").write_text(GOOD.format(root=tmp_path))
    (folder / "greedy.py").write_text(textwrap.dedent('''
        from assistant.api import Permissions, hookimpl, tool
        PERMISSIONS = Permissions()
        @tool(network=True)
        def fetch(url: str) -> str:
            """Fetch a page."""
            return url
        @hookimpl
        def register_tools(register):
            register(fetch)
    '''))
    env = {**os.environ, "BISEO_PLUGINS__USER_FOLDER_ENABLED": "true"}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "plugins", "list", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["good"]["runs"] == "own process" and rows["calculator"]["runs"] == "in-process"
    assert rows["good"]["permissions"]["roots"] == [str(tmp_path)]
    assert rows["greedy"]["status"] == "error" and "declares more than its plugin" in rows["greedy"]["error"]
    text = subprocess.run([sys.executable, "-m", "assistant.cli", "plugins", "list"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120).stdout
    assert f"good  [loaded]  from {folder / 'good.py'}  (own process)" in text
    assert f"permissions: read/write files in {tmp_path}, no network, changes things (asks first)" in text


def test_plugin_noise_on_stdout_goes_to_stderr(tmp_path):
    manager = load(tmp_path / "plugins", {"noisy.py": '''
        import sys
        print("import-time noise")
        sys.stdout.write("more noise\\n")
        from assistant.api import hookimpl, tool
        @tool
        def hello() -> str:
            """Say hello."""
            print("call-time noise")
            return "hello"
        @hookimpl
        def register_tools(register):
            register(hello)
    '''})
    try:
        assert info(manager, "noisy").status == "loaded", info(manager, "noisy").error
        executor = ToolExecutor(manager.registry)
        for _ in range(3):
            assert executor.run(executor.prepare("hello", {}), ToolContext("hello", "c")).output == "hello"
    finally:
        manager.close()


def test_the_frozen_app_starts_plugin_hosts_as_itself(monkeypatch):
    import sys

    from assistant.extensions.remote import host_command

    assert host_command()[:2] == [sys.executable, "-P"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert host_command() == [sys.executable, "--plugin-host"]  # packaging/entry.py runs the host for it
