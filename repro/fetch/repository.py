"""The authors' code at a pinned commit, through GitPython (which shells out to git).

Cache layout under <home>/git/:

    repos/<key>.git              one bare repository per URL (objects shared by all commits)
    checkouts/<key>/<sha>/       one working tree per commit, published by an atomic rename
    locks/<key>.lock             held while fetching, so concurrent repro processes share one fetch

A checkout carries `.git/repro-verified` (the SHA that `git rev-parse HEAD` gave after the
checkout); its presence is all a later fetch needs to check, so a cached commit costs no git
call and no network.

Because every fetch goes through git, git's own `url.<mirror>.insteadOf <url>` rewriting
applies: that is how a machine without GitHub reaches a mirror (or a local copy).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

from repro.errors import FetchError, UsageError
from repro.fetch.locks import file_lock
from repro.catalog.manifest import SHA_RE, is_safe_repo_url
from repro.paths import home

VERIFIED_MARKER = "repro-verified"
# Answers of a server that is there but will not hand out an object by its SHA.
_REFUSED_BY_SHA = re.compile(r"not our ref|unadvertised object|couldn't find remote ref|allow.*SHA1InWant", re.I)



def check_url(url: str) -> None:
    """Only https, ssh and scp-style URLs: never ext::, file:// or anything that reads as an option."""
    if not is_safe_repo_url(url):
        raise UsageError(
            f"refusing git URL {url!r}: only https://, ssh:// and scp-style (user@host:path) URLs; "
            "to use a local or mirrored copy, point git at it with "
            f"`git config --global url.<mirror>.insteadOf {url}`"
        )


def check_commit(commit: str) -> None:
    if not SHA_RE.fullmatch(commit):
        raise UsageError(
            f"{commit!r} is not a full 40-hex commit SHA (branches and tags move; pin the commit, "
            "e.g. `git rev-parse master` in the repository)"
        )


def cache_key(url: str) -> str:
    """A folder name for a URL: readable (the repo's name) and unique (a hash of the URL)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    name = name.removesuffix(".git") or "repo"
    return f"{name[:40]}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def checkout_path(url: str, commit: str) -> Path:
    return home() / "git" / "checkouts" / cache_key(url) / commit


def is_fetched(url: str, commit: str) -> bool:
    return _verified(checkout_path(url, commit), commit)


def fetch_commit(url: str, commit: str, *, show_progress: bool = True) -> Path:
    """A working tree of exactly `commit` of `url`, from the cache or fetched now."""
    check_url(url)
    check_commit(commit)
    checkout = checkout_path(url, commit)
    if _verified(checkout, commit):
        return checkout
    key = cache_key(url)
    lock = home() / "git" / "locks" / f"{key}.lock"
    with file_lock(lock, waiting_message=f"waiting for another repro process fetching {url} ..."):
        if _verified(checkout, commit):  # the other process fetched it while we waited
            return checkout
        repo = _bare_repository(home() / "git" / "repos" / f"{key}.git", url)
        if not _has_commit(repo, commit):
            _fetch(repo, url, commit, show_progress)
        _check_out(repo, checkout, commit)
    return checkout


# ------------------------------------------------------------------------ helpers


def _verified(checkout: Path, commit: str) -> bool:
    try:
        return (checkout / ".git" / VERIFIED_MARKER).read_text().strip() == commit
    except OSError:
        return False


def _bare_repository(path: Path, url: str):
    import git

    path.parent.mkdir(parents=True, exist_ok=True)
    if not (path / "HEAD").exists():
        _git_init(path, bare=True)
    repo = git.Repo(path)
    if "origin" not in [remote.name for remote in repo.remotes]:  # new, or interrupted before this
        repo.create_remote("origin", url)
    elif repo.remote("origin").url != url:
        raise FetchError(f"{path} is a cache of {repo.remote('origin').url}, not {url}; delete it")
    return repo


def _git_init(path: Path, bare: bool) -> None:
    """`git init` from an empty template folder: no sample hooks to copy (half of init's time),
    and no hooks at all in a folder that will hold someone else's code."""
    import git

    empty = home() / "git" / "empty-template"
    empty.mkdir(parents=True, exist_ok=True)
    git.Git().init(*(["--bare"] if bare else []), "--quiet", str(path), env={"GIT_TEMPLATE_DIR": str(empty)})


def _object_type(repo, sha: str) -> str | None:
    """'commit', 'tag', 'tree', 'blob', or None when the cache does not have the object."""
    import git

    try:
        return repo.git.cat_file("-t", sha)
    except git.GitCommandError:
        return None


def _has_commit(repo, commit: str) -> bool:
    return _object_type(repo, commit) == "commit"


def _fetch(repo, url: str, commit: str, show_progress: bool) -> None:
    """Fetch just `commit` (depth 1); if the server refuses a fetch by SHA, fetch everything."""
    import git

    origin = repo.remote("origin")
    progress = _progress(url, commit) if show_progress else None
    # Never wait for a password nobody will type (a private or misspelt repository answers 401):
    # fail, and say how to point git at a mirror.
    repo.git.update_environment(GIT_TERMINAL_PROMPT="0", GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"))
    try:
        origin.fetch(commit, depth=1, progress=progress)  # GitPython refuses unsafe protocols/options
    except git.GitCommandError as exc:
        if not _REFUSED_BY_SHA.search(str(exc.stderr)):
            raise _unreachable(url, exc) from None
        if progress:
            progress.say("the server refused a fetch by SHA; fetching all branches and tags instead")
        everything = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        try:
            origin.fetch(everything, progress=progress, unshallow=(Path(repo.git_dir) / "shallow").exists())
        except git.GitCommandError as exc2:
            raise _unreachable(url, exc2) from None
    if progress:
        progress.done()
    kind = _object_type(repo, commit)
    if kind is None:
        raise FetchError(
            f"commit {commit} is not in {url} (fetched every branch and tag); "
            "check reference.commit in the paper's manifest"
        )
    if kind != "commit":
        raise FetchError(f"{commit} is a {kind} object in {url}, not a commit; pin the commit it points to "
                         f"(`git rev-parse {commit}^{{commit}}` in the repository)")
    repo.git.update_ref(f"refs/repro/{commit}", commit)  # keeps it from git gc


def _unreachable(url: str, exc) -> FetchError:
    detail = " ".join(str(exc.stderr).split())[-300:]
    return FetchError(
        f"cannot fetch {url}: {detail}\n"
        "  Offline, or is the URL wrong? If a mirror or a local copy is reachable, point git at it:\n"
        f"    git config --global url.<mirror-or-path>.insteadOf {url}\n"
        "  repro fetches through git, so the rewrite applies."
    )


def _check_out(repo, checkout: Path, commit: str) -> None:
    """A working tree of `commit` sharing the bare cache's objects: check out, verify, publish."""
    import git

    checkout.parent.mkdir(parents=True, exist_ok=True)
    for leftover in checkout.parent.glob(f".{commit}.*.tmp"):  # of killed fetches; we hold the lock
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = checkout.parent / f".{commit}.{os.getpid()}.tmp"
    _git_init(tmp, bare=False)
    clone = git.Repo(tmp)
    # Borrow the bare cache's objects instead of copying them (what `clone --shared` does;
    # clone itself refuses --shared from a shallow repository).
    alternates = Path(clone.git_dir) / "objects" / "info" / "alternates"
    alternates.parent.mkdir(parents=True, exist_ok=True)
    alternates.write_text(str(Path(repo.git_dir) / "objects") + "\n")
    shallow = Path(repo.git_dir) / "shallow"
    if shallow.exists():  # history stops at the fetched commit; tell the checkout so
        shutil.copy(shallow, Path(clone.git_dir) / "shallow")
    clone.git.checkout("--detach", "--quiet", commit)
    head = clone.git.rev_parse("HEAD")
    if head != commit:
        raise FetchError(f"checked out {head}, expected {commit}; the cache under {repo.git_dir} may be damaged")
    (Path(clone.git_dir) / VERIFIED_MARKER).write_text(commit + "\n")
    if checkout.exists():  # an unverified leftover of an interrupted fetch
        shutil.rmtree(checkout)
    os.replace(tmp, checkout)


def _progress(url: str, commit: str):
    """GitPython's progress callback, on stderr: one live line on a terminal, else start and end."""
    from git import RemoteProgress

    class FetchProgress(RemoteProgress):
        label = f"fetching {url} @ {commit[:12]}"
        live = sys.stderr.isatty()

        def update(self, op_code, cur_count, max_count=None, message=""):
            if self.live and max_count:
                stage = (self._cur_line or "working").split(":")[0]
                print(f"\r{self.label}: {stage} {100 * cur_count / max_count:3.0f}%   ", end="", file=sys.stderr)

        def say(self, text: str) -> None:
            print(("\n" if self.live else "") + text, file=sys.stderr, flush=True)

        def done(self) -> None:
            print(("\r" if self.live else "") + f"{self.label}: done" + " " * 30, file=sys.stderr, flush=True)

    progress = FetchProgress()
    if not progress.live:
        print(progress.label, file=sys.stderr, flush=True)
    return progress
