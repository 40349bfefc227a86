"""The model catalog: manifests, bundled models, verified downloads and the name-to-file resolver."""

from assistant.catalog.bundled import BundledModelError, assemble_bundled
from assistant.catalog.download import (
    NO_CHECKSUM_NOTE,
    ChecksumError,
    DownloadCancelled,
    Downloaded,
    DownloadError,
    TextProgress,
    download,
)
from assistant.catalog.manifests import (
    ManifestError,
    ModelManifest,
    load_catalog,
    load_manifests,
    manifest_dirs,
)
from assistant.catalog.resolver import (
    ModelNotAvailable,
    ModelStatus,
    ResolvedModel,
    download_model,
    list_models,
    resolve_model,
)

__all__ = [
    "NO_CHECKSUM_NOTE", "BundledModelError", "ChecksumError", "DownloadCancelled", "DownloadError",
    "Downloaded", "ManifestError", "ModelManifest", "ModelNotAvailable", "ModelStatus", "ResolvedModel",
    "TextProgress", "assemble_bundled", "download", "download_model", "list_models", "load_catalog",
    "load_manifests", "manifest_dirs", "resolve_model",
]
