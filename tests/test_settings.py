"""Settings: defaults < config.toml < BISEO_* environment, with clear errors and atomic saves."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

import assistant.settings as settings_module
from assistant.paths import resolve_paths
from assistant.settings import Settings, SettingsError, load_settings, set_config_value


@pytest.fixture
def paths():
    return resolve_paths().ensure()


def write_config(paths, text: str) -> Path:
    paths.config_file.write_text(text, encoding="utf-8")
    return paths.config_file


def test_defaults_without_a_config_file(paths):
    assert not paths.config_file.exists()
    s = load_settings(paths)
    assert s.llm.backend == "llama-cpp"
    assert s.llm.model == "qwen2.5-coder-0.5b-instruct"
    assert s.llm.n_ctx == 4096
    assert s.llm.n_gpu_layers == "auto"
    assert s.tools.enabled and s.tools.max_steps == 4
    assert s.tools.file_roots == ["~/Documents"]
    assert s.plugins.user_folder_enabled is False
    assert s.chat.assistant_name == "Biseo"


def test_config_file_overrides_defaults_and_keeps_the_rest(paths):
    write_config(paths, '[llm]\nn_ctx = 8192\nmodel = "/models/mine.gguf"\n\n[tools]\nmax_steps = 2\n'
                        'file_roots = ["/data/notes"]\n')
    s = load_settings(paths)
    assert s.llm.n_ctx == 8192 and s.llm.model == "/models/mine.gguf"
    assert s.tools.max_steps == 2 and s.tools.file_roots == ["/data/notes"]
    assert s.llm.temperature == 0.2 and s.tools.timeout_s == 30.0  # untouched defaults stay


def test_environment_overrides_the_config_file(paths, monkeypatch):
    write_config(paths, '[llm]\nn_ctx = 8192\nmodel = "from-file"\n[tools]\nfile_roots = ["/file"]\n')
    monkeypatch.setenv("BISEO_LLM__N_CTX", "2048")
    monkeypatch.setenv("BISEO_TOOLS__FILE_ROOTS", '["/x"]')
    monkeypatch.setenv("BISEO_PLUGINS__USER_FOLDER_ENABLED", "true")
    s = load_settings(paths)
    assert s.llm.n_ctx == 2048  # env wins over the file
    assert s.llm.model == "from-file"  # a sibling key from the file survives the nested env override
    assert s.tools.file_roots == ["/x"]
    assert s.plugins.user_folder_enabled is True


def test_explicit_overrides_win_over_everything(paths, monkeypatch):
    write_config(paths, '[llm]\nbackend = "llama-cpp"\n')
    monkeypatch.setenv("BISEO_LLM__BACKEND", "llama-cpp")
    s = load_settings(paths, llm={"backend": "openai", "server_url": "http://127.0.0.1:1/v1"})
    assert s.llm.backend == "openai" and s.llm.server_url == "http://127.0.0.1:1/v1"


def test_biseo_home_puts_every_folder_under_one_root(tmp_path, monkeypatch):
    monkeypatch.delenv("BISEO_MODELS_DIR")
    home = tmp_path / "portable"
    p = resolve_paths({"BISEO_HOME": str(home)})
    folders = [p.config_dir, p.data_dir, p.cache_dir, p.models_dir, p.plugins_dir, p.logs_dir]
    assert all(f.parent == home.resolve() for f in folders), folders
    assert len(set(folders)) == len(folders)
    assert p.config_file == home.resolve() / "config" / "config.toml"
    assert p.history_db.parent == p.data_dir
    p.ensure()
    assert all(f.is_dir() for f in folders)
    # A shared models folder may be named on its own.
    shared = tmp_path / "shared-models"
    assert resolve_paths({"BISEO_HOME": str(home), "BISEO_MODELS_DIR": str(shared)}).models_dir == shared.resolve()


def test_biseo_home_config_file_is_the_one_read(tmp_path, monkeypatch):
    home = tmp_path / "h"
    monkeypatch.setenv("BISEO_HOME", str(home))
    p = resolve_paths().ensure()
    write_config(p, "[chat]\nassistant_name = \"Jarvis\"\n")
    assert load_settings().chat.assistant_name == "Jarvis"


def _fields_without_description(model: type[BaseModel], prefix: str = "") -> list[str]:
    missing = []
    for name, info in model.model_fields.items():
        if not (info.description or "").strip():
            missing.append(prefix + name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            missing += _fields_without_description(annotation, prefix + name + ".")
    return missing


def test_every_setting_is_documented():
    assert _fields_without_description(Settings) == []
    # The walk really reaches nested settings.
    assert "n_ctx" in Settings.model_fields["llm"].annotation.model_fields


def test_invalid_toml_names_the_file(paths):
    path = write_config(paths, "[llm\nn_ctx = 8192\n")
    with pytest.raises(SettingsError) as err:
        load_settings(paths)
    assert str(path) in str(err.value) and "not valid TOML" in str(err.value)


def test_invalid_value_names_the_file_and_the_setting(paths):
    path = write_config(paths, "[llm]\nn_ctx = 100\n")
    with pytest.raises(SettingsError) as err:
        load_settings(paths)
    assert str(path) in str(err.value) and "llm.n_ctx" in str(err.value)


def test_invalid_environment_value_is_a_settings_error(paths, monkeypatch):
    monkeypatch.setenv("BISEO_LLM__BACKEND", "magic")
    with pytest.raises(SettingsError, match="llm.backend"):
        load_settings(paths)


def test_a_failed_load_does_not_leak_the_config_file_into_later_loads(paths, tmp_path):
    write_config(paths, "[llm]\nn_ctx = 100\n")
    with pytest.raises(SettingsError):
        load_settings(paths)
    other = resolve_paths({"BISEO_HOME": str(tmp_path / "other")}).ensure()
    assert load_settings(other).llm.n_ctx == 4096


def test_set_config_value_keeps_other_keys(paths):
    write_config(paths, '[llm]\nn_ctx = 8192\n\n[tools]\nfile_roots = ["/a", "/b"]\n\n[chat]\nassistant_name = "Bee"\n')
    set_config_value(paths, "llm.model", "/models/new.gguf")
    set_config_value(paths, "web.max_results", 3)
    data = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
    assert data == {"llm": {"n_ctx": 8192, "model": "/models/new.gguf"},
                    "tools": {"file_roots": ["/a", "/b"]}, "chat": {"assistant_name": "Bee"},
                    "web": {"max_results": 3}}
    s = load_settings(paths)
    assert (s.llm.model, s.llm.n_ctx, s.web.max_results) == ("/models/new.gguf", 8192, 3)


def test_set_config_value_creates_the_file(tmp_path):
    p = resolve_paths({"BISEO_HOME": str(tmp_path / "fresh")})
    set_config_value(p, "plugins.user_folder_enabled", True)
    assert tomllib.loads(p.config_file.read_text()) == {"plugins": {"user_folder_enabled": True}}


def test_set_config_value_is_atomic(paths, monkeypatch):
    original = '[llm]\nn_ctx = 8192\nmodel = "old"\n'
    write_config(paths, original)

    real_replace = os.replace

    def crash(src, dst):
        raise OSError("disk pulled out")

    monkeypatch.setattr(settings_module.os, "replace", crash)
    with pytest.raises(OSError):
        set_config_value(paths, "llm.model", "new")
    # The crash hit after the new text was written elsewhere: the real file is untouched, never half-written.
    assert paths.config_file.read_text(encoding="utf-8") == original
    monkeypatch.setattr(settings_module.os, "replace", real_replace)
    set_config_value(paths, "llm.model", "new")
    assert load_settings(paths).llm.model == "new"
    assert [f.name for f in paths.config_dir.iterdir()] == ["config.toml"]  # no temp file left behind
