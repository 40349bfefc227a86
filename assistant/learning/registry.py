"""Trained adapters on disk: named versions with their data and metrics, and which one is active where.

Layout (in the data folder):
    adapters/NAME/vN/adapter.gguf   the LoRA adapter llama.cpp loads on top of the quantized base
    adapters/NAME/vN/meta.json      data, settings, training figures, evaluation before/after, date
    adapters/state.json             {"active": {scope: "NAME/vN"}, "previous": {scope: [...]}}

A version folder appears only once it is complete (trained into `.vN.partial`, then renamed), and
state.json is replaced atomically, so a training run killed at any point leaves the active adapter
exactly as it was. Scope "" is the default for every conversation; "persona:NAME" overrides it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADAPTER_FILE = "adapter.gguf"
META_FILE = "meta.json"
STATE_FILE = "state.json"
DEFAULT_SCOPE = ""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^v(\d+)$")
_PARTIAL = re.compile(r"^\.v(\d+)\.partial$")
_HISTORY = 20  # rollback steps kept per scope


class AdapterError(ValueError):
    """An adapter that does not exist, a bad name, or an action that would lose something."""


@dataclass
class AdapterVersion:
    """One trained, complete version of a named adapter."""

    name: str
    version: int
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}/v{self.version}"

    @property
    def gguf(self) -> Path:
        return self.path / ADAPTER_FILE

    @property
    def created_at(self) -> float:
        return float(self.meta.get("created_at", 0.0))

    @property
    def verdict(self) -> str:
        """'better', 'worse' or 'unknown', from the evaluation made when it was trained (or rerun)."""
        return str((self.meta.get("evaluation") or {}).get("verdict", "unknown"))

    @property
    def strength(self) -> float:
        """The LoRA scale to serve it at, as chosen by its evaluation (1.0 when never evaluated)."""
        try:
            value = float((self.meta.get("evaluation") or {}).get("strength", 1.0))
        except (TypeError, ValueError):
            return 1.0
        return value if 0.0 < value <= 4.0 else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "name": self.name, "version": self.version, "path": str(self.path),
                **{k: v for k, v in self.meta.items() if k not in ("name", "version")}}


def scope_for(persona: str | None) -> str:
    """The state key of a persona ('' is every conversation without an adapter of its own)."""
    return f"persona:{persona}" if persona else DEFAULT_SCOPE


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise AdapterError(f"{name!r} is not a usable adapter name: use letters, digits, '-', '_' or '.' "
                           "(at most 64, starting with a letter or digit).")
    return name


class AdapterRegistry:
    """The adapters folder; safe to share between threads, and between processes for reads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    # reading
    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name)
                      and self.versions(p.name))

    def versions(self, name: str) -> list[AdapterVersion]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = []
        for child in folder.iterdir():
            m = _VERSION.match(child.name)
            if m and (child / ADAPTER_FILE).is_file():
                found.append(AdapterVersion(name, int(m.group(1)), child, _read_meta(child)))
        return sorted(found, key=lambda v: v.version)

    def all(self) -> list[AdapterVersion]:
        return [v for name in self.names() for v in self.versions(name)]

    def get(self, ref: str) -> AdapterVersion:
        """'NAME' (its newest version), 'NAME/vN' or 'NAME@N'; AdapterError if there is none."""
        name, _, version = ref.replace("@", "/").partition("/")
        versions = self.versions(check_name(name))
        if not versions:
            known = ", ".join(self.names()) or "none yet (train one with `biseo train`)"
            raise AdapterError(f"There is no adapter called {name!r}. Adapters: {known}.")
        if not version:
            return versions[-1]
        number = version.lstrip("v")
        for v in versions:
            if str(v.version) == number:
                return v
        raise AdapterError(f"Adapter {name!r} has no version {version!r} (it has "
                           f"{', '.join('v%d' % v.version for v in versions)}).")

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data.setdefault("active", {})
        data.setdefault("previous", {})
        return data

    def active(self, scope: str = DEFAULT_SCOPE) -> AdapterVersion | None:
        """The version active in `scope` (None if none, or if its files are gone)."""
        ref = self.state()["active"].get(scope)
        if not ref:
            return None
        try:
            return self.get(ref)
        except AdapterError:
            return None

    def active_for(self, persona: str | None) -> AdapterVersion | None:
        """What a conversation with `persona` uses: the persona's own adapter, else the default one."""
        state = self.state()["active"]
        scope = scope_for(persona)
        if persona and scope in state:
            return self.active(scope) if state[scope] else None  # "" means: this persona uses none
        return self.active(DEFAULT_SCOPE)

    def scopes_of(self, version: AdapterVersion) -> list[str]:
        return [scope for scope, ref in self.state()["active"].items() if ref == version.ref]

    # changing which is active
    def use(self, ref: str, scope: str = DEFAULT_SCOPE) -> AdapterVersion:
        version = self.get(ref)
        self._set_active(scope, version.ref)
        return version

    def off(self, scope: str = DEFAULT_SCOPE) -> None:
        """No adapter in `scope` (a persona scope set off uses none, not the default one)."""
        self._set_active(scope, "" if scope != DEFAULT_SCOPE else None)

    def rollback(self, scope: str = DEFAULT_SCOPE) -> AdapterVersion | None:
        """Go back to what was active in `scope` before the last change; returns it (None = no adapter)."""
        with self._lock:
            state = self.state()
            history = state["previous"].get(scope) or []
            while history:
                ref = history.pop()
                if ref and not self._exists(ref):
                    continue  # deleted since: step further back
                _set(state, scope, ref)
                self._write_state(state)
                return self.get(ref) if ref else None
            raise AdapterError("There is nothing to roll back to." if scope == DEFAULT_SCOPE else
                               f"There is nothing to roll back to for {scope.removeprefix('persona:')}.")

    def delete(self, ref: str) -> list[AdapterVersion]:
        """Delete one version ('NAME/vN') or every version of NAME; refuses while any of them is active."""
        name, _, version = ref.replace("@", "/").partition("/")
        targets = [self.get(ref)] if version else self.versions(check_name(name))
        if not targets:
            self.get(name)  # raises the plain "no adapter called" error
        for target in targets:
            scopes = self.scopes_of(target)
            if scopes:
                where = ", ".join("by default" if s == DEFAULT_SCOPE else "for " + s.removeprefix("persona:")
                                  for s in scopes)
                raise AdapterError(f"{target.ref} is in use ({where}); turn it off or use another first.")
        with self._lock:
            for target in targets:
                trash = target.path.with_name(f".{target.path.name}.deleting")
                os.replace(target.path, trash)  # the version disappears at once; then its files go
                shutil.rmtree(trash, ignore_errors=True)
            if not self.versions(name):
                shutil.rmtree(self.root / name, ignore_errors=True)
        return targets

    def update_meta(self, version: AdapterVersion, **changes: Any) -> AdapterVersion:
        """Merge `changes` into a version's meta.json (atomically), e.g. a rerun evaluation."""
        meta = dict(version.meta)
        meta.update(changes)
        write_json_atomic(version.path / META_FILE, meta)
        return AdapterVersion(version.name, version.version, version.path, meta)

    # new versions
    def reserve(self, name: str) -> tuple[int, Path]:
        """A fresh partial folder for the next version of `name`; stale partial folders are removed first."""
        name = check_name(name)
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            numbers = [0]
            for child in folder.iterdir():
                m = _VERSION.match(child.name)
                if m:
                    numbers.append(int(m.group(1)))
                if _PARTIAL.match(child.name) or child.name.endswith(".deleting"):
                    shutil.rmtree(child, ignore_errors=True)  # left by a killed run (callers hold the train lock)
            for litter in [*self.root.glob(".*.tmp"), *folder.glob("v*/.*.tmp")]:
                _remove_stale(litter)  # a write_json_atomic killed before its rename
            number = max(numbers) + 1
            partial = folder / f".v{number}.partial"
            partial.mkdir()
            return number, partial

    def commit(self, name: str, number: int, partial: Path, meta: dict[str, Any]) -> AdapterVersion:
        """Make a finished partial folder version `number`: meta written, files synced, then one rename."""
        meta = {**meta, "name": name, "version": number, "created_at": meta.get("created_at", time.time())}
        write_json_atomic(partial / META_FILE, meta)
        for child in partial.rglob("*"):
            if child.is_file():
                _fsync_file(child)
        final = partial.with_name(f"v{number}")
        os.replace(partial, final)
        _fsync_dir(final.parent)
        return AdapterVersion(name, number, final, meta)

    # internals
    def _exists(self, ref: str) -> bool:
        try:
            self.get(ref)
            return True
        except AdapterError:
            return False

    def _set_active(self, scope: str, ref: str | None) -> None:
        with self._lock:
            state = self.state()
            current = state["active"].get(scope)
            if current == ref:
                return
            history = state["previous"].setdefault(scope, [])
            history.append(current or "")
            del history[:-_HISTORY]
            _set(state, scope, ref)
            self._write_state(state)

    def _write_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.root / STATE_FILE, state)


def _set(state: dict[str, Any], scope: str, ref: str | None) -> None:
    if ref is None or (ref == "" and scope == DEFAULT_SCOPE):
        state["active"].pop(scope, None)
    else:
        state["active"][scope] = ref


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _remove_stale(path: Path, age_s: float = 600.0) -> None:
    """Remove a temporary file old enough that no live writer can still be about to rename it."""
    try:
        if time.time() - path.stat().st_mtime > age_s:
            path.unlink()
    except OSError:
        pass


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to `path`, fsync it, then rename over `path`: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
