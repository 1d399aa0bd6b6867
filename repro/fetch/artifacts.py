"""Data files, downloaded with requests and checked against their sha256.

Cache layout under <home>/data/:

    files/<sha256>/<name>        a verified file, published by an atomic rename
    extracted/<sha256>/          an archive's contents (when `extract: true`)
    partial/<sha256>.part        a download in progress, resumed with an HTTP Range request
    locks/<sha256>.lock          held while fetching, so concurrent processes share one download

The cache is addressed by hash, so a file is downloaded once whatever paper or URL names
it (a second name for the same bytes is a local copy). A folder of pre-seeded files (REPRO_DATA_DIR, or `repro fetch --data-dir`) is searched
first: any file there with the right size and sha256 is copied in, and nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

from repro.errors import DataError
from repro.fetch.locks import file_lock
from repro.catalog.manifest import DataArtifact
from repro.paths import home, seeded_data_dir

CHUNK = 1 << 16
ATTEMPTS_PER_URL = 4
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt
TIMEOUT_SECONDS = (10, 30)  # connect, read (between bytes)
# A whole download's deadline: GRACE_SECONDS plus the size at MIN_BYTES_PER_SECOND. A mirror
# trickling bytes (each within the read timeout) is given up for the next one.
GRACE_SECONDS = 60
MIN_BYTES_PER_SECOND = 50_000
PROGRESS_EVERY_SECONDS = 10  # in a log (not a terminal): a progress line this often



def cached_path(artifact: DataArtifact) -> Path:
    """Where the verified file (or, for archives, the extracted folder) lives."""
    root = home() / "data"
    if artifact.extract:
        return root / "extracted" / artifact.sha256
    return root / "files" / artifact.sha256 / artifact.name


def fetch_artifact(artifact: DataArtifact, *, seed_dir: Path | None = None, show_progress: bool = True) -> Path:
    """The verified file (or extracted folder) of `artifact`, from the cache, a seed folder or a mirror."""
    from repro.fetch.archives import extract_archive

    target = cached_path(artifact)
    if target.exists():
        return target
    root = home() / "data"
    with file_lock(root / "locks" / f"{artifact.sha256}.lock", f"waiting for another repro process fetching {artifact.name} ..."):
        if target.exists():
            return target
        file = root / "files" / artifact.sha256 / artifact.name
        if not file.exists():
            local = _same_bytes_cached(file) or _find_seeded(artifact, seed_dir or seeded_data_dir())
            if local:
                _publish_copy(local, file, artifact)
            else:
                _download(artifact, file, show_progress)
        if artifact.extract:
            extract_archive(file, target, artifact.extracted_size)
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------ helpers


def _find_seeded(artifact: DataArtifact, seed_dir: Path | None) -> Path | None:
    """A file in seed_dir (searched recursively) with the artifact's size and sha256."""
    if seed_dir is None or not seed_dir.is_dir():
        return None
    for path in sorted(seed_dir.rglob("*")):
        if path.is_file() and path.stat().st_size == artifact.size and sha256_of(path) == artifact.sha256:
            return path
    return None


def _same_bytes_cached(file: Path) -> Path | None:
    """The same bytes cached under another name (the folder is named by their sha256)."""
    if not file.parent.is_dir():
        return None
    return next((p for p in sorted(file.parent.iterdir()) if not p.name.startswith(".")), None)


def _publish_copy(source: Path, file: Path, artifact: DataArtifact) -> None:
    """Copy a local file into the cache, verifying the copy before it is published."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, tmp)
        if sha256_of(tmp) != artifact.sha256:
            raise DataError(f"{source} changed while it was copied (its sha256 differs); copy it again")
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)


def _download(artifact: DataArtifact, file: Path, show_progress: bool) -> None:
    """Try each mirror in turn; publish only verified bytes."""
    partial = home() / "data" / "partial" / f"{artifact.sha256}.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    outcomes: list[str] = []
    for url in artifact.urls:
        if _try_mirror(url, partial, artifact, show_progress, outcomes):
            file.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, file)
            return
    raise DataError(
        f"could not get data file {artifact.name!r}:\n  " + "\n  ".join(outcomes)
        + "\n  Offline? Put the file in a folder and set REPRO_DATA_DIR to it (or `repro fetch --data-dir`)."
    )


def _try_mirror(url: str, partial: Path, artifact: DataArtifact, show_progress: bool, outcomes: list[str]) -> bool:
    """Download from one mirror into `partial`, with retries; True when it holds the verified bytes.

    A leftover partial file (an interrupted run, perhaps from another mirror) is resumed first;
    if the result does not verify, the mirror gets one more try from byte 0 before it is blamed.
    """
    import requests

    fresh_start = not partial.exists()
    while True:
        for attempt in range(ATTEMPTS_PER_URL):
            try:
                _stream(url, partial, artifact, show_progress)
                break
            except (requests.RequestException, _ServerError) as exc:  # cut, timed out, 5xx: retry
                if attempt + 1 == ATTEMPTS_PER_URL:
                    outcomes.append(f"{redact(url)}: {_describe(exc)} (after {ATTEMPTS_PER_URL} attempts)")
                    partial.unlink(missing_ok=True)
                    return False
                time.sleep(BACKOFF_SECONDS * 2**attempt)
            except _Refused as exc:
                outcomes.append(f"{redact(url)}: {redact(str(exc))}")
                partial.unlink(missing_ok=True)
                return False
        size, digest = partial.stat().st_size, sha256_of(partial)
        if size == artifact.size and digest == artifact.sha256:
            return True
        partial.unlink(missing_ok=True)
        if not fresh_start:  # the bad bytes may have been the leftover's
            fresh_start = True
            continue
        outcomes.append(f"{redact(url)}: served {size} bytes with sha256 {digest}, expected {artifact.size} bytes "
                        f"with sha256 {artifact.sha256}; rejected")
        return False


class _ServerError(Exception):
    """A 5xx answer or a connection cut short: worth another attempt."""


class _Refused(Exception):
    """A 4xx answer: this mirror will not serve the file; try the next one."""


def _stream(url: str, partial: Path, artifact: DataArtifact, show_progress: bool) -> None:
    """Download into `partial`, continuing where it stopped if the server honours Range."""
    import requests

    have = partial.stat().st_size if partial.exists() else 0
    if have >= artifact.size:  # a complete (or overlong) leftover: verify it as it is
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT_SECONDS) as response:
        if response.status_code >= 500:
            raise _ServerError(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _Refused(f"HTTP {response.status_code} {response.reason}")
        range_start = response.headers.get("Content-Range", "").startswith(f"bytes {have}-")
        resumed = response.status_code == 206 and range_start
        mode = "ab" if resumed else "wb"  # a 200 (or a 206 of other bytes) to a Range request: start over
        done = have if resumed else 0
        bar = _Bar(artifact.name, artifact.size, done) if show_progress else None
        deadline = time.monotonic() + GRACE_SECONDS + (artifact.size - done) / MIN_BYTES_PER_SECOND
        with open(partial, mode) as out:
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
                done += len(chunk)
                if done > artifact.size:  # longer than the manifest says: it cannot verify
                    break
                if bar:
                    bar.update(done)
                if time.monotonic() > deadline:
                    raise _Refused(f"too slow: {done:,} of {artifact.size:,} bytes by its deadline "
                                   f"({GRACE_SECONDS} s + the size at {MIN_BYTES_PER_SECOND // 1000} kB/s)")
        if bar:
            bar.close()
    if done < artifact.size:
        raise _ServerError(f"connection closed after {done} of {artifact.size} bytes")


def _describe(exc: Exception) -> str:
    text = redact(str(exc) or type(exc).__name__)
    return text if len(text) < 200 else text[:197] + "..."


def redact(text: str) -> str:
    """Every URL in `text` without its user and password (https://user:pw@host -> https://***@host):
    what repro prints or records never carries a credential from a manifest."""
    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@", r"\1***@", text)


class _Bar:
    """Download progress on stderr, shown only for downloads that last more than ~2 s."""

    def __init__(self, name: str, total: int, done: int):
        self.name, self.total, self.started, self.shown, self.last = name, total, time.time(), False, 0.0
        self.live = sys.stderr.isatty()

    def update(self, done: int) -> None:
        now = time.time()
        if now - self.started < 2 or not self.live and self.shown and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.shown, self.last = True, now
        end = "" if self.live else "\n"
        print(f"\rdownloading {self.name}: {done / 1e6:.1f} / {self.total / 1e6:.1f} MB "
              f"({100 * done / self.total:.0f}%)", end=end, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:
            print(f"\rdownloading {self.name}: done" + " " * 30, file=sys.stderr, flush=True)
