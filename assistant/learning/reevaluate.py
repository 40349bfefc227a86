"""`biseo adapters eval`: the before/after evaluation of a stored version, run again on its held-out data."""

from __future__ import annotations

from assistant.learning.registry import AdapterRegistry, AdapterVersion


def rerun(registry: AdapterRegistry, version: AdapterVersion) -> AdapterVersion:
    """Evaluate `version` on the data it was trained with (its held-out part) and store the new figures."""
    from assistant.learning.dataset import Dataset
    from assistant.learning.formatting import PromptFormat
    from assistant.learning.train_job import _base_model, evaluate_version
    from assistant.paths import resolve_paths
    from assistant.settings import load_settings

    paths = resolve_paths().ensure()
    settings = load_settings(paths)
    model_path, _ = _base_model(settings, paths)
    base = version.meta.get("base_model") or {}
    if base.get("size") not in (None, model_path.stat().st_size):
        raise RuntimeError(f"it was trained for {base.get('name') or base.get('file')}, not the model in use "
                           f"({model_path.name})")
    data = version.path / "data.jsonl"
    if not data.is_file():
        raise RuntimeError("its data file (data.jsonl) is missing")
    dataset = Dataset.load(data)
    system_prompt = version.meta.get("system_prompt") or settings.chat.system_prompt
    fmt = PromptFormat(model_path)
    try:
        evaluation, _ = evaluate_version(model_path, fmt, version.gguf, dataset.held_out, system_prompt,
                                         settings.learning.sanity_tolerance, tuple(settings.learning.strengths))
    finally:
        fmt.close()
    return registry.update_meta(version, evaluation=evaluation)
