"""Layering rules: the core never imports Qt, and plugins use only the public plugin API."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def run_lint_imports(cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def test_import_contracts_are_kept():
    assert LINT_IMPORTS.is_file(), "import-linter is not installed in this environment"
    proc = run_lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "The core never imports Qt KEPT" in proc.stdout
    assert "Built-in plugins use only the public plugin API KEPT" in proc.stdout
    assert "The core never imports the desktop app KEPT" in proc.stdout


def test_import_contracts_catch_a_violation(tmp_path):
    """The same contracts on a tiny tree with a plugin that reaches into the core: lint-imports fails."""
    config = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = config[config.index("[tool.importlinter]"):]
    (tmp_path / "pyproject.toml").write_text(section, encoding="utf-8")
    (tmp_path / "assistant").mkdir()
    (tmp_path / "assistant" / "__init__.py").write_text("")
    (tmp_path / "assistant" / "api.py").write_text("")
    contracts = tomllib.loads(config)["tool"]["importlinter"]["contracts"]
    internal = {m for c in contracts for m in c["forbidden_modules"] if m.startswith("assistant.")}
    assert "assistant.llm" in internal
    for name in internal:  # every module a contract names must exist
        (tmp_path / "assistant" / (name.split(".", 1)[1] + ".py")).write_text("")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "__init__.py").write_text("")
    (tmp_path / "plugins" / "good.py").write_text("from assistant.api import *\n")
    (tmp_path / "plugins" / "bad.py").write_text("import assistant.llm\n")
    proc = run_lint_imports(tmp_path, extra_path=tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Built-in plugins use only the public plugin API BROKEN" in proc.stdout
    assert "plugins.bad" in proc.stdout


def assistant_imports(source: str, module: str) -> list[str]:
    """Every `assistant...` module a plugin source imports (statements and import_module calls)."""
    found: list[str] = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the plugins package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "assistant":  # `from assistant import llm` imports assistant.llm
                found += [f"assistant.{a.name}" for a in node.names]
            else:
                found.append(name)
        elif isinstance(node, ast.Call):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                found.append(str(node.args[0].value))
    return [name for name in found if name == "assistant" or name.startswith("assistant.")]


def test_every_builtin_plugin_imports_only_assistant_api():
    modules = sorted((REPO / "plugins").rglob("*.py"))
    assert len(modules) >= 4
    offenders = {}
    for path in modules:
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        bad = [m for m in assistant_imports(path.read_text(encoding="utf-8"), module) if m != "assistant.api"]
        if bad:
            offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}


def test_the_import_check_itself_sees_violations():
    bad = textwrap.dedent("""
        import assistant
        from assistant import llm
        from assistant.api import tool
        import assistant.tools.registry as reg
        import importlib
        importlib.import_module("assistant.history.store")
    """)
    found = assistant_imports(bad, "plugins.sneaky")
    assert [m for m in found if m != "assistant.api"] == [
        "assistant", "assistant.llm", "assistant.tools.registry", "assistant.history.store"]
