"""Data files (repro.fetch.artifacts / archives): download, resume, verify, cache, seed, extract.

Every test talks to a real HTTP server on 127.0.0.1 (fixture `server`) whose behaviour is
chosen by the first path component and which records every request it gets:

    /ok/<name>       the file; honours `Range: bytes=N-` with 206 + Content-Range
    /cut/<name>      1st request: Content-Length of the whole file, half the bytes, then a
                     closed connection; later requests behave like /ok/
    /norange/<name>  1st request cut like /cut/; later requests ignore Range (200, whole file)
    /wrong/<name>    other bytes of the same length (sha256 mismatch)
    /500/<name>      always HTTP 500
    /404/<name>      always HTTP 404
    /hold/<name>     the file, but the second half waits until the test sets `server.release`

"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

import repro.fetch.artifacts as artifacts_module
from repro.fetch.archives import UnsafeArchive
from repro.fetch.artifacts import DataError, cached_path, fetch_artifact
from repro.catalog.manifest import DataArtifact

REPO = Path(__file__).resolve().parents[2]
PAYLOAD_SIZE = 300_000
FLIP = bytes(range(255, -1, -1))  # bytes.translate table: every byte b -> 255 - b


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------ the HTTP server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep pytest output quiet
        pass

    def do_GET(self):
        state: FileServer = self.server.state  # type: ignore[attr-defined]
        parts = self.path.split("/", 2)
        mode, name = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
        count = state.record(self.path, self.headers.get("Range"))
        data = state.files.get(name)
        if mode == "500":
            return self._status(500, "Internal Server Error")
        if mode == "404" or data is None:
            return self._status(404, "Not Found")
        if mode in ("cut", "norange") and count == 1:
            return self._cut(data)
        if mode == "wrong":
            return self._whole(data.translate(FLIP))
        if mode == "norange":
            return self._whole(data)
        if mode == "hold":
            return self._held(data, state.release)
        if mode == "trickle":
            return self._trickle(data)
        if mode in ("ok", "cut"):
            return self._ranged(data)
        return self._status(404, "Not Found")

    def _status(self, code: int, reason: str) -> None:
        body = f"{code} {reason}\n".encode()
        self.send_response(code, reason)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _whole(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(data)

    def _cut(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True  # the server closes the socket once we return

    def _ranged(self, data: bytes) -> None:
        header = self.headers.get("Range")
        if not header:
            return self._whole(data)
        assert header.startswith("bytes=") and header.endswith("-"), header
        start = int(header[len("bytes="):-1])
        if start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def _trickle(self, data: bytes) -> None:
        """4 kB every 0.05 s: always within the read timeout, never done in time."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for start in range(0, len(data), 4096):
                self.wfile.write(data[start:start + 4096])
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _held(self, data: bytes, release: threading.Event) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        half = len(data) // 2
        self.wfile.write(data[:half])
        self.wfile.flush()
        release.wait(20)
        self.wfile.write(data[half:])


class FileServer:
    """Serves `files` (name -> bytes) under /<mode>/<name>; `requests` lists (path, Range header)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def record(self, path: str, range_header: str | None) -> int:
        """Record a request; return how many requests this path has had, this one included."""
        with self._lock:
            self.requests.append((path, range_header))
            self._counts[path] = self._counts.get(path, 0) + 1
            return self._counts[path]

    def url(self, mode: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/{name}"

    def requests_to(self, mode: str, name: str) -> list[str | None]:
        """The Range headers of the requests made to /<mode>/<name>, in order."""
        with self._lock:
            return [rng for path, rng in self.requests if path == f"/{mode}/{name}"]

    def add(self, name: str, data: bytes) -> None:
        self.files[name] = data


@pytest.fixture(scope="session")
def payload() -> bytes:
    return os.urandom(PAYLOAD_SIZE)


@pytest.fixture
def server():
    srv = FileServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(5)


@pytest.fixture(autouse=True)
def _fast_and_isolated(monkeypatch, repro_home):
    """Quick retries, an isolated REPRO_HOME, and no seed folder from the caller's environment."""
    monkeypatch.setattr(artifacts_module, "BACKOFF_SECONDS", 0.01)
    monkeypatch.delenv("REPRO_DATA_DIR", raising=False)


def artifact_for(name: str, data: bytes, urls: list[str], extract: bool = False) -> DataArtifact:
    return DataArtifact(name=name, urls=urls, sha256=sha(data), size=len(data), extract=extract)


def data_root(repro_home: Path) -> Path:
    return repro_home / "data"


def leftovers(repro_home: Path) -> list[Path]:
    """Files in the data cache other than lock files: partial downloads, temp files, published files."""
    root = data_root(repro_home)
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name != "locks")


# ------------------------------------------------------------------------ 1. normal download


def test_download_verifies_and_caches_then_reuses_without_http(server, payload, repro_home):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("ok", "data.bin")])

    path = fetch_artifact(art, show_progress=False)

    assert path == cached_path(art)
    assert path == data_root(repro_home) / "files" / art.sha256 / "data.bin"
    assert path.read_bytes() == payload
    assert artifacts_module.sha256_of(path) == art.sha256
    assert server.requests_to("ok", "data.bin") == [None]
    assert leftovers(repro_home) == [path]  # no .part, no temp file

    seen = len(server.requests)
    assert fetch_artifact(art, show_progress=False) == path
    assert len(server.requests) == seen  # served from the cache: no HTTP request at all


# ------------------------------------------------------------------------ 2-3. resume


def test_cut_connection_is_resumed_with_range(server, payload, repro_home):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("cut", "data.bin")])

    path = fetch_artifact(art, show_progress=False)

    assert path.read_bytes() == payload
    ranges = server.requests_to("cut", "data.bin")
    assert ranges[0] is None
    resumed = [int(r[len("bytes="):-1]) for r in ranges[1:] if r]
    assert resumed and resumed[0] > 0, ranges  # resumed where the cut left it, not from 0
    assert resumed[0] <= PAYLOAD_SIZE // 2
    assert leftovers(repro_home) == [path]


def test_server_ignoring_range_still_gives_the_right_file(server, payload, repro_home):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("norange", "data.bin")])

    path = fetch_artifact(art, show_progress=False)

    ranges = server.requests_to("norange", "data.bin")
    assert ranges[0] is None and len(ranges) >= 2
    assert ranges[1] and ranges[1] != "bytes=0-"  # a resume was attempted (and answered with 200)
    assert path.stat().st_size == PAYLOAD_SIZE  # not the half plus the whole
    assert path.read_bytes() == payload
    assert leftovers(repro_home) == [path]


# ------------------------------------------------------------------------ 4. wrong bytes


def test_wrong_bytes_are_rejected_and_nothing_is_cached(server, payload, repro_home):
    server.add("data.bin", payload)
    url = server.url("wrong", "data.bin")
    art = artifact_for("data.bin", payload, [url])

    with pytest.raises(DataError) as info:
        fetch_artifact(art, show_progress=False)

    message = str(info.value)
    assert url in message
    assert sha(payload.translate(FLIP)) in message  # what was served
    assert art.sha256 in message  # what was expected
    assert str(PAYLOAD_SIZE) in message
    assert "REPRO_DATA_DIR" in message  # the offline hint
    assert info.value.exit_code == 3
    assert not cached_path(art).exists()
    assert not (data_root(repro_home) / "partial" / f"{art.sha256}.part").exists()
    assert leftovers(repro_home) == []


def test_wrong_mirror_then_good_mirror(server, payload, repro_home):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("wrong", "data.bin"), server.url("ok", "data.bin")])

    path = fetch_artifact(art, show_progress=False)

    assert path.read_bytes() == payload
    assert server.requests_to("wrong", "data.bin") == [None]  # a checksum mismatch is not retried
    assert server.requests_to("ok", "data.bin") == [None]  # the good mirror starts from 0
    assert leftovers(repro_home) == [path]


def test_stale_corrupt_partial_does_not_fail_a_good_mirror(server, payload, repro_home):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("ok", "data.bin")])
    partial = data_root(repro_home) / "partial" / f"{art.sha256}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(payload[:1000].translate(FLIP))  # a wrong prefix

    assert fetch_artifact(art, show_progress=False).read_bytes() == payload


# ------------------------------------------------------------------------ 5. failing mirrors


def test_404_mirror_then_good_mirror(server, payload, repro_home):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("404", "data.bin"), server.url("ok", "data.bin")])

    path = fetch_artifact(art, show_progress=False)

    assert path.read_bytes() == payload
    assert len(server.requests_to("404", "data.bin")) == 1  # a 4xx is not retried
    assert server.requests_to("ok", "data.bin") == [None]


def test_500_is_retried_then_reported(server, payload, repro_home):
    server.add("data.bin", payload)
    url = server.url("500", "data.bin")
    art = artifact_for("data.bin", payload, [url])

    with pytest.raises(DataError) as info:
        fetch_artifact(art, show_progress=False)

    assert len(server.requests_to("500", "data.bin")) == artifacts_module.ATTEMPTS_PER_URL
    message = str(info.value)
    assert url in message
    assert "500" in message
    assert f"after {artifacts_module.ATTEMPTS_PER_URL} attempts" in message
    assert leftovers(repro_home) == []


def test_unreachable_mirror_is_retried_then_next_mirror(server, payload, repro_home):
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [f"http://127.0.0.1:{dead_port}/data.bin", server.url("ok", "data.bin")])

    assert fetch_artifact(art, show_progress=False).read_bytes() == payload
    assert server.requests_to("ok", "data.bin") == [None]


def test_all_mirrors_failing_lists_every_url(server, payload, repro_home):
    server.add("data.bin", payload)
    urls = [server.url("500", "data.bin"), server.url("404", "data.bin"), server.url("wrong", "data.bin")]
    art = artifact_for("data.bin", payload, urls)

    with pytest.raises(DataError) as info:
        fetch_artifact(art, show_progress=False)

    message = str(info.value)
    for url in urls:
        assert url in message
    assert "data.bin" in message
    assert "404" in message and "500" in message and "rejected" in message
    assert not cached_path(art).exists()
    assert leftovers(repro_home) == []


# ------------------------------------------------------------------------ 6. pre-seeded folder


@pytest.mark.parametrize("via", ["argument", "env"])
def test_seeded_file_is_used_without_any_request(server, payload, repro_home, tmp_path, monkeypatch, via):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("ok", "data.bin")])
    seeds = tmp_path / "seeds"
    (seeds / "some" / "deeper").mkdir(parents=True)
    (seeds / "unrelated.txt").write_bytes(b"x" * 10)
    (seeds / "some" / "same_size_other_bytes.dat").write_bytes(payload.translate(FLIP))
    (seeds / "some" / "deeper" / "renamed-copy.whatever").write_bytes(payload)

    if via == "env":
        monkeypatch.setenv("REPRO_DATA_DIR", str(seeds))
        path = fetch_artifact(art, show_progress=False)
    else:
        path = fetch_artifact(art, seed_dir=seeds, show_progress=False)

    assert server.requests == []
    assert path == cached_path(art)
    assert path.read_bytes() == payload
    assert (seeds / "some" / "deeper" / "renamed-copy.whatever").read_bytes() == payload  # copied, not moved
    assert leftovers(repro_home) == [path]


@pytest.mark.parametrize("via", ["argument", "env"])
def test_seed_with_wrong_content_is_ignored(server, payload, repro_home, tmp_path, monkeypatch, via):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("ok", "data.bin")])
    seeds = tmp_path / "seeds"
    (seeds / "sub").mkdir(parents=True)
    (seeds / "sub" / "data.bin").write_bytes(payload.translate(FLIP))  # right name and size, wrong bytes
    (seeds / "data.bin").write_bytes(payload[:-1])  # right name, wrong size

    if via == "env":
        monkeypatch.setenv("REPRO_DATA_DIR", str(seeds))
        path = fetch_artifact(art, show_progress=False)
    else:
        path = fetch_artifact(art, seed_dir=seeds, show_progress=False)

    assert server.requests_to("ok", "data.bin") == [None]  # fell back to downloading
    assert path.read_bytes() == payload


def test_missing_seed_folder_falls_back_to_download(server, payload, repro_home, tmp_path):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("ok", "data.bin")])

    path = fetch_artifact(art, seed_dir=tmp_path / "does-not-exist", show_progress=False)

    assert path.read_bytes() == payload
    assert len(server.requests) == 1


# ------------------------------------------------------------------------ 7. archives


def make_tar(members: list[tuple], mode: str = "w:gz") -> bytes:
    """members: (name, bytes) for a file, (name, None) for a folder, (name, 'symlink'|'hardlink', target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for member in members:
            info = tarfile.TarInfo(member[0])
            info.mtime = 1_700_000_000
            if member[1] is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif member[1] in ("symlink", "hardlink"):
                info.type = tarfile.SYMTYPE if member[1] == "symlink" else tarfile.LNKTYPE
                info.linkname = member[2]
                tf.addfile(info)
            else:
                info.size, info.mode = len(member[1]), 0o644
                tf.addfile(info, io.BytesIO(member[1]))
    return buf.getvalue()


def make_zip(members: list[tuple[str, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            if data is None:
                zf.writestr(zipfile.ZipInfo(name if name.endswith("/") else name + "/"), b"")
            else:
                zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def tree(folder: Path) -> dict[str, bytes | None]:
    """Relative path -> bytes (None for folders) of everything under `folder`."""
    return {
        p.relative_to(folder).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
    }


GOOD_MEMBERS = [("top.txt", b"top level\n"), ("sub", None), ("sub/data.bin", bytes(range(256)) * 40)]
EXPECTED_TREE = {"top.txt": b"top level\n", "sub": None, "sub/data.bin": bytes(range(256)) * 40}


@pytest.mark.parametrize("name, make", [
    ("bundle.tar.gz", lambda: make_tar(GOOD_MEMBERS)),
    ("bundle.tgz", lambda: make_tar(GOOD_MEMBERS)),
    ("bundle.tar", lambda: make_tar(GOOD_MEMBERS, mode="w")),
    ("bundle.zip", lambda: make_zip(GOOD_MEMBERS)),
])
def test_archive_extracts_into_cached_folder(server, repro_home, name, make):
    data = make()
    server.add(name, data)
    art = artifact_for(name, data, [server.url("ok", name)], extract=True)

    path = fetch_artifact(art, show_progress=False)

    assert path == cached_path(art) == data_root(repro_home) / "extracted" / art.sha256
    assert path.is_dir()
    assert tree(path) == EXPECTED_TREE
    assert [p.name for p in (data_root(repro_home) / "extracted").iterdir()] == [art.sha256]  # no temp folder
    assert (data_root(repro_home) / "files" / art.sha256 / name).read_bytes() == data  # the archive is kept

    seen = len(server.requests)
    assert fetch_artifact(art, show_progress=False) == path
    assert len(server.requests) == seen


def _unsafe_cases(outside: Path) -> list:
    return [
        pytest.param("evil.tar.gz", lambda: make_tar([("ok.txt", b"fine"), ("../evil.txt", b"pwned")]), id="tar-dotdot"),
        pytest.param("evil.tar.gz", lambda: make_tar([("ok.txt", b"fine"), ("sub/../../../evil.txt", b"pwned")]),
                     id="tar-nested-dotdot"),
        pytest.param("evil.tar.gz", lambda: make_tar([("ok.txt", b"fine"), (str(outside / "abs_evil.txt"), b"pwned")]),
                     id="tar-absolute"),
        pytest.param("evil.tar.gz", lambda: make_tar([("ok.txt", b"fine"), ("link", "symlink", str(outside))]),
                     id="tar-symlink"),
        pytest.param("evil.tar.gz", lambda: make_tar([("ok.txt", b"fine"), ("link", "symlink", "../..")]),
                     id="tar-relative-symlink"),
        pytest.param("evil.tar.gz", lambda: make_tar([("ok.txt", b"fine"), ("hard", "hardlink", "../evil.txt")]),
                     id="tar-hardlink"),
        pytest.param("evil.zip", lambda: make_zip([("ok.txt", b"fine"), ("../evil.txt", b"pwned")]), id="zip-dotdot"),
        pytest.param("evil.zip", lambda: make_zip([("ok.txt", b"fine"), (str(outside / "abs_evil.txt"), b"pwned")]),
                     id="zip-absolute"),
    ]


OUTSIDE = Path("/tmp") / f"repro-test-fetch-outside-{os.getpid()}"  # fixed at import, so ids are stable


@pytest.mark.parametrize("name, make", _unsafe_cases(OUTSIDE))
def test_unsafe_archive_is_refused_and_writes_nothing(server, repro_home, tmp_path, name, make):
    data = make()
    server.add(name, data)
    art = artifact_for(name, data, [server.url("ok", name)], extract=True)
    extracted = data_root(repro_home) / "extracted"
    before_tmp = set(tmp_path.rglob("*"))

    try:
        with pytest.raises(UnsafeArchive) as info:
            fetch_artifact(art, show_progress=False)
        assert name in str(info.value)
        assert info.value.exit_code == 3

        assert not cached_path(art).exists()  # no extracted folder
        assert not extracted.exists() or list(extracted.iterdir()) == []  # no temp folder, no evil.txt
        for folder in (data_root(repro_home), repro_home, repro_home.parent):
            assert not (folder / "evil.txt").exists()
            assert not (folder / "link").exists()
            assert not (folder / "hard").exists()
        assert not OUTSIDE.exists()
        new = {p for p in set(tmp_path.rglob("*")) - before_tmp if p != repro_home and not p.is_relative_to(repro_home)}
        assert new == set()  # nothing written beside REPRO_HOME
        inside = {p.relative_to(repro_home).as_posix() for p in repro_home.rglob("*") if not p.is_dir()}
        assert inside == {f"data/files/{art.sha256}/{name}", f"data/locks/{art.sha256}.lock"}
        # The verified archive itself stays in files/; a second fetch refuses again, it does not
        # hand back a half-extracted folder.
        with pytest.raises(UnsafeArchive):
            fetch_artifact(art, show_progress=False)
        assert not cached_path(art).exists()
    finally:
        shutil.rmtree(OUTSIDE, ignore_errors=True)


def test_tar_whose_last_member_is_a_zip_extracts_as_tar(server, repro_home):
    inner = make_zip([("inner.txt", b"inside the zip")])
    data = make_tar([("readme.txt", b"hello"), ("inner.zip", inner)], mode="w")
    server.add("bundle.tar", data)
    art = artifact_for("bundle.tar", data, [server.url("ok", "bundle.tar")], extract=True)

    path = fetch_artifact(art, show_progress=False)

    assert tree(path) == {"readme.txt": b"hello", "inner.zip": inner}


# ------------------------------------------------------------------------ 8. two processes


CHILD = """
import json, sys
from repro.fetch.artifacts import fetch_artifact
from repro.catalog.manifest import DataArtifact
path = fetch_artifact(DataArtifact(**json.loads(sys.argv[1])), show_progress=False)
print(path)
"""


def test_two_processes_share_one_download(server, payload, repro_home, tmp_path):
    server.add("data.bin", payload)
    art = artifact_for("data.bin", payload, [server.url("hold", "data.bin")])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    logs = {who: tmp_path / f"{who}.err" for who in "ab"}
    handles = []

    def start(who: str) -> subprocess.Popen:
        handles.append(open(logs[who], "w"))
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(art.model_dump())], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=handles[-1], text=True,
        )

    def wait_for(condition, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    procs = []
    try:
        procs.append(start("a"))
        wait_for(lambda: server.requests_to("hold", "data.bin"), "the first process to start downloading")
        procs.append(start("b"))  # a's download is held half-way until b waits on the lock
        wait_for(lambda: "waiting for another repro process" in logs["b"].read_text(), "the second to wait")
        server.release.set()
        outs = [p.communicate(timeout=30)[0] for p in procs]
    finally:
        server.release.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for handle in handles:
            handle.close()

    assert [p.returncode for p in procs] == [0, 0], [log.read_text() for log in logs.values()]
    paths = [Path(out.strip()) for out in outs]
    assert paths[0] == paths[1] == cached_path(art)
    assert paths[0].read_bytes() == payload
    assert len(server.requests_to("hold", "data.bin")) == 1  # downloaded once
    assert len(server.requests) == 1
    assert leftovers(repro_home) == [paths[0]]


# ------------------------------------------------------------------------ 9. the model


GOOD = {"name": "data.bin", "urls": ["https://example.org/data.bin"], "sha256": "a" * 64, "size": 10}


def test_model_accepts_a_good_artifact():
    art = DataArtifact(**GOOD)
    assert art.extract is False
    assert DataArtifact(**{**GOOD, "name": "x.tar.gz", "extract": True}).extract is True
    assert DataArtifact(**{**GOOD, "urls": ["http://127.0.0.1:8080/a/b?c=d"]})


@pytest.mark.parametrize("change", [
    pytest.param({"name": "../x"}, id="name-dotdot"),
    pytest.param({"name": "a/b"}, id="name-folder"),
    pytest.param({"name": "/etc/passwd"}, id="name-absolute"),
    pytest.param({"name": ".."}, id="name-is-dotdot"),
    pytest.param({"name": "a\\b"}, id="name-backslash"),
    pytest.param({"name": ""}, id="name-empty"),
    pytest.param({"urls": ["file:///etc/passwd"]}, id="url-file"),
    pytest.param({"urls": ["ftp://example.org/data.bin"]}, id="url-ftp"),
    pytest.param({"urls": ["https://example.org/ok", "ftp://example.org/data.bin"]}, id="url-second-ftp"),
    pytest.param({"urls": ["example.org/data.bin"]}, id="url-no-scheme"),
    pytest.param({"urls": []}, id="urls-empty"),
    pytest.param({"sha256": "abc"}, id="sha-short"),
    pytest.param({"sha256": "A" * 64}, id="sha-upper"),
    pytest.param({"sha256": "g" * 64}, id="sha-not-hex"),
    pytest.param({"sha256": "a" * 65}, id="sha-long"),
    pytest.param({"size": 0}, id="size-zero"),
    pytest.param({"size": "10"}, id="size-string"),
    pytest.param({"extract": True}, id="extract-not-archive"),
    pytest.param({"name": "data.tar.bz2", "extract": True}, id="extract-unsupported-archive"),
    pytest.param({"mirror": "x"}, id="unknown-field"),
])
def test_model_refuses(change):
    with pytest.raises(ValidationError):
        DataArtifact(**{**GOOD, **change})


# ------------------------------------------------------------------------ hostile servers and archives


def test_a_trickling_mirror_is_given_up_for_the_next(server, payload, repro_home, monkeypatch, capsys):
    monkeypatch.setattr(artifacts_module, "GRACE_SECONDS", 1)
    monkeypatch.setattr(artifacts_module, "MIN_BYTES_PER_SECOND", 10_000_000)
    monkeypatch.setattr(artifacts_module, "PROGRESS_EVERY_SECONDS", 0.2)
    server.add("slow.bin", payload)
    artifact = artifact_for("slow.bin", payload, [server.url("trickle", "slow.bin"), server.url("ok", "slow.bin")])
    started = time.monotonic()
    path = fetch_artifact(artifact, show_progress=False)
    assert path.read_bytes() == payload and time.monotonic() - started < 15
    assert len(server.requests_to("trickle", "slow.bin")) == 1  # too slow is not retried


def test_progress_lines_keep_coming_in_a_log(server, payload, repro_home, monkeypatch, capsys):
    monkeypatch.setattr(artifacts_module, "PROGRESS_EVERY_SECONDS", 0.5)
    server.add("slow.bin", payload)
    fetch_artifact(artifact_for("slow.bin", payload, [server.url("trickle", "slow.bin")]), show_progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("downloading slow.bin:")]
    assert len(lines) >= 3, lines  # ~3.7 s of download: not only one line at the start


def test_a_password_in_a_data_url_is_never_printed(server, payload, repro_home):
    secret_url = f"http://alice:s3cret-pw@127.0.0.1:{server.port}/404/nothing.bin"
    with pytest.raises(DataError) as caught:
        fetch_artifact(artifact_for("nothing.bin", payload, [secret_url]), show_progress=False)
    assert "s3cret-pw" not in str(caught.value) and "alice" not in str(caught.value)
    assert "http://***@127.0.0.1" in str(caught.value)


def test_a_decompression_bomb_is_refused(server, repro_home, tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(50 * 1024 * 1024))  # 50 MB of zeros, ~50 KB packed
    data = bomb.read_bytes()
    server.add("bomb.zip", data)
    with pytest.raises(UnsafeArchive, match="would unpack to 52,428,800 bytes, more than its limit"):
        fetch_artifact(artifact_for("bomb.zip", data, [server.url("ok", "bomb.zip")], extract=True), show_progress=False)
    allowed = DataArtifact(name="bomb.zip", urls=[server.url("ok", "bomb.zip")], sha256=sha(data), size=len(data),
                           extract=True, extracted_size=60 * 1024 * 1024)  # declared in the manifest: fine
    assert (fetch_artifact(allowed, show_progress=False) / "zeros.bin").stat().st_size == 50 * 1024 * 1024
