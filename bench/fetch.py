"""Fetching the authors' code at a pinned commit, against a full clone of the same repository.

Generates a repository of --commits commits (default 400; each replaces one of 8 files of
random bytes, so the history is a few MB that no delta compresses, and adds a text file),
serves it through a file:// URL that a temporary GIT_CONFIG_GLOBAL maps onto
https://example.org/authors/paper with `url.<file-url>.insteadOf`, the way a mirror is
reached, and measures, each the median of --repeat runs with a fresh REPRO_HOME:

  pinned fetch     repro.fetch.repository.fetch_commit of a commit in the middle of history
                   (in this process, GitPython imported beforehand)
  full clone       `git clone --no-local` of the same URL (what fetching without pinning costs)
  cached re-fetch  fetch_commit of a commit that is already in the cache

Targets: pinned fetch <= 0.3 x the full clone; cached re-fetch <= 0.1 s.

git uses its local shortcut (hardlinking the objects) only for a plain path, never for a
file:// URL (checked: the clone's pack file has one link), so the clone already goes through
upload-pack as it would from a server; --no-local makes sure of it. No network: both sides read the same local repository, so the
times measure git's work (packing, transfer through a pipe, checkout), not a network link.

Where the time goes: a pinned fetch is a handful of git processes (two `git init`s, the
depth-1 fetch, the checkout) whose cost hardly depends on the length of history, while the
clone's grows with it. With the default few-MB history and no network, both are dominated by
writing the working tree and by process start-up, so the ratio is far from what it is for a
long history over a network; --blob-kb scales the history to show the trend.

    .venv/bin/python bench/fetch.py [--commits 400] [--repeat 3] [--blob-kb 16]

With --mirror, a real repository instead: a local mirror (a bare repository, e.g. one that
`fetch` of the tool library brought), reached through insteadOf from its --url, and a commit
and the --paths an adapter needs. It measures, each from a fresh REPRO_HOME:

  partial fetch    fetch_commit(url, commit, paths=...): depth 1, no file contents, a sparse
                   checkout of the paths (the manifest's reference.paths)
  pinned fetch     fetch_commit(url, commit): depth 1, the whole tree
  full clone       `git clone --no-local` of the URL (every commit of every branch)

and, for each, the git objects received (MB, what crossed the wire as packs), the files
checked out, and the wall time. A mirror that lacks objects fails a full clone; the row says so.

    .venv/bin/python bench/fetch.py --mirror /work/.mirror/greydanus+mnist1d/repo \
        --url https://github.com/greydanus/mnist1d --commit 7878d96082abd200c546a07a4101fa90b30fdf7e \
        --paths mnist1d/,notebooks/models.py,notebooks/train.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

URL = "https://example.org/authors/paper"
TARGET_RATIO = 0.3
TARGET_CACHED_S = 0.1
BLOBS = 8


def make_source(path: Path, commits: int, blob_size: int) -> list[str]:
    """A bare repository written with git fast-import; returns main's history, oldest first."""
    rng = random.Random(0)
    stream = bytearray()

    def data(payload: bytes) -> None:
        stream.extend(b"data %d\n" % len(payload) + payload + b"\n")

    for i in range(commits):
        stream.extend(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        stream.extend(b"committer Author <author@example.org> %d +0000\n" % (1_700_000_000 + 60 * i))
        data(b"commit %d" % i)
        if i:
            stream.extend(b"from :%d\n" % i)
        stream.extend(b"M 644 inline data/blob%d.bin\n" % (i % BLOBS))
        data(rng.randbytes(blob_size))
        stream.extend(b"M 644 inline notes/%04d.txt\n" % i)
        data(b"notes for commit %d\n" % i)
        stream.extend(b"M 644 inline VERSION\n")
        data(b"%d\n" % i)
    git(["init", "--quiet", "--bare", "--initial-branch=main", str(path)])
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(stream), check=True)
    git(["repack", "-a", "-d", "-q"], cwd=path)  # packed as a server would keep it
    return git(["rev-list", "--reverse", "main"], cwd=path).split()


def git(args: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def row(name: str, times: list[float], target: str = "", ok: bool | None = None) -> list:
    status = "" if ok is None else "ok" if ok else "MISSED"
    return [name, len(times), f"{min(times):.4f}", f"{statistics.median(times):.4f}", f"{max(times):.4f}",
            target, status]


def objects_mb(root: Path) -> float:
    """MB of git objects (packs and loose objects) under root: what a fetch received."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "objects" in p.parts) / 1e6


def files_in(tree: Path) -> tuple[int, float]:
    files = [p for p in tree.rglob("*") if p.is_file() and ".git" not in p.relative_to(tree).parts]
    return len(files), sum(p.stat().st_size for p in files) / 1e6


def real_mirror(args) -> None:
    """--mirror: a partial fetch of a real repository against a pinned whole-tree fetch and a full clone."""
    paths = [p for p in args.paths.split(",") if p]
    with tempfile.TemporaryDirectory(prefix="repro-bench-mirror-") as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "gitconfig"
        config.write_text(f'[url "{Path(args.mirror).resolve()}"]\n\tinsteadOf = {args.url}\n'
                          "[uploadpack]\n\tallowFilter = true\n\tallowAnySHA1InWant = true\n"
                          "[user]\n\tname = Bench\n\temail = bench@example.org\n")
        os.environ["GIT_CONFIG_GLOBAL"] = str(config)
        os.environ["GIT_CONFIG_NOSYSTEM"] = "1"

        import git as _gitpython  # noqa: F401  (imported once, outside the timings)

        from repro.errors import FetchError
        from repro.fetch.repository import fetch_commit

        rows = []
        for label, wanted in ((f"partial fetch ({len(paths)} paths)", paths), ("pinned fetch (whole tree)", [])):
            times, received, checked_out = [], 0.0, (0, 0.0)
            for _ in range(args.repeat):
                home = Path(tempfile.mkdtemp(prefix="home-", dir=tmp))
                os.environ["REPRO_HOME"] = str(home)
                started = time.perf_counter()
                try:
                    checkout = fetch_commit(args.url, args.commit, paths=wanted, show_progress=False)
                except FetchError as exc:
                    rows.append([label, "failed: " + str(exc).splitlines()[0][:70], "", "", ""])
                    break
                times.append(time.perf_counter() - started)
                received, checked_out = objects_mb(home / "git"), files_in(checkout)
            if times:
                rows.append([label, f"{statistics.median(times):.2f}", f"{received:.2f}", checked_out[0],
                             f"{checked_out[1]:.2f}"])
        times, received, checked_out = [], 0.0, (0, 0.0)
        for _ in range(args.repeat):
            dest = Path(tempfile.mkdtemp(prefix="clone-", dir=tmp)) / "repo"
            started = time.perf_counter()
            done = subprocess.run(["git", "clone", "--no-local", "--quiet", args.url, str(dest)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                reason = done.stderr.strip().splitlines()[0] if done.stderr.strip() else f"exit {done.returncode}"
                rows.append(["full clone (git clone --no-local)", "failed: " + reason[:70], "", "", ""])
                break
            times.append(time.perf_counter() - started)
            received, checked_out = objects_mb(dest / ".git"), files_in(dest)
        if times:
            rows.append(["full clone (git clone --no-local)", f"{statistics.median(times):.2f}", f"{received:.2f}",
                         checked_out[0], f"{checked_out[1]:.2f}"])
        print(tabulate(rows, headers=["operation", f"median s (of {args.repeat})", "objects received MB",
                                      "files", "files MB"], disable_numparse=True))
        packed = objects_mb(Path(args.mirror))
        print(f"\nrepository: {args.url} @ {args.commit[:12]}, mirror {packed:.1f} MB of objects; paths: {', '.join(paths)}")
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
              f"git {git(['--version']).removeprefix('git version ')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blob-kb", type=int, default=16,
                        help="size of the file of random bytes each commit replaces (history ~ commits x this)")
    parser.add_argument("--mirror", metavar="DIR", help="a real repository's local mirror instead (see above)")
    parser.add_argument("--url", help="with --mirror: the URL the manifest names (insteadOf maps it to DIR)")
    parser.add_argument("--commit", help="with --mirror: the pinned commit")
    parser.add_argument("--paths", default="", help="with --mirror: comma-separated reference.paths")
    args = parser.parse_args()
    if args.mirror:
        if not (args.url and args.commit and args.paths):
            parser.error("--mirror needs --url, --commit and --paths")
        return real_mirror(args)

    with tempfile.TemporaryDirectory(prefix="repro-bench-fetch-") as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "paper.git"
        history = make_source(source, args.commits, args.blob_kb * 1024)
        middle = history[len(history) // 2]
        config = tmp / "gitconfig"
        config.write_text(f'[url "file://{source}"]\n\tinsteadOf = {URL}\n'
                          "[user]\n\tname = Bench\n\temail = bench@example.org\n")
        os.environ["GIT_CONFIG_GLOBAL"] = str(config)
        os.environ["GIT_CONFIG_NOSYSTEM"] = "1"

        import git as _gitpython  # noqa: F401  (imported once, outside the timings)

        from repro.fetch.repository import fetch_commit

        def fresh_home(label: str) -> Path:
            home = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=tmp))
            os.environ["REPRO_HOME"] = str(home)
            return home

        pinned, pinned_mb = [], 0.0
        for _ in range(args.repeat):
            home = fresh_home("pinned")
            started = time.perf_counter()
            fetch_commit(URL, middle, show_progress=False)
            pinned.append(time.perf_counter() - started)
            pinned_mb = size_mb(home / "git")

        clone, clone_mb = [], 0.0
        for _ in range(args.repeat):
            dest = Path(tempfile.mkdtemp(prefix="clone-", dir=tmp)) / "paper"
            started = time.perf_counter()
            subprocess.run(["git", "clone", "--no-local", "--quiet", URL, str(dest)], check=True)
            clone.append(time.perf_counter() - started)
            clone_mb = size_mb(dest)

        cached = []
        for _ in range(args.repeat):
            fresh_home("cached")
            fetch_commit(URL, middle, show_progress=False)
            started = time.perf_counter()
            fetch_commit(URL, middle, show_progress=False)
            cached.append(time.perf_counter() - started)

        ratio = statistics.median(pinned) / statistics.median(clone)
        rows = [
            row(f"pinned fetch (commit {len(history) // 2 + 1}/{len(history)})", pinned),
            row("full clone (git clone --no-local)", clone),
            ["pinned / full clone", "", "", f"{ratio:.2f}x", "", f"<= {TARGET_RATIO}x",
             "ok" if ratio <= TARGET_RATIO else "MISSED"],
            row("cached re-fetch", cached, f"<= {TARGET_CACHED_S} s", statistics.median(cached) <= TARGET_CACHED_S),
        ]
        print(tabulate(rows, headers=["operation", "n", "min s", "median s", "max s", "target", "status"],
                       disable_numparse=True))
        print(f"\nrepository: {len(history)} commits, {size_mb(source):.1f} MB packed; on disk after a pinned fetch "
              f"{pinned_mb:.1f} MB (cache + checkout), after a full clone {clone_mb:.1f} MB")
        git_version = git(["--version"]).removeprefix("git version ")
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; git {git_version}")


if __name__ == "__main__":
    main()
