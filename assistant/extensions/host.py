"""The plugin host: one third-party plugin in its own process, speaking JSON lines on private pipes.

Started by assistant.extensions.remote as `python -P -c "from assistant.extensions.host import main; main()"`.
The plugin's own prints go to stderr: fd 1 is pointed at stderr and the protocol uses duplicated fds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

PROTOCOL_FD = -1  # the fd replies go out on (tests use it to play a plugin that corrupts the channel)


def main() -> None:
    global PROTOCOL_FD
    proto_in, PROTOCOL_FD = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # print() and C-level writes to stdout land on stderr, never on the protocol
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    from assistant.api import ToolError
    from assistant.extensions import guard
    from assistant.extensions.manager import PluginManager, _import_from_path
    from assistant.tools.spec import ArgumentError

    reader = os.fdopen(proto_in, "rb")
    request = _read(reader)
    if request is None or request.get("op") != "load":
        return
    name, target = str(request["name"]), request["target"]
    policy = guard.Policy(name)
    if target.get("kind") == "path":
        policy.python_reads.append(guard._real(str(Path(target["path"]).parent)))
    guard.install(policy)  # from here on, files, sockets and spawns follow the plugin's permissions
    manager = PluginManager()
    info = manager._load(name, str(request.get("source", name)), lambda: _importer(target, _import_from_path)(),
                         set())
    _send({"op": "loaded", "status": info.status, "error": info.error, "permissions": info.permissions,
           "declared": info.declared,
           "tools": [_describe(manager.registry.get(t)) for t in info.tools]})
    from assistant.api import ToolContext

    while True:
        request = _read(reader)
        if request is None:
            return
        spec = manager.registry.get(str(request.get("tool", "")))
        if spec is None:
            _send({"ok": False, "tool_error": f"no tool named {request.get('tool')!r} in this plugin"})
            continue
        if request.get("op") == "side_effects":
            _send({"ok": True, "value": spec.has_side_effects(request.get("arguments") or {})})
            continue
        c = request.get("ctx") or {}
        policy.set_call(roots=list(c.get("roots") or []), access=str(c.get("access", "none")),
                        network=bool(c.get("network")), data_dir=c.get("data_dir"))
        ctx = ToolContext(tool_name=spec.name, call_id=str(c.get("call_id", "")),
                          roots=[Path(r) for r in c.get("roots") or []], access=str(c.get("access", "none")),
                          network=bool(c.get("network")),
                          data_dir=Path(c["data_dir"]) if c.get("data_dir") else None,
                          conversation_id=c.get("conversation_id"))
        try:
            kwargs = spec.validate(request.get("arguments"))
            result = spec.call(kwargs, ctx)
            reply = _result(result)
        except ArgumentError as exc:
            reply = {"ok": False, "tool_error": f"invalid arguments: {exc}"}
        except ToolError as exc:
            reply = {"ok": False, "tool_error": str(exc)}
        except BaseException as exc:  # noqa: BLE001 - even SystemExit is the plugin's fault, reported
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        if policy.refusals:  # refused even if the plugin caught the error itself
            reply = {"ok": False, "refused": policy.refusals[0]}
        reply["citations"] = ctx.citations
        policy.set_call(roots=[], access="none", network=False, data_dir=None)
        _send(reply)


def _importer(target: dict[str, Any], import_path):
    if target.get("kind") == "path":
        return lambda: import_path(Path(target["path"]))
    import importlib.metadata

    ep = importlib.metadata.EntryPoint(name=target["name"], value=target["value"], group=target["group"])
    return ep.load


def _describe(spec) -> dict[str, Any]:
    side = spec.side_effects if isinstance(spec.side_effects, bool) else "depends"
    return {"name": spec.name, "description": spec.description, "schema": spec.schema, "side_effects": side,
            "network": spec.network, "files": spec.file_access, "examples": spec.examples,
            "timeout_s": spec.timeout_s}


def _result(value: Any) -> dict[str, Any]:
    if isinstance(value, (bytes, bytearray)):
        return {"ok": True, "bytes": len(value)}
    try:
        json.dumps(value)
        return {"ok": True, "value": value}
    except (TypeError, ValueError):
        return {"ok": True, "value": str(value)}


def _read(reader) -> dict[str, Any] | None:
    line = reader.readline()
    if not line:
        return None
    return json.loads(line)


def _send(message: dict[str, Any]) -> None:
    data = (json.dumps(message, ensure_ascii=True, default=str) + "\n").encode("ascii")
    while data:
        data = data[os.write(PROTOCOL_FD, data):]


if __name__ == "__main__":
    main()
