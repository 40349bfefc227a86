"""Personas: named system prompts a conversation can talk to, kept in `personas.json` in the data folder."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger("biseo.personas")

DEFAULT_PERSONA = "Biseo"
MAX_NAME = 60


@dataclass
class Persona:
    """A name, the instructions the model gets (its system prompt) and a short description for people."""

    name: str
    system_prompt: str
    description: str = ""
    builtin: bool = False  # the built-in Biseo: its prompt lives in settings; it cannot be renamed or deleted


class PersonaError(ValueError):
    """A persona cannot be saved, renamed or deleted; the message says why in plain words."""


class PersonaStore:
    """Thread-safe persona list; every change rewrites the file atomically (temp file, fsync, rename)."""

    def __init__(self, path: Path, builtin_prompt: Callable[[], str],
                 on_rename: Callable[[str, str | None], object] | None = None) -> None:
        self.path = Path(path)
        # Read on every call, so a changed chat.system_prompt setting shows at once.
        self._builtin_prompt = builtin_prompt
        self._on_rename = on_rename  # lets conversations follow a renamed or deleted persona
        self._lock = threading.RLock()

    # reading
    def list(self) -> list[Persona]:
        """Biseo first, then the user's personas by name."""
        with self._lock:
            data = self._load()
        users = sorted((self._from_dict(d) for d in data["personas"]), key=lambda p: p.name.lower())
        return [self._builtin(), *users]

    def get(self, name: str) -> Persona | None:
        """The persona with this name (case-insensitive), or None."""
        key = name.strip().lower()
        return next((p for p in self.list() if p.name.lower() == key), None)

    def names(self) -> list[str]:
        return [p.name for p in self.list()]

    @property
    def default_name(self) -> str:
        """The persona new conversations get (Biseo unless the user chose another)."""
        with self._lock:
            name = self._load().get("default") or DEFAULT_PERSONA
        persona = self.get(name)
        return persona.name if persona else DEFAULT_PERSONA

    # changing
    def save(self, persona: Persona) -> Persona:
        """Add a persona or replace the one with the same name."""
        name = _clean_name(persona.name)
        if name.lower() == DEFAULT_PERSONA.lower():
            raise PersonaError(f"{DEFAULT_PERSONA}'s instructions are set in Settings (Chat → system prompt).")
        if not persona.system_prompt.strip():
            raise PersonaError("A persona needs instructions (its system prompt).")
        saved = Persona(name, persona.system_prompt.strip(), persona.description.strip())
        with self._lock:
            data = self._load()
            data["personas"] = [d for d in data["personas"] if d["name"].lower() != name.lower()]
            data["personas"].append({k: v for k, v in asdict(saved).items() if k != "builtin"})
            self._write(data)
        return saved

    def delete(self, name: str) -> None:
        """Remove a persona; its conversations go back to the default persona."""
        existing = self._user_persona(name)
        with self._lock:
            data = self._load()
            data["personas"] = [d for d in data["personas"] if d["name"] != existing.name]
            if data.get("default") == existing.name:
                data.pop("default")
            self._write(data)
        if self._on_rename:
            self._on_rename(existing.name, None)

    def rename(self, old: str, new: str) -> Persona:
        """Give a persona a new name; conversations using it keep using it."""
        existing = self._user_persona(old)
        name = _clean_name(new)
        clash = self.get(name)
        if clash is not None and clash.name != existing.name:
            raise PersonaError(f"There is already a persona called {clash.name}.")
        with self._lock:
            data = self._load()
            for d in data["personas"]:
                if d["name"] == existing.name:
                    d["name"] = name
            if data.get("default") == existing.name:
                data["default"] = name
            self._write(data)
        if self._on_rename and name != existing.name:
            self._on_rename(existing.name, name)
        return Persona(name, existing.system_prompt, existing.description)

    def set_default(self, name: str) -> None:
        """Make a persona the one new conversations get."""
        persona = self.get(name)
        if persona is None:
            raise PersonaError(f"There is no persona called {name!r}.")
        with self._lock:
            data = self._load()
            data["default"] = persona.name
            self._write(data)

    # internals
    def _builtin(self) -> Persona:
        return Persona(DEFAULT_PERSONA, self._builtin_prompt(), "The built-in assistant.", builtin=True)

    def _user_persona(self, name: str) -> Persona:
        persona = self.get(name)
        if persona is None:
            raise PersonaError(f"There is no persona called {name!r}.")
        if persona.builtin:
            raise PersonaError(f"{DEFAULT_PERSONA} is built in and cannot be renamed or deleted.")
        return persona

    @staticmethod
    def _from_dict(d: dict) -> Persona:
        return Persona(str(d["name"]), str(d.get("system_prompt", "")), str(d.get("description", "")))

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"personas": []}
        except (OSError, ValueError) as exc:
            # Keep the unreadable file for the user, and start from the built-in persona only.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.warning("personas file %s unreadable (%s); moved to %s", self.path, exc, aside)
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            return {"personas": []}
        if not isinstance(data, dict) or not isinstance(data.get("personas"), list):
            return {"personas": []}
        data["personas"] = [d for d in data["personas"] if isinstance(d, dict) and isinstance(d.get("name"), str)]
        return data

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".personas-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise PersonaError("A persona needs a name.")
    if len(name) > MAX_NAME:
        raise PersonaError(f"A persona's name can be at most {MAX_NAME} characters.")
    return name
