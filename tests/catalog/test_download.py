"""The downloader against a local HTTP server serving a real GGUF: resume, restarts, checksums, cancel."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant.cancel import CancelToken
from assistant.catalog.download import (
    NO_CHECKSUM_NOTE,
    ChecksumError,
    DownloadCancelled,
    DownloadError,
    TextProgress,
    download,
    part_path,
    sidecar_matches,
)
from assistant.catalog.manifests import ModelManifest

MB = 1_000_000


def _get(server, dest: Path, manifest: ModelManifest, **kwargs):
    kwargs.setdefault("sha256", manifest.sha256)
    kwargs.setdefault("size", manifest.size)
    return download(server.url, dest, timeout=10, **kwargs)


def test_full_download_reports_progress_and_verifies(file_server, smollm2, tmp_path):
    dest = tmp_path / "m.gguf"
    seen: list[tuple[int, int | None]] = []
    result = _get(file_server, dest, smollm2, progress=lambda done, total: seen.append((done, total)))
    assert result.path == dest and result.checksum_verified and result.sha256 == smollm2.sha256
    assert dest.stat().st_size == smollm2.size
    assert not part_path(dest).exists()
    assert sidecar_matches(dest, smollm2.sha256)
    assert seen[-1] == (smollm2.size, smollm2.size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert file_server.requests == [None]


def test_dropped_connection_resumes_with_range(file_server, smollm2, tmp_path):
    file_server.drop_after = 30 * MB
    dest = tmp_path / "m.gguf"
    result = _get(file_server, dest, smollm2)
    assert result.sha256 == smollm2.sha256 and dest.stat().st_size == smollm2.size
    assert file_server.requests == [None, f"bytes={30 * MB}-"]


def test_server_ignoring_range_restarts_cleanly(file_server, smollm2, tmp_path):
    dest = tmp_path / "m.gguf"
    part_path(dest).write_bytes(b"\xff" * (5 * MB))  # junk a resume would wrongly keep
    file_server.ignore_range = True
    result = _get(file_server, dest, smollm2)
    assert result.sha256 == smollm2.sha256
    assert file_server.requests == [f"bytes={5 * MB}-"]


def test_complete_part_with_unknown_size_finishes_on_416(file_server, smollm2, smollm2_path, tmp_path):
    dest = tmp_path / "m.gguf"
    part_path(dest).write_bytes(smollm2_path.read_bytes())
    result = _get(file_server, dest, smollm2, size=None)
    assert result.sha256 == smollm2.sha256
    assert file_server.requests == [f"bytes={smollm2.size}-"]


def test_checksum_mismatch_is_clear_and_leaves_nothing(file_server, smollm2, tmp_path):
    dest = tmp_path / "m.gguf"
    with pytest.raises(ChecksumError, match=r"m\.gguf .*is corrupt \(sha256 is [0-9a-f]{64}, expected 0{64}\)"):
        _get(file_server, dest, smollm2, sha256="0" * 64)
    assert not dest.exists() and not part_path(dest).exists()


def test_cancel_keeps_part_and_a_later_call_resumes(file_server, smollm2, tmp_path):
    dest = tmp_path / "m.gguf"
    token = CancelToken()

    def cancel_at_20mb(done: int, total: int | None) -> None:
        if done >= 20 * MB:
            token.cancel()

    with pytest.raises(DownloadCancelled, match="running it again resumes"):
        _get(file_server, dest, smollm2, progress=cancel_at_20mb, cancel=token)
    kept = part_path(dest).stat().st_size
    assert 20 * MB <= kept < smollm2.size and not dest.exists()

    result = _get(file_server, dest, smollm2)
    assert result.sha256 == smollm2.sha256
    assert file_server.requests[-1] == f"bytes={kept}-"


def test_no_checksum_is_size_checked_only(file_server, smollm2, tmp_path):
    result = _get(file_server, tmp_path / "m.gguf", smollm2, sha256="", size=None)
    assert not result.checksum_verified and result.note == NO_CHECKSUM_NOTE
    assert result.size == smollm2.size


def test_size_disagreeing_with_server_is_refused(file_server, smollm2, tmp_path):
    with pytest.raises(DownloadError, match=f"offers {smollm2.size} bytes, but the model should be 123"):
        _get(file_server, tmp_path / "m.gguf", smollm2, size=123)


def test_http_error_is_clear(file_server, smollm2, tmp_path):
    file_server.status = 404
    with pytest.raises(DownloadError, match="answered HTTP 404"):
        _get(file_server, tmp_path / "m.gguf", smollm2)


def test_unreachable_server_gives_up_after_retries(smollm2, tmp_path):
    with pytest.raises(DownloadError, match="failed after 1 retries"):
        download("http://127.0.0.1:9/m.gguf", tmp_path / "m.gguf", sha256=smollm2.sha256, retries=1,
                 timeout=2)


def test_text_progress_line():
    out = io.StringIO()
    bar = TextProgress("model", stream=out, force=True, min_interval=0)
    bar._start, bar._start_bytes = 0.0, 0
    line = bar.render(50 * MB, 100 * MB, now=10.0)
    assert line == "model   50.0%  50.0/100.0 MB  5.0 MB/s  ETA 0:10"
    bar(100 * MB, 100 * MB)
    bar.close()
    assert out.getvalue().startswith("\r") and out.getvalue().endswith("\n")
    assert not TextProgress(stream=io.StringIO()).enabled  # not a TTY, not forced
