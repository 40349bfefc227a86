"""Third-party plugins: a pip-installed entry-point plugin end to end, and broken plugins reported, not fatal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.extensions.manager import PluginManager

REPO = Path(__file__).resolve().parents[2]
DICE = REPO / "examples" / "biseo-plugin-dice"


@pytest.fixture(scope="module")
def dice_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dice example installed as its own package into a separate folder (not the venv)."""
    work = tmp_path_factory.mktemp("dice")
    source = work / "src"
    # Build from a copy, so the build leaves no egg-info or build folder in the repository.
    shutil.copytree(DICE, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    target = work / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "biseo_plugin_dice.py").is_file()
    return target


def biseo(*args: str, site: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


@pytest.mark.slow
def test_installed_plugin_is_listed_with_its_tool(dice_site):
    proc = biseo("plugins", "list", "--json", site=dice_site)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    dice = rows["dice"]
    assert dice["status"] == "loaded", dice["error"]
    assert dice["source"] == "entry point (biseo-plugin-dice)"
    assert [t["name"] for t in dice["tools"]] == ["roll_dice"]
    assert dice["tools"][0]["description"] == "Roll one or more dice and tell each result and the total."
    assert dice["tools"][0]["enabled"] is True
    # The built-ins still load next to it.
    assert {"calculator", "clock", "files", "web_search"} <= {n for n, r in rows.items() if r["status"] == "loaded"}


@pytest.mark.slow
def test_the_plugin_is_not_loaded_without_the_package(dice_site):
    proc = biseo("plugins", "list", "--json", site=dice_site.parent / "elsewhere")
    assert proc.returncode == 0, proc.stderr
    assert "dice" not in {row["name"] for row in json.loads(proc.stdout)}


@pytest.mark.slow
def test_the_model_rolls_the_installed_dice(dice_site, qwen_gguf):
    proc = biseo("ask", "--json", "Roll a 20-sided die", site=dice_site)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    calls = [e for e in events if e["type"] == "tool_call"]
    results = [e for e in events if e["type"] == "tool_result"]
    assert calls and calls[0]["name"] == "roll_dice", events
    assert calls[0]["arguments"].get("sides", 6) == 20
    assert results and results[0]["ok"] and results[0]["output"].startswith("rolled a d20: ")
    rolled = int(results[0]["output"].rsplit(" ", 1)[-1])
    assert 1 <= rolled <= 20
    final = events[-1]
    assert final["type"] == "final" and final["text"].strip()


# Broken plugins, from the user plugins folder (the same loader path as entry points: an import per plugin).

PLUGINS = {
    "a_good.py": '''
        from assistant.api import hookimpl, tool

        @tool
        def greet(name: str) -> str:
            """Greet someone by name."""
            return f"hello {name}"

        @hookimpl
        def register_tools(register):
            register(greet)
    ''',
    "b_register_raises.py": '''
        from assistant.api import hookimpl

        @hookimpl
        def register_tools(register):
            raise RuntimeError("database not configured")
    ''',
    "c_no_docstring.py": '''
        from assistant.api import hookimpl

        def shout(text: str) -> str:
            return text.upper()

        @hookimpl
        def register_tools(register):
            register(shout)
    ''',
    "d_duplicate.py": '''
        from assistant.api import hookimpl, tool

        @tool
        def greet(name: str) -> str:
            """Greet someone, again."""
            return name

        @hookimpl
        def register_tools(register):
            register(greet)
    ''',
    "e_exits.py": '''
        import sys
        sys.exit(3)
    ''',
    "f_half_good.py": '''
        from assistant.api import hookimpl, tool

        @tool
        def wave() -> str:
            """Wave at the user."""
            return "*waves*"

        def nameless(x: int) -> int:
            return x

        @hookimpl
        def register_tools(register):
            register(wave)
            register(nameless)
    ''',
    "g_import_error.py": '''
        import biseo_no_such_dependency_xyz
    ''',
    "h_last_good.py": '''
        from assistant.api import hookimpl, tool

        @tool
        def farewell() -> str:
            """Say goodbye."""
            return "bye"

        @hookimpl
        def register_tools(register):
            register(farewell)
    ''',
}


def test_broken_plugins_are_reported_while_good_ones_load(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name, text in PLUGINS.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    manager = PluginManager()
    manager.load_all(builtins=(), entry_points=False, user_dir=folder)  # must not raise, nor exit
    info = {p.name: p for p in manager.plugins}
    assert list(info) == [Path(n).stem for n in PLUGINS]

    assert info["a_good"].status == "loaded" and info["a_good"].tools == ["greet"] and not info["a_good"].error
    assert info["h_last_good"].status == "loaded" and info["h_last_good"].tools == ["farewell"]

    bad = info["b_register_raises"]
    assert bad.status == "error" and bad.tools == []
    assert bad.error.startswith("register_tools failed: RuntimeError: database not configured")
    assert "b_register_raises.py:" in bad.error  # where it happened

    bad = info["c_no_docstring"]
    assert bad.status == "error" and "shout" in bad.error and "needs a docstring" in bad.error

    bad = info["d_duplicate"]
    assert bad.status == "error"
    assert "tool 'greet' is already registered by plugin 'a_good'" in bad.error

    bad = info["e_exits"]
    assert bad.status == "error" and bad.error.startswith("SystemExit: 3") and "e_exits.py" in bad.error

    half = info["f_half_good"]
    assert half.status == "loaded" and half.tools == ["wave"]
    assert "nameless" in half.error and "docstring" in half.error

    bad = info["g_import_error"]
    assert bad.status == "error" and "ModuleNotFoundError" in bad.error and "biseo_no_such_dependency_xyz" in bad.error

    # Only the good tools are offered, and the first "greet" is the one that stays.
    assert manager.registry.names() == ["greet", "wave", "farewell"]
    greet = manager.registry.get("greet")
    assert greet.plugin == "a_good" and greet.description == "Greet someone by name."
    assert "biseo_user_plugin_e_exits" not in sys.modules  # a failed import leaves nothing half-loaded


def test_a_disabled_plugin_is_not_even_imported(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "e_exits.py").write_text("import sys\nsys.exit(3)\n")
    manager = PluginManager()
    manager.load_all(builtins=(), entry_points=False, user_dir=folder, disabled=["e_exits"])
    assert [(p.name, p.status, p.error) for p in manager.plugins] == [("e_exits", "disabled", "")]
