"""The crash harness's writer: checks what was committed before, answers a request, then writes until killed.

    python tests/trust/crash_worker.py LEDGER KIND SEED DOCS_DIR      (BISEO_HOME names the data)

It is the app's core as the CLI builds it (`Assistant()`, the settings from the home's config.toml), so each
start is the start after a crash. Every line on stdout is one JSON object:
    {"verified": N, "lost": [...], "answer": "..."}   then {"ready": true}   (after the checks and one turn)
    {"commit": {...}}                                  after each write returned (what must survive a kill)
KIND is what it writes until killed: turn, memory, document, adapter, idle (nothing) or final (exit after ready).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path

WORDS = ("amber basalt cedar dune ember fjord garnet harbor indigo jasper kelp lagoon mesa nickel opal prairie "
         "quartz reef sierra tundra umber violet willow xenon yarrow zephyr").split()
SAMPLE = 4  # committed items per kind also checked through search (all are checked in the databases)


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# checks: each returns a reason when the item is lost or changed, else ""
def check_turn(app, item) -> str:
    from assistant.history.store import MessageNotFound

    try:
        answer = app.store.get_message(item["message_id"])
    except MessageNotFound:
        return "answer missing"
    if answer.content != item["answer"]:
        return f"answer changed: {answer.content!r}"
    if app.store.turn_status(answer.turn_id) != "done":
        return f"turn is {app.store.turn_status(answer.turn_id)}"
    users = [m for m in app.store.messages(item["conversation_id"])
             if m.turn_id == answer.turn_id and m.role == "user"]
    if [m.content for m in users] != [item["user"]]:
        return f"user message changed: {[m.content for m in users]!r}"
    return ""


def check_memory(app, item, search: bool) -> str:
    from assistant.memory.store import MemoryNotFound

    try:
        memory = app.memory.get(item["id"])
    except MemoryNotFound:
        return "memory missing"
    if memory.text != item["text"] or memory.status != "active":
        return f"memory changed: {memory.text!r} ({memory.status})"
    if search and item["id"] not in [r.memory.id for r in app.memory.search(item["text"], k=5)]:
        return "memory not found by search"
    return ""


def check_document(app, files: dict, item, search: bool) -> str:
    row = files.get(item["path"])
    if row is None:
        return "file row missing"
    if row.status != "indexed" or row.sha256 != item["sha"] or row.chunk_count < 1:
        return f"file row is {row.status}, {row.chunk_count} chunks, sha {row.sha256}"
    if search and not any(p.path == item["path"] for p in app.documents.search(item["key"], k=5)):
        return "document not found by search"
    return ""


def check_adapter(versions: dict, item) -> str:
    version = versions.get(item["ref"])
    if version is None:
        return "adapter version missing"
    if sha(version.gguf.read_bytes()) != item["sha"]:
        return "adapter file changed"
    return ""


def check_adapters_state(registry, ledger) -> list[str]:
    """The active adapter is the last one committed active (or a complete newer one); no half version shows."""
    problems = []
    committed = {i["ref"]: i["sha"] for i in ledger if i["kind"] == "adapter"}
    trained = {ref for i in ledger if i["kind"] == "training" for ref in ([i["done"]] if i.get("done") else [])}
    for version in registry.all():
        meta = version.meta
        if meta.get("version") != version.version or not version.gguf.is_file():
            problems.append(f"{version.ref}: incomplete version visible")
        elif version.name == "crash" and sha(version.gguf.read_bytes()) != meta.get("sha256"):
            problems.append(f"{version.ref}: visible with a partial file")
        elif version.name != "crash" and version.ref not in trained and "training" not in meta:
            problems.append(f"{version.ref}: a trained version without its training record")
    active_items = [i for i in ledger if i["kind"] in ("adapter", "training") and i.get("active")]
    if active_items:
        want = active_items[-1]["active"]
        now = registry.active()
        if now is None:
            problems.append(f"no active adapter (was {want})")
        elif now.ref != want:
            # A newer version made active after the last report (killed before it printed) is fine if whole.
            newer = now.name == "crash" and now.version > int(want.split("/v")[1]) and now.ref not in committed
            if not newer:
                problems.append(f"active adapter is {now.ref}, was {want}")
    return problems


def verify(app, ledger) -> tuple[int, list[str]]:
    rng = random.Random(len(ledger))
    lost: list[str] = []
    by_kind: dict[str, list] = {}
    for item in ledger:
        by_kind.setdefault(item["kind"], []).append(item)

    def sampled(kind: str) -> set[int]:
        items = by_kind.get(kind, [])
        newest = set(range(max(0, len(items) - SAMPLE), len(items)))
        return newest | set(rng.sample(range(len(items)), min(SAMPLE, len(items))))

    registry = app.adapters
    versions = {v.ref: v for v in registry.all()}  # read once: the registry reads every meta.json per lookup
    files = {f.path: f for f in app.documents.files()}
    if len(files) != len(app.documents.files()):
        lost.append("a document has two file rows")
    for kind, items in by_kind.items():
        searched = sampled(kind) if kind in ("memory", "document") else set()
        for n, item in enumerate(items):
            if kind == "turn":
                why = check_turn(app, item)
            elif kind == "memory":
                why = check_memory(app, item, n in searched)
            elif kind == "document":
                why = check_document(app, files, item, n in searched)
            elif kind == "adapter":
                why = check_adapter(versions, item)
            else:
                why = ""
            if why:
                lost.append(f"{kind} {item.get('id') or item.get('ref') or item.get('path') or item.get('message_id')}:"
                            f" {why}")
    lost += check_adapters_state(registry, ledger)
    return len(ledger), lost


# writes
def turn(app, rng: random.Random, state: dict) -> dict:
    from assistant.events import Final

    if state.get("turns", 0) % 4 == 0:
        state["cid"] = app.new_conversation("crash harness")
    state["turns"] = state.get("turns", 0) + 1
    text = f"Tell me one thing about {rng.choice(WORDS)} {rng.choice(WORDS)} number {rng.randrange(10**6)}."
    events = list(app.chat(text, state["cid"]))
    final = events[-1]
    if not isinstance(final, Final):
        raise RuntimeError(f"turn failed: {final}")
    return {"kind": "turn", "conversation_id": final.conversation_id, "message_id": final.message_id,
            "user": text, "answer": final.text}


def memory(app, rng: random.Random, state: dict) -> dict:
    key = f"{state['seed']}x{rng.randrange(10**9)}"
    value = f"{rng.choice(WORDS)}-{rng.randrange(10**4)}"
    # Its own subject: a changed fact replaces the old one, and each of these is a new fact.
    done = app.memory.add(f"the code of locker {key} is {value}", "cli", subject=f"locker {key}", value=value)
    return {"kind": "memory", "id": done.memory.id, "text": done.memory.text}


def document(app, rng: random.Random, state: dict, docs: Path) -> dict:
    key = f"zq{state['seed']}k{rng.randrange(10**9)}"
    sections = [f"Section {i}. The {rng.choice(WORDS)} depot {key} keeps {rng.randrange(999)} "
                f"{rng.choice(WORDS)} crates by the {rng.choice(WORDS)} gate." for i in range(rng.randint(3, 30))]
    body = "\n\n".join(sections)
    path = docs / f"{key}.txt"
    data = body.encode()
    path.write_bytes(data)
    app.documents.add([path])
    progress = app.documents.sync()
    if progress.errors:
        raise RuntimeError(f"indexing failed: {progress.errors}")
    return {"kind": "document", "path": str(path.resolve()), "key": key, "sha": sha(data)}


def adapter(app, rng: random.Random, state: dict) -> dict:
    # The registry's publish path with real files: reserve, write, commit (fsync + rename), make active.
    registry = app.adapters
    number, partial = registry.reserve("crash")
    data = rng.randbytes(rng.randrange(4_000, 200_000))
    (partial / "adapter.gguf").write_bytes(data)
    version = registry.commit("crash", number, partial, {"sha256": sha(data)})
    registry.use(version.ref)
    return {"kind": "adapter", "ref": version.ref, "sha": sha(data), "active": version.ref}


def main() -> int:
    ledger_path, kind, seed, docs = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    ledger = [json.loads(line) for line in ledger_path.read_text().splitlines()] if ledger_path.exists() else []
    from assistant.app import Assistant
    from assistant.events import Final

    app = Assistant()
    verified, lost = verify(app, ledger)
    # The app answers the next request (memory recall and document passages included).
    text = f"Hello again, check {seed}: say hi."
    final = list(app.chat(text))[-1]
    if not isinstance(final, Final) or not final.text.strip():
        raise RuntimeError(f"the app did not answer after the restart: {final}")
    say(verified=verified, lost=lost, answer=final.text)
    say(commit={"kind": "turn", "conversation_id": final.conversation_id, "message_id": final.message_id,
                "user": text, "answer": final.text})
    say(ready=True)
    if kind == "final":
        app.close()
        return 0
    rng = random.Random(seed)
    state = {"seed": seed}
    docs.mkdir(parents=True, exist_ok=True)
    while True:
        if kind == "turn":
            item = turn(app, rng, state)
        elif kind == "memory":
            item = memory(app, rng, state)
        elif kind == "document":
            item = document(app, rng, state, docs)
        elif kind == "adapter":
            item = adapter(app, rng, state)
        else:
            time.sleep(1)
            continue
        say(commit=item)


if __name__ == "__main__":
    sys.exit(main())
