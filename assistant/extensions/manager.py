"""Find and load plugins: built-ins, then the `biseo.plugins` entry points, then the user folder.

Each plugin loads inside its own try: one that fails is listed with its reason, the rest load.
Built-ins run in-process; third-party plugins run in their own host process unless the user trusts them
(settings plugins.isolation / plugins.in_process).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from assistant.api import PROJECT_NAME, Permissions, permissions_of, spec_of
from assistant.extensions import hookspecs
from assistant.tools.registry import ToolRegistry

ENTRY_POINT_GROUP = "biseo.plugins"
BUILTIN_PLUGINS = ("plugins.calculator", "plugins.clock", "plugins.files", "plugins.web_search",
                   "plugins.memory", "plugins.documents", "plugins.archives")


@dataclass
class PluginInfo:
    """One plugin as the user sees it in `biseo plugins list`."""

    name: str
    source: str  # "builtin", "entry point (<dist>)" or the user-folder path
    status: str = "loaded"  # "loaded", "error" or "disabled"
    error: str = ""
    tools: list[str] = field(default_factory=list)
    module: ModuleType | None = field(default=None, repr=False)
    isolation: str = "in-process"  # or "process": its own host process
    permissions: dict[str, Any] | None = None  # what it may do (declared, or what its tools declare)
    declared: bool = False  # True when the plugin declares PERMISSIONS itself
    host: Any = field(default=None, repr=False)
    kind: str = "plugin"  # or "mcp": an MCP server (its tools come from the server, see assistant/mcp)
    state: str = ""  # an MCP server's run state in words ("running", "failed: …; it restarts on the next use")
    mcp_tools: list[dict[str, Any]] = field(default_factory=list)  # name, tool, hint, description


class PluginManager:
    """Loads plugins into a ToolRegistry and remembers what happened to each."""

    def __init__(self, registry: ToolRegistry | None = None) -> None:
        self.registry = registry or ToolRegistry()
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []

    def load_all(self, *, disabled: list[str] | None = None, user_dir: Path | None = None,
                 builtins: tuple[str, ...] = BUILTIN_PLUGINS, entry_points: bool = True,
                 isolation: str = "process", in_process: list[str] | None = None,
                 load_timeout_s: float = 20.0) -> None:
        """Load every source in order; never raises for a broken plugin.

        Third-party plugins go to their own process when `isolation` is "process", except those named
        in `in_process` (plugins the user trusts to run inside the app).
        """
        off = set(disabled or [])
        trusted = set(in_process or [])

        def third_party(name: str, source: str, importer, target: dict[str, Any]) -> None:
            if isolation == "process" and name not in trusted:
                self._load_remote(name, source, target, off, load_timeout_s)
            else:
                self._load(name, source, importer, off)

        for module_name in builtins:
            self._load(module_name.rsplit(".", 1)[-1], "builtin", lambda m=module_name: importlib.import_module(m), off)
        if entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep.dist, "name", "?") if ep.dist else "?"
                third_party(ep.name, f"entry point ({dist})", ep.load,
                            {"kind": "entry_point", "name": ep.name, "value": ep.value, "group": ep.group})
        if user_dir is not None and user_dir.is_dir():
            for path in sorted(user_dir.iterdir()):
                if path.name.startswith(("_", ".")):
                    continue
                if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").is_file()):
                    third_party(path.stem, str(path), lambda p=path: _import_from_path(p),
                                {"kind": "path", "path": str(path)})

    def _load_remote(self, name: str, source: str, target: dict[str, Any], off: set[str],
                     load_timeout_s: float) -> PluginInfo:
        """Load a plugin in its own host process and register proxies for its tools."""
        from assistant.extensions.remote import HostError, PluginHost, remote_spec

        info = self._admit(PluginInfo(name=name, source=source, isolation="process"), off)
        if info.status != "loaded":
            return info
        host = PluginHost(name, source, target, load_timeout_s)
        try:
            loaded = host.start()
        except HostError as exc:
            host.close()
            info.status, info.error = "error", f"could not load in its own process: {exc}"
            return info
        except OSError as exc:
            info.status, info.error = "error", f"could not start its process: {exc}"
            return info
        info.host = host
        info.status, info.error = str(loaded.get("status", "error")), str(loaded.get("error", ""))
        info.permissions, info.declared = loaded.get("permissions"), bool(loaded.get("declared"))
        grant = Permissions(**info.permissions) if info.permissions and info.declared else None
        for described in loaded.get("tools") or []:
            try:
                spec = remote_spec(described, host, grant)
                self.registry.add(spec, plugin=name)
                info.tools.append(spec.name)
            except Exception as exc:
                info.error = "; ".join(filter(None, [info.error, _reason(exc)]))
        if not info.tools:
            host.close()
            info.host = None
            if info.status == "loaded" and info.error:
                info.status = "error"
        return info

    def _admit(self, info: PluginInfo, off: set[str]) -> PluginInfo:
        """List the plugin; mark it disabled (switched off) or an error (name taken) before anything loads."""
        self.plugins.append(info)
        if info.name in off:
            info.status = "disabled"
        elif any(p.name == info.name and p.status == "loaded" for p in self.plugins[:-1]):
            info.status, info.error = "error", f"a plugin named {info.name!r} is already loaded"
        return info

    def close(self) -> None:
        """Stop every plugin host process."""
        for info in self.plugins:
            if info.host is not None:
                info.host.close()

    def load_module(self, name: str, module: ModuleType | Any, source: str = "test") -> PluginInfo:
        """Register an already-imported module or object as a plugin (used by tests and tools)."""
        return self._load(name, source, lambda: module, set())

    def _load(self, name: str, source: str, importer, off: set[str]) -> PluginInfo:
        info = self._admit(PluginInfo(name=name, source=source), off)
        if info.status != "loaded":
            return info
        try:
            module = importer()
            info.module = module
            self.pm.register(module, name=f"{name}@{source}")
        except BaseException as exc:  # a plugin may even call sys.exit at import
            info.status, info.error = "error", _reason(exc)
            return info
        staged: list[Any] = []
        try:
            for impl in self.pm.hook.register_tools.get_hookimpls():
                if impl.plugin is module:
                    impl.function(register=staged.append)
        except BaseException as exc:
            self.pm.unregister(module)
            info.status, info.error = "error", f"register_tools failed: {_reason(exc)}"
            return info
        errors: list[str] = []
        specs = []
        for obj in staged:
            try:
                specs.append(spec_of(obj))
            except Exception as exc:
                errors.append(_reason(exc))
        try:
            declared = permissions_of(module)
        except Exception as exc:
            self.pm.unregister(module)
            info.status, info.error = "error", _reason(exc)
            return info
        grant = declared or Permissions.of_tools(specs)
        info.permissions, info.declared = grant.to_dict(), declared is not None
        for spec in specs:
            try:
                grant.check_tool(spec)  # a tool may not declare more than its plugin
                spec.grant = declared  # None: each call gets what its own tool declares
                self.registry.add(spec, plugin=name)
                info.tools.append(spec.name)
            except Exception as exc:
                errors.append(_reason(exc))
        if errors:
            info.error = "; ".join(errors)
            if not info.tools:
                info.status = "error"
        return info


def _import_from_path(path: Path) -> ModuleType:
    """Import a user-folder plugin file or package under a private module name."""
    target = path / "__init__.py" if path.is_dir() else path
    mod_name = f"biseo_user_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(
        mod_name, target, submodule_search_locations=[str(path)] if path.is_dir() else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


def _reason(exc: BaseException) -> str:
    """One line: exception type, message and where it was raised."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}{where}" if msg else f"{type(exc).__name__}{where}"


def describe_permissions(p: dict[str, Any]) -> str:
    """A plugin's permissions in plain words, for `biseo plugins list` and the plugins panel."""
    files = "no files" if p["files"] == "none" else (
        f"{'read' if p['files'] == 'read' else 'read/write'} files in "
        + ", ".join("your allowed folders" if r == "user-folders" else r for r in p["roots"]))
    return ", ".join([files, "network" if p["network"] else "no network",
                      "changes things (asks first)" if p["side_effects"] else "no side effects"])
