"""Resumable, verified model downloads over HTTP(S), and a text progress bar for the terminal."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import httpx

log = logging.getLogger(__name__)

Progress = Callable[[int, "int | None"], None]
CHUNK_BYTES = 1 << 20
NO_CHECKSUM_NOTE = "no checksum in manifest: size-checked only"
FOLDER_NO_CHECKSUM_NOTE = "no checksums in manifest: each file checked against the length the server sent"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class Cancel(Protocol):
    """Anything with a `cancelled` flag, e.g. assistant.cancel.CancelToken."""

    @property
    def cancelled(self) -> bool: ...


class DownloadError(RuntimeError):
    """A download failed; the partial file is kept where resuming makes sense."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not match the expected sha256 or size; nothing is kept."""


class DownloadCancelled(DownloadError):
    """The user cancelled; the partial file is kept so a later call resumes."""


@dataclass(frozen=True)
class Downloaded:
    """A finished download: where it is, its sha256, and whether that was checked against a pinned value."""

    path: Path
    sha256: str
    size: int
    checksum_verified: bool
    unverified_note: str = NO_CHECKSUM_NOTE  # what was checked instead (folder models say so themselves)

    @property
    def note(self) -> str:
        return "sha256 verified" if self.checksum_verified else self.unverified_note


def part_path(dest: Path) -> Path:
    """Where an unfinished download or assembly of `dest` is kept."""
    return dest.with_name(dest.name + ".part")


def sidecar_path(dest: Path) -> Path:
    """The small file recording a verified file's sha256 and size, so later starts skip re-hashing."""
    return dest.with_name(dest.name + ".sha256")


def write_sidecar(dest: Path, sha256: str) -> None:
    """Record a verified digest next to the file (size included, so a changed file does not match)."""
    size = dest.stat().st_size
    try:
        sidecar_path(dest).write_text(f"{sha256}  {dest.name}  {size}\n", encoding="ascii")
    except OSError as exc:  # only an optimization: a read-only folder just means hashing again later
        log.debug("cannot write %s: %s", sidecar_path(dest), exc)


def sidecar_matches(dest: Path, sha256: str) -> bool:
    """True when the sidecar says this exact file (by size) was verified to have this digest."""
    try:
        digest, _name, size = sidecar_path(dest).read_text(encoding="ascii").split()
        return digest == sha256 and int(size) == dest.stat().st_size
    except (OSError, ValueError):
        return False


def hash_file(path: Path, hasher: "hashlib._Hash | None" = None, progress: Progress | None = None,
              total: int | None = None) -> "hashlib._Hash":
    """Feed a file's bytes into a sha256 hasher (new unless given), reporting progress."""
    hasher = hasher or hashlib.sha256()
    done = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * CHUNK_BYTES):
            hasher.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return hasher


def install_file(part: Path, dest: Path, handle: IO[bytes] | None = None) -> None:
    """Flush a finished .part to disk and rename it over dest atomically (no half file is ever visible)."""
    if handle is not None:
        handle.flush()
        os.fsync(handle.fileno())
    else:
        with open(part, "rb+") as fresh:
            os.fsync(fresh.fileno())
    os.replace(part, dest)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable where the OS allows it
        fd = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def download(url: str, dest: str | os.PathLike[str], *, sha256: str = "", size: int | None = None,
             progress: Progress | None = None, cancel: Cancel | None = None, timeout: float = 30.0,
             retries: int = 5, client: httpx.Client | None = None) -> Downloaded:
    """Download url to dest via dest.part, resuming a previous .part; verify size and sha256; rename atomically."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sha256 = sha256.strip().lower()
    own_client = client is None
    if client is None:
        client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True,
                              headers={"User-Agent": "biseo-model-downloader"})
    try:
        job = _Job(url, dest, sha256, size, progress, cancel, retries, client)
        return job.run()
    finally:
        if own_client:
            client.close()


class _Job:
    """One download's state: the .part file, the running hash and the byte count."""

    def __init__(self, url: str, dest: Path, sha256: str, size: int | None, progress: Progress | None,
                 cancel: Cancel | None, retries: int, client: httpx.Client) -> None:
        self.url, self.dest, self.sha256, self.size = url, dest, sha256, size
        self.progress, self.cancel, self.retries, self.client = progress, cancel, retries, client
        self.part = part_path(dest)
        self.total: int | None = size
        self.hasher = hashlib.sha256()
        self.done = 0

    def run(self) -> Downloaded:
        self._resume_existing_part()
        failures = 0
        while True:
            self._check_cancel()
            if self.size is not None and self.done == self.size:
                break  # the .part already holds every byte
            before = self.done
            try:
                if self._fetch():
                    break
            except httpx.TransportError as exc:
                # Dropped connections and timeouts: resume from what arrived, up to `retries` times in a
                # row without progress (a slow but moving download never gives up).
                failures = 0 if self.done > before else failures + 1
                if failures > self.retries:
                    raise DownloadError(
                        f"download of {self.url} failed after {self.retries} retries ({exc}); "
                        f"{self.done} bytes are kept in {self.part}, so running it again resumes") from exc
                log.info("connection dropped at %d bytes (%s); resuming", self.done, exc)
                self._sleep(min(2.0 ** failures * 0.25, 8.0))
        return self._finish()

    def _resume_existing_part(self) -> None:
        if not self.part.exists():
            return
        have = self.part.stat().st_size
        if self.size is not None and have > self.size:
            self.part.unlink()  # longer than the model: not ours, start over
            return
        # The hash covers the whole file, so the bytes from last time go in first.
        hash_file(self.part, self.hasher)
        self.done = have
        self._report()

    def _fetch(self) -> bool:
        """Make one request and stream it into the .part; True when the file is complete."""
        headers = {"Accept-Encoding": "identity"}  # compressed transfer would break byte ranges
        if self.done:
            headers["Range"] = f"bytes={self.done}-"
        with self.client.stream("GET", self.url, headers=headers) as response:
            status = response.status_code
            if status == 416 and self.done:
                return self._range_not_satisfiable(response)
            if status == 206 and self.done:
                self._accept_partial(response)
            elif status == 200:
                if self.done:
                    log.info("server ignored the range request; starting %s again", self.dest.name)
                    self._restart()
                self._set_total(_int_header(response, "content-length"))
            elif status >= 500 or status == 429:
                raise httpx.RemoteProtocolError(f"server error HTTP {status}")  # retried like a drop
            else:
                raise DownloadError(f"download of {self.url} failed: the server answered HTTP {status} "
                                    f"{response.reason_phrase}")
            self._stream(response)
        # Without a length from server or manifest the end of the body is the end of the file.
        if self.total is not None and self.done < self.total:
            raise httpx.RemoteProtocolError(f"connection closed at {self.done} of {self.total} bytes")
        return True

    def _range_not_satisfiable(self, response: httpx.Response) -> bool:
        match = re.fullmatch(r"bytes\s+\*/(\d+)", response.headers.get("content-range", "").strip())
        if match and int(match.group(1)) == self.done:
            self._set_total(self.done)
            return True  # we already have all of it
        self._restart()
        return False

    def _accept_partial(self, response: httpx.Response) -> None:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        if not match or int(match.group(1)) != self.done:
            # A range we did not ask for cannot be appended safely; take the whole file next time.
            self._restart()
            raise httpx.RemoteProtocolError(
                f"server sent range {response.headers.get('content-range')!r} for bytes={self.done}-")
        if match.group(3) != "*":
            self._set_total(int(match.group(3)))

    def _set_total(self, total: int | None) -> None:
        if total is None:
            return
        if self.size is not None and total != self.size:
            raise DownloadError(f"download of {self.url} failed: the server offers {total} bytes, but "
                                f"the model should be {self.size} bytes (wrong URL or a changed file)")
        self.total = total

    def _restart(self) -> None:
        self.part.unlink(missing_ok=True)
        self.hasher = hashlib.sha256()
        self.done = 0
        self._report()

    def _stream(self, response: httpx.Response) -> None:
        too_long = False
        # Whatever arrives is flushed to the .part, so a cancelled or dropped transfer can resume.
        with open(self.part, "ab") as handle:
            for chunk in response.iter_bytes():  # as received, so a drop loses nothing
                handle.write(chunk)
                self.hasher.update(chunk)
                self.done += len(chunk)
                if self.total is not None and self.done > self.total:
                    too_long = True
                    break
                self._report()
                self._check_cancel()
        if too_long:
            self._fail_verification(f"the server sent more than the expected {self.total} bytes")

    def _finish(self) -> Downloaded:
        if self.size is not None and self.done != self.size:
            self._fail_verification(f"got {self.done} bytes, expected {self.size}")
        digest = self.hasher.hexdigest()
        if self.sha256 and digest != self.sha256:
            self._fail_verification(f"sha256 is {digest}, expected {self.sha256}")
        if not self.sha256:
            log.warning("%s: %s", self.dest.name, NO_CHECKSUM_NOTE)
        install_file(self.part, self.dest)
        write_sidecar(self.dest, digest)
        return Downloaded(self.dest, digest, self.done, checksum_verified=bool(self.sha256))

    def _fail_verification(self, detail: str) -> None:
        self.part.unlink(missing_ok=True)
        raise ChecksumError(f"download of {self.dest.name} from {self.url} is corrupt ({detail}); "
                            f"the partial file was deleted, so running it again starts afresh")

    def _report(self) -> None:
        if self.progress:
            self.progress(self.done, self.total)

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise DownloadCancelled(f"download of {self.dest.name} cancelled at {self.done} bytes; "
                                    f"running it again resumes from there")

    def _sleep(self, seconds: float) -> None:
        wait = getattr(self.cancel, "wait", None)
        if callable(wait):
            wait(seconds)  # wakes early on cancel
        else:
            time.sleep(seconds)
        self._check_cancel()


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    return int(value) if value and value.isdigit() else None


def human_bytes(n: float) -> str:
    """Bytes as a short decimal size: 491.4 MB, 4.7 GB."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class TextProgress:
    """A one-line progress bar on stderr (percent, MB, MB/s, ETA); silent unless stderr is a TTY or forced."""

    def __init__(self, label: str = "", *, stream: IO[str] | None = None, force: bool = False,
                 min_interval: float = 0.1) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval
        self._start: float | None = None
        self._start_bytes = 0
        self._last = 0.0
        self._width = 0

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._start is None:
            self._start, self._start_bytes = now, done  # resumed bytes do not count toward speed
        finished = total is not None and done >= total
        if not finished and now - self._last < self.min_interval:
            return
        self._last = now
        self._write(self.render(done, total, now))

    def render(self, done: int, total: int | None, now: float | None = None) -> str:
        """The line for this state, without the carriage return."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - (self._start if self._start is not None else now), 1e-6)
        rate = max(done - self._start_bytes, 0) / elapsed
        parts = [self.label] if self.label else []
        if total:
            parts.append(f"{min(done / total, 1.0) * 100:5.1f}%")
            parts.append(f"{done / 1e6:,.1f}/{total / 1e6:,.1f} MB")
        else:
            parts.append(f"{done / 1e6:,.1f} MB")
        parts.append(f"{rate / 1e6:.1f} MB/s")
        if total and rate > 0 and done < total:
            parts.append(f"ETA {_clock((total - done) / rate)}")
        return "  ".join(parts)

    def _write(self, line: str) -> None:
        pad = " " * max(self._width - len(line), 0)  # wipe what a longer previous line left
        self._width = len(line)
        self.stream.write(f"\r{line}{pad}")
        self.stream.flush()

    def close(self) -> None:
        """End the line so later output starts on a fresh one."""
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
