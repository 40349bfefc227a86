"""Where Biseo keeps its config, data, cache, models and user plugins."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "biseo"


@dataclass(frozen=True)
class Paths:
    """The folders Biseo reads and writes; all are created on demand."""

    config_dir: Path
    data_dir: Path
    cache_dir: Path
    models_dir: Path
    plugins_dir: Path
    logs_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.sqlite3"

    def ensure(self) -> "Paths":
        for folder in (self.config_dir, self.data_dir, self.cache_dir, self.models_dir,
                       self.plugins_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(environ: dict[str, str] | None = None) -> Paths:
    """Return the folders: BISEO_HOME puts all under one folder, else the platform's defaults."""
    env = os.environ if environ is None else environ
    home = env.get("BISEO_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        paths = dict(config_dir=root / "config", data_dir=root / "data", cache_dir=root / "cache",
                     models_dir=root / "models", plugins_dir=root / "plugins", logs_dir=root / "logs")
    else:
        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        data = Path(dirs.user_data_dir)
        paths = dict(config_dir=Path(dirs.user_config_dir), data_dir=data,
                     cache_dir=Path(dirs.user_cache_dir), models_dir=data / "models",
                     plugins_dir=data / "plugins", logs_dir=Path(dirs.user_log_dir))
    # A shared models folder (e.g. for tests or several homes) can be named on its own.
    if env.get("BISEO_MODELS_DIR"):
        paths["models_dir"] = Path(env["BISEO_MODELS_DIR"]).expanduser().resolve()
    return Paths(**paths)
