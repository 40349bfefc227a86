"""`biseo doctor`: what model and backend would run, GPU support, threads, versions and folders."""

from __future__ import annotations

import platform
import sys
from typing import Any

from assistant import __version__
from assistant.paths import resolve_paths
from assistant.settings import load_settings


def collect_report(*, load: bool = True) -> dict[str, Any]:
    """A nested dict for humans and --json; `ok` is False when the model cannot be used."""
    paths = resolve_paths().ensure()
    settings = load_settings(paths)
    report: dict[str, Any] = {"ok": True}
    versions = {"biseo": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    try:
        import llama_cpp

        versions["llama-cpp-python"] = llama_cpp.__version__
        from assistant.llm.llama_backend import default_threads, gpu_offload_supported

        gpu = gpu_offload_supported()
    except Exception as exc:  # noqa: BLE001
        versions["llama-cpp-python"] = f"unavailable ({exc})"
        gpu, default_threads = False, (lambda: 1)
    model: dict[str, Any] = {"setting": settings.llm.model, "backend": settings.llm.backend}
    if settings.llm.backend == "openai":
        model["server_url"] = settings.llm.server_url
    else:
        model.update(_local_model(settings, paths, load))
    report["ok"] = not model.get("error")
    report["model"] = model
    report["compute"] = {
        "gpu_offload_supported": gpu,
        "n_gpu_layers": settings.llm.n_gpu_layers,
        "threads": settings.llm.n_threads or default_threads(),
        "context_length": settings.llm.n_ctx,
    }
    report["embeddings"] = _embedding_model(settings, paths, load)
    report["voice"] = _voice(settings, paths, load)
    report["versions"] = versions
    report["folders"] = {"config": str(paths.config_file), "data": str(paths.data_dir),
                         "cache": str(paths.cache_dir), "models": str(paths.models_dir),
                         "plugins": str(paths.plugins_dir) + ("" if settings.plugins.user_folder_enabled
                                                              else " (off)")}
    return report


def _embedding_model(settings, paths, load: bool) -> dict[str, Any]:
    """The embedding model memory and documents use: name, dimensions, and whether it loads."""
    out: dict[str, Any] = {"setting": settings.memory.embedding_model}
    if not load:
        return out
    try:
        from assistant.embeddings import load_embedder

        embedder = load_embedder(settings.memory.embedding_model, paths)
        out.update({"loaded": True, "dimensions": embedder.dim})
        model_file = getattr(embedder, "model_file", None)
        if model_file:
            out["file"] = str(model_file)
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure as text
        out["error"] = str(exc)
    return out


def _voice(settings, paths, load: bool) -> dict[str, Any]:
    """Speech in and out: the Whisper model and device, the synthesizer, and the sound devices found."""
    voice = settings.voice
    out: dict[str, Any] = {"stt_model": voice.stt_model}
    try:
        from assistant.voice.stt import Transcriber

        stt = Transcriber(voice, paths)
        out.update({"stt_device": stt.device, "stt_compute_type": stt.compute_type})
        if load:
            stt.load()
            out["stt_loaded"] = True
            stt.close()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure as text
        out["stt_error"] = str(exc)
    if load:
        try:
            from assistant.voice.tts import Synthesizer

            with Synthesizer(voice.tts_voice, voice.tts_rate) as synth:
                out["tts_voice"] = synth.voice or "system default"
        except Exception as exc:  # noqa: BLE001
            out["tts_error"] = str(exc)
    try:
        from assistant.voice.devices import list_devices

        devices = list_devices()
        out["microphones"] = [d["name"] for d in devices if d["inputs"]] or "none found"
        out["speakers"] = [d["name"] for d in devices if d["outputs"]] or "none found"
    except Exception as exc:  # noqa: BLE001
        out["sound_devices"] = str(exc)
    return out


def _local_model(settings, paths, load: bool) -> dict[str, Any]:
    from assistant.catalog.manifests import load_catalog
    from assistant.catalog.resolver import resolve_model
    from assistant.llm.gguf_check import check_gguf

    out: dict[str, Any] = {}
    try:
        resolved = resolve_model(settings.llm.model, paths, load_catalog(paths))
        out["file"] = str(resolved.path)
        info = check_gguf(resolved.path)
        out["architecture"] = info.architecture
        out["file_size_mb"] = round(resolved.path.stat().st_size / 1e6, 1)
        out["trained_context"] = info.context_length
        if load:
            from assistant.llm.llama_backend import LlamaCppBackend

            backend = LlamaCppBackend(resolved.path, n_ctx=settings.llm.n_ctx, n_gpu_layers=settings.llm.n_gpu_layers,
                                      n_threads=settings.llm.n_threads)
            out["loaded"] = True
            out["n_gpu_layers_used"] = backend.n_gpu_layers
            if backend.gpu_fallback_reason:
                out["gpu_fallback"] = backend.gpu_fallback_reason
            backend.close()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure as text
        out["error"] = str(exc)
    return out
