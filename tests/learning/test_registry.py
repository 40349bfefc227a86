"""Adapter versions on disk: appear only when complete, one active per scope, rollback, safe deletes."""

from __future__ import annotations

import json

import pytest

from assistant.learning.registry import AdapterError, AdapterRegistry, scope_for


def make_version(registry: AdapterRegistry, name: str = "personal", verdict: str = "better", **meta):
    number, partial = registry.reserve(name)
    (partial / "adapter.gguf").write_bytes(b"GGUF fake adapter " + name.encode())
    return registry.commit(name, number, partial, {"evaluation": {"verdict": verdict}, **meta})


@pytest.fixture
def registry(tmp_path):
    return AdapterRegistry(tmp_path / "adapters")


def test_versions_are_numbered_and_found_by_name_or_ref(registry):
    v1 = make_version(registry)
    v2 = make_version(registry)
    assert (v1.ref, v2.ref) == ("personal/v1", "personal/v2")
    assert registry.get("personal").ref == "personal/v2"  # the newest
    assert registry.get("personal/v1").ref == registry.get("personal@1").ref == "personal/v1"
    assert registry.names() == ["personal"]
    assert json.loads((v2.path / "meta.json").read_text())["version"] == 2


def test_unknown_adapter_and_version_say_what_exists(registry):
    make_version(registry)
    with pytest.raises(AdapterError, match="no adapter called 'nope'.*personal"):
        registry.get("nope")
    with pytest.raises(AdapterError, match="no version 'v9'.*v1"):
        registry.get("personal/v9")
    with pytest.raises(AdapterError, match="not a usable adapter name"):
        registry.get("../etc")


def test_a_partial_version_is_invisible_and_removed_by_the_next_run(registry):
    v1 = make_version(registry)
    registry.use(v1.ref)
    number, partial = registry.reserve("personal")  # a run that is then killed mid-training
    (partial / "adapter.gguf").write_bytes(b"half")
    assert [v.ref for v in registry.versions("personal")] == ["personal/v1"]
    assert registry.active().ref == "personal/v1"
    number2, partial2 = registry.reserve("personal")  # the next run cleans up
    assert number2 == number  # the killed run's number was never used
    assert partial2.is_dir() and not (partial2 / "adapter.gguf").exists()  # its leftovers are gone


def test_use_off_and_rollback_walk_the_history(registry):
    v1, v2 = make_version(registry), make_version(registry)
    assert registry.active() is None
    registry.use(v1.ref)
    registry.use(v2.ref)
    assert registry.active().ref == "personal/v2"
    assert registry.rollback().ref == "personal/v1"
    registry.off()
    assert registry.active() is None
    assert registry.rollback().ref == "personal/v1"
    assert registry.rollback() is None  # before v1 there was no adapter
    with pytest.raises(AdapterError, match="nothing to roll back"):
        registry.rollback()


def test_persona_scope_overrides_the_default(registry):
    default, coder = make_version(registry), make_version(registry, "coder")
    registry.use(default.ref)
    registry.use(coder.ref, scope_for("Coder"))
    assert registry.active_for(None).ref == default.ref
    assert registry.active_for("Writer").ref == default.ref  # no adapter of its own: the default
    assert registry.active_for("Coder").ref == coder.ref
    registry.off(scope_for("Coder"))
    assert registry.active_for("Coder") is None  # off for a persona means none, not the default


def test_an_active_version_cannot_be_deleted(registry):
    v1, v2 = make_version(registry), make_version(registry)
    registry.use(v1.ref, scope_for("Coder"))
    with pytest.raises(AdapterError, match="in use \\(for Coder\\)"):
        registry.delete("personal")
    deleted = registry.delete(v2.ref)
    assert [v.ref for v in deleted] == ["personal/v2"] and not v2.path.exists()
    registry.off(scope_for("Coder"))
    registry.delete("personal")
    assert registry.names() == [] and not (registry.root / "personal").exists()


def test_rollback_skips_deleted_versions(registry):
    v1, v2, v3 = (make_version(registry) for _ in range(3))
    for v in (v1, v2, v3):
        registry.use(v.ref)
    registry.use(v1.ref)  # so v2 and v3 can be deleted
    registry.delete(v3.ref)
    registry.delete(v2.ref)
    assert registry.rollback().ref == "personal/v1"  # v3 and v2 are gone: skipped
    assert registry.rollback() is None  # then what came before v1: no adapter


def test_a_damaged_state_file_means_no_adapter_not_a_crash(registry):
    v1 = make_version(registry)
    registry.use(v1.ref)
    (registry.root / "state.json").write_bytes(b"\x00\xff not json")
    assert registry.active() is None
    registry.use(v1.ref)
    assert registry.active().ref == v1.ref


def test_update_meta_keeps_the_rest(registry):
    v1 = make_version(registry, data={"train": 3})
    updated = registry.update_meta(v1, evaluation={"verdict": "worse"})
    assert updated.verdict == "worse" and registry.get(v1.ref).meta["data"] == {"train": 3}


def test_temporary_files_left_by_a_killed_write_are_swept_when_old(tmp_path):
    import os
    import time

    registry = AdapterRegistry(tmp_path / "adapters")
    old = registry.root / ".state.json.abc.tmp"
    fresh = registry.root / ".state.json.def.tmp"
    registry.root.mkdir(parents=True, exist_ok=True)
    old.write_text("{")
    fresh.write_text("{")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    registry.reserve("personal")
    assert not old.exists()  # litter from a kill -9 mid-write
    assert fresh.exists()  # may belong to a writer that is about to rename it
