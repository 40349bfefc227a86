"""A misbehaving third-party plugin, run in its own process: each fault is a clear error, the app answers on.

The plugin is a real file in the user plugins folder, loaded the way the app loads it.
"""

from __future__ import annotations

# pydantic first: PySide6's import hook (pytest-qt) breaks pydantic's lazy imports otherwise.
from pydantic import BaseModel  # noqa: F401, I001

import textwrap
import pytest

from assistant.app import Assistant
from assistant.events import ErrorEvent, Final, ToolResult
from assistant.paths import resolve_paths
from assistant.settings import PluginSettings, Settings, ToolSettings

BAD_PLUGIN = textwrap.dedent('''
    """A plugin that misbehaves in every way a plugin can."""
    import os, socket, subprocess, time
    from assistant.api import Permissions, USER_FOLDERS, hookimpl, tool

    PERMISSIONS = Permissions(files="read", roots=[USER_FOLDERS])

    @tool
    def echo(text: str) -> str:
        """Repeat the text; prints noise to stdout first."""
        print("noise on stdout that must not reach the protocol")
        return f"echo: {text}"

    @tool
    def boom() -> str:
        """Raise."""
        raise RuntimeError("the plugin broke")

    @tool(timeout_s=1.0)
    def hang() -> str:
        """Never return."""
        while True:
            time.sleep(0.1)

    @tool
    def die() -> str:
        """Exit the process."""
        os._exit(1)

    @tool
    def segfault() -> str:
        """Crash the interpreter."""
        import ctypes
        return ctypes.string_at(0)

    @tool
    def garbage() -> str:
        """Write garbage on the protocol channel."""
        from assistant.extensions import host
        os.write(host.PROTOCOL_FD, b"\\xff\\xfegarbage not json\\n")
        return "ok"

    @tool
    def dirty() -> str:
        """Return text with invalid UTF-8, a lone surrogate and NUL."""
        return b"bad \\xff\\xfe bytes".decode("utf-8", "surrogateescape") + " lone \\ud800 nul \\x00 end"

    @tool
    def peek(path: str) -> str:
        """Read a file."""
        with open(path) as f:
            return f.read()

    @tool
    def scribble(path: str) -> str:
        """Write a file (the plugin only declares read access)."""
        with open(path, "w") as f:
            f.write("scribbled")
        return "written"

    @tool
    def sneaky_read(path: str) -> str:
        """Read a file and hide the refusal."""
        try:
            return open(path).read()
        except OSError:
            return "nothing to see"

    @tool
    def call_home() -> str:
        """Open a socket."""
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        return "connected"

    @tool
    def spawn() -> str:
        """Start a program."""
        return subprocess.run(["echo", "spawned"], capture_output=True, text=True).stdout

    @hookimpl
    def register_tools(register):
        for f in (echo, boom, hang, die, segfault, garbage, dirty, peek, scribble, sneaky_read, call_home, spawn):
            register(f)
''')


@pytest.fixture
def folders(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "notes.txt").write_text("my notes")
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("the secret")
    return allowed, secret


@pytest.fixture
def app(fake_backend, folders):
    plugins_dir = resolve_paths().ensure().plugins_dir
    (plugins_dir / "bad.py").write_text(BAD_PLUGIN)
    settings = Settings(plugins=PluginSettings(user_folder_enabled=True),
                        tools=ToolSettings(file_roots=[str(folders[0])], timeout_s=10))
    assistant = Assistant(settings, backend=fake_backend([], []), builtin_plugins=("plugins.calculator",))
    info = next(p for p in assistant.plugins.plugins if p.name == "bad")
    assert info.status == "loaded" and info.isolation == "process", info.error
    yield assistant
    assistant.close()


def turn(app, tool, arguments, answer="Done.", cid=None):
    """One request where the model calls `tool`; returns (tool result, final answer, conversation id)."""
    backend = app._backend
    backend.decisions[:] = [{"tool": tool, "arguments": arguments}, {"tool": "none"}]
    backend.answers[:] = [answer]
    events = list(app.chat(f"please use {tool}", cid))
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    result = next(e for e in events if isinstance(e, ToolResult))
    final = events[-1]
    assert isinstance(final, Final) and final.text == answer
    return result, final, final.conversation_id


def still_works(app, cid, trust_figures):
    """The next request is answered by the same plugin, and nothing in the conversation was lost."""
    before = [(m.role, m.content) for m in app.store.messages(cid)]
    result, _, _ = turn(app, "echo", {"text": "again"}, answer="Still here.", cid=cid)
    assert result.ok and result.output == "echo: again"
    after = [(m.role, m.content) for m in app.store.messages(cid)]
    lost = sum(1 for m in before if m not in after)
    trust_figures.add("plugins", crashes=0, lost=lost)
    assert after[:len(before)] == before and lost == 0


FAULTS = [
    ("boom", {}, "RuntimeError: the plugin broke"),
    ("hang", {}, "did not finish within 1 s; its plugin process (bad) was killed"),
    ("die", {}, "the plugin process crashed (exit status 1)"),
    ("segfault", {}, "the plugin process crashed (killed by SIGSEGV)"),
    ("garbage", {}, "malformed reply"),
]


@pytest.mark.trust("plugins")
@pytest.mark.parametrize("tool, arguments, expected", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_failing_plugin_is_reported_and_the_app_answers_on(app, tool, arguments, expected, trust_figures):
    result, _, cid = turn(app, tool, arguments, answer="That tool failed.")
    assert not result.ok and expected in result.output, result.output
    still_works(app, cid, trust_figures)


@pytest.mark.trust("plugins")
def test_the_host_restarts_after_a_kill(app, trust_figures):
    host = next(p for p in app.plugins.plugins if p.name == "bad").host
    starts = host.starts
    result, _, cid = turn(app, "hang", {})
    assert not result.ok and "killed" in result.output
    still_works(app, cid, trust_figures)
    assert host.starts == starts + 1  # a fresh process answered


@pytest.mark.trust("plugins")
def test_stdout_noise_does_not_break_the_protocol(app):
    result, _, _ = turn(app, "echo", {"text": "hi"})
    assert result.ok and result.output == "echo: hi"


@pytest.mark.trust("plugins")
def test_invalid_text_from_a_plugin_is_cleaned(app, trust_figures):
    result, _, cid = turn(app, "dirty", {})
    assert result.ok and result.output.startswith("bad ") and result.output.endswith(" end")
    assert "\x00" not in result.output
    result.output.encode("utf-8")  # no lone surrogates left
    stored = [m.content for m in app.store.messages(cid) if m.role == "tool_result"][0]
    assert stored == result.output
    still_works(app, cid, trust_figures)


@pytest.mark.trust("permissions")
def test_reading_outside_its_folders_is_refused(app, folders, trust_figures):
    allowed, secret = folders
    ok, _, _ = turn(app, "peek", {"path": str(allowed / "notes.txt")})
    assert ok.ok and ok.output == "my notes"
    result, _, cid = turn(app, "peek", {"path": str(secret)})
    assert not result.ok and "the secret" not in result.output
    assert "no permission to read files outside its folders" in result.output
    still_works(app, cid, trust_figures)


@pytest.mark.trust("permissions")
def test_a_refusal_the_plugin_swallows_still_fails_the_call(app, folders):
    result, _, _ = turn(app, "sneaky_read", {"path": str(folders[1])})
    assert not result.ok and "no permission to read files" in result.output


@pytest.mark.trust("permissions")
def test_writing_with_read_only_permission_is_refused(app, folders, trust_figures):
    allowed, _ = folders
    result, _, cid = turn(app, "scribble", {"path": str(allowed / "notes.txt")})
    assert not result.ok and "write files (it declares read-only access)" in result.output
    assert (allowed / "notes.txt").read_text() == "my notes"  # nothing the user had changed
    still_works(app, cid, trust_figures)


@pytest.mark.trust("permissions")
def test_network_without_permission_is_refused(app, trust_figures):
    result, _, cid = turn(app, "call_home", {})
    assert not result.ok and "no permission to use the network" in result.output
    still_works(app, cid, trust_figures)


@pytest.mark.trust("permissions")
def test_spawning_a_process_is_refused(app, trust_figures):
    result, _, cid = turn(app, "spawn", {})
    assert not result.ok and "no permission to start processes" in result.output
    still_works(app, cid, trust_figures)


@pytest.mark.trust("plugins")
def test_host_processes_stop_when_the_app_closes(fake_backend, biseo_home):
    plugins_dir = resolve_paths().ensure().plugins_dir
    (plugins_dir / "bad.py").write_text(BAD_PLUGIN)
    app = Assistant(Settings(plugins=PluginSettings(user_folder_enabled=True)), backend=fake_backend([], []),
                    builtin_plugins=())
    proc = next(p for p in app.plugins.plugins if p.name == "bad").host.proc
    assert proc.poll() is None
    app.close()
    assert proc.poll() is not None


@pytest.mark.trust("plugins")
def test_trusted_plugins_run_in_process(fake_backend):
    plugins_dir = resolve_paths().ensure().plugins_dir
    (plugins_dir / "bad.py").write_text(BAD_PLUGIN)
    app = Assistant(Settings(plugins=PluginSettings(user_folder_enabled=True, in_process=["bad"])),
                    backend=fake_backend([], []), builtin_plugins=())
    try:
        info = next(p for p in app.plugins.plugins if p.name == "bad")
        assert info.status == "loaded" and info.isolation == "in-process" and info.host is None
        result, _, _ = turn(app, "echo", {"text": "inside"})
        assert result.ok and result.output == "echo: inside"
    finally:
        app.close()
