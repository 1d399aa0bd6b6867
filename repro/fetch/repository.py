"""The authors' code at a pinned commit, through GitPython (which shells out to git).

Cache layout under <home>/git/:

    repos/<key>.git              one bare repository per URL (objects shared by all commits)
    checkouts/<key>/<sha>/       one working tree per commit, published by an atomic rename
    checkouts/<key>/<sha>-paths-<hash>/   the same, with only the manifest's reference.paths
    locks/<key>.lock             held while fetching, so concurrent repro processes share one fetch

With `reference.paths`, the fetch is partial: `--depth 1 --filter=blob:none` brings the
commit and its trees but no file contents, and a sparse checkout of those paths fetches
just their blobs (the checkout is a promisor of the same URL). Files the adapter never
reads are never fetched, so a huge notebook, or a blob missing from a mirror, does not
matter. A server that refuses filters gets today's shallow fetch, and the user is told.

A checkout carries `.git/repro-verified` (JSON: the commit, the tree it checked out, the
paths, where it came from). Every reuse checks, without the network, that HEAD is still
the commit and `git status` is clean; a checkout changed after its fetch is refused
(CheckoutChanged), since its runs would name a commit they did not run.

Because every fetch goes through git, git's own `url.<mirror>.insteadOf <url>` rewriting
applies: that is how a machine without GitHub reaches a mirror (or a local copy). A mirror
serving partial fetches needs `uploadpack.allowFilter true` (and `uploadpack.allowAnySHA1InWant
true`) in the git config of the side that serves it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from repro.catalog.manifest import SHA_RE, is_safe_repo_url
from repro.errors import CheckoutChanged, FetchError, UsageError
from repro.fetch.locks import file_lock
from repro.paths import home

VERIFIED_MARKER = "repro-verified"
PARTIAL_FILTER = "blob:none"
# Answers of a server that is there but will not hand out an object by its SHA.
_REFUSED_BY_SHA = re.compile(r"not our ref|unadvertised object|couldn't find remote ref|allow.*SHA1InWant", re.I)
# Why a fetch failed, from git's stderr: the server is not there, has no such repository, or
# was reached but could not send every object (an incomplete mirror).
_NO_REPOSITORY = re.compile(r"returned error: 40[34]|repository not found|does not appear to be a git repository|"
                            r"not a git repository|no such file or directory", re.I)
_UNREACHABLE = re.compile(r"could not resolve|failed to connect|connection (refused|timed out|reset)|"
                          r"network is unreachable|timed out|unable to access", re.I)
_INCOMPLETE = re.compile(r"corruption|did not send all necessary objects|missing (blob|tree|object)|"
                         r"could not read|bad object|unable to read|promisor", re.I)
_FILTER_IGNORED = re.compile(r"filtering not recognized by server", re.I)
# Files a run may leave in the checkout without changing what it runs.
_LOCAL_EXCLUDES = "__pycache__/\n*.pyc\n"


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


def checkout_path(url: str, commit: str, paths: Sequence[str] = ()) -> Path:
    """Where the checkout of `commit` lives: one folder per commit, and per set of paths."""
    name = commit
    if paths:
        name += "-paths-" + hashlib.sha256("\n".join(sorted(paths)).encode()).hexdigest()[:8]
    return home() / "git" / "checkouts" / cache_key(url) / name


def is_fetched(url: str, commit: str, paths: Sequence[str] = ()) -> bool:
    """A checkout of `commit` is in the cache (not yet checked for changes: see verify_checkout)."""
    return _marker(checkout_path(url, commit, paths), commit) is not None


def fetch_commit(
    url: str,
    commit: str,
    *,
    paths: Sequence[str] = (),
    show_progress: bool = True,
    from_dir: Path | None = None,
    refetch: bool = False,
) -> Path:
    """A working tree of exactly `commit` of `url` (only `paths`, when given), from the cache
    or fetched now.

    `from_dir` takes the commit from an existing local clone instead of the network (its HEAD
    must be `commit` and its tree clean); `refetch` checks the commit out again, replacing a
    cached checkout (one that was changed is refused otherwise).
    """
    check_url(url)
    check_commit(commit)
    checkout = checkout_path(url, commit, paths)
    if from_dir is not None:
        from_dir = _checked_local_clone(Path(from_dir), commit)
    elif not refetch and _marker(checkout, commit):
        verify_checkout(checkout, commit)
        return checkout
    key = cache_key(url)
    lock = home() / "git" / "locks" / f"{key}.lock"
    with file_lock(lock, waiting_message=f"waiting for another repro process fetching {url} ..."):
        fresh = refetch or from_dir is not None
        if not fresh and _marker(checkout, commit):  # the other process fetched it while we waited
            verify_checkout(checkout, commit)
            return checkout
        repo = _bare_repository(home() / "git" / "repos" / f"{key}.git", url)
        if from_dir is not None:
            _fetch_local(repo, from_dir, commit)
        elif not _has_commit(repo, commit):
            _fetch(repo, url, commit, paths, show_progress)
        _check_out(repo, url, checkout, commit, paths, origin=str(from_dir or url))
    return checkout


def verify_checkout(checkout: Path, commit: str) -> None:
    """Refuse a checkout whose HEAD is not `commit` or whose files changed since its fetch.

    One local `git status` (no network): tracked files edited or deleted, or new files that
    are not ignored (bytecode caches are), all count.
    """
    import git

    try:
        head = (checkout / ".git" / "HEAD").read_text().strip()
    except OSError:
        head = "(unreadable)"
    again = (f"  Something changed the cached checkout after it was fetched. Fetch it again: "
             f"`repro fetch PAPER --refetch` (or delete {checkout}).")
    if head != commit:
        raise CheckoutChanged(f"{checkout}: HEAD is {head.removeprefix('ref: ')}, not the pinned commit {commit}\n{again}")
    try:
        changed = git.Repo(checkout).git.status("--porcelain", "--untracked-files=all").splitlines()
    except git.GitCommandError as exc:
        raise CheckoutChanged(f"{checkout}: git status failed: {' '.join(str(exc.stderr).split())[-200:]}\n{again}") from None
    if changed:
        listed = ", ".join(line[3:] for line in changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise CheckoutChanged(f"{checkout}: files differ from commit {commit[:12]}: {listed}\n{again}")


def checkout_record(checkout: Path) -> dict:
    """What the fetch recorded about a checkout: commit, tree, paths, origin, fetched (a time)."""
    return _read_marker(checkout) or {}


# ------------------------------------------------------------------------ helpers


def _read_marker(checkout: Path) -> dict | None:
    try:
        text = (checkout / ".git" / VERIFIED_MARKER).read_text()
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:  # an older cache's marker: the commit alone
        return {"commit": text.strip()}


def _marker(checkout: Path, commit: str) -> dict | None:
    marker = _read_marker(checkout)
    return marker if marker is not None and marker.get("commit") == commit else None


def _checked_local_clone(path: Path, commit: str) -> Path:
    """`repro fetch --from DIR`: DIR must be a clone whose HEAD is the pinned commit, clean."""
    import git

    path = path.expanduser().resolve()
    try:
        clone = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"--from {path}: not a git clone (git rev-parse finds no repository there)") from None
    try:
        head = clone.git.rev_parse("HEAD")
    except git.GitCommandError:
        head = "(no commit)"
    if head != commit:
        raise UsageError(f"--from {path}: its HEAD is {head}, not the pinned commit {commit}; "
                         f"`git -C {path} checkout {commit}` first")
    changed = clone.git.status("--porcelain", "--untracked-files=no").splitlines()
    if changed:
        raise UsageError(f"--from {path}: tracked files differ from the commit ({', '.join(l[3:] for l in changed[:5])}); "
                         "commit or stash them (`git stash`), or use a fresh clone")
    return path


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
    # Never wait for a password nobody will type (a private or misspelt repository answers 401):
    # fail, and say how to point git at a mirror.
    repo.git.update_environment(**_no_prompts())
    return repo


def _no_prompts() -> dict[str, str]:
    return {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")}


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


def _fetch(repo, url: str, commit: str, paths: Sequence[str], show_progress: bool) -> None:
    """Fetch just `commit` (depth 1; without file contents when only `paths` are wanted); if
    the server refuses a fetch by SHA, fetch everything."""
    import git

    origin = repo.remote("origin")
    progress = _progress(url, commit, show_progress, partial=bool(paths))
    partial = {"filter": PARTIAL_FILTER} if paths else {}
    try:
        origin.fetch(commit, depth=1, progress=progress, **partial)  # GitPython refuses unsafe protocols/options
    except git.GitCommandError as exc:
        if not _REFUSED_BY_SHA.search(str(exc.stderr)):
            raise _fetch_failed(repo, url, exc, partial=bool(paths)) from None
        progress.say("the server refused a fetch by SHA; fetching all branches and tags instead")
        everything = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        try:
            origin.fetch(everything, progress=progress, unshallow=(Path(repo.git_dir) / "shallow").exists(), **partial)
        except git.GitCommandError as exc2:
            raise _fetch_failed(repo, url, exc2, partial=bool(paths)) from None
    if paths and any(_FILTER_IGNORED.search(line) for line in progress.other_lines):
        progress.say("the server does not serve partial fetches (a mirror needs `git config uploadpack.allowFilter "
                     "true`); fetched the whole commit instead")
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


def _fetch_local(repo, clone: Path, commit: str) -> None:
    """`--from DIR`: the commit's objects from a local clone whose HEAD was checked to be it."""
    import git

    try:
        repo.git.fetch("--no-tags", "--", str(clone), "HEAD")
    except git.GitCommandError as exc:
        raise FetchError(f"cannot take {commit[:12]} from {clone}: {' '.join(str(exc.stderr).split())[-300:]}") from None
    if not _has_commit(repo, commit):
        raise FetchError(f"{clone}'s HEAD did not bring commit {commit}; is it the pinned commit?")
    repo.git.update_ref(f"refs/repro/{commit}", commit)


def _served_by(repo, url: str) -> str:
    """The URL git really fetches from: `url` after git's insteadOf rewriting."""
    import git

    try:
        return repo.git.ls_remote("--get-url", url).strip() or url
    except git.GitCommandError:
        return url


def _fetch_failed(repo, url: str, exc, *, partial: bool = False) -> FetchError:
    """A FetchError that says what git's answer means: no server, no repository, or a server
    that could not send every object (an incomplete mirror)."""
    detail = " ".join(str(exc.stderr).split())[-300:]
    served = _served_by(repo, url)
    where = url if served == url else f"{url} (through git's insteadOf: {served})"
    mirror_hint = (f"  If a mirror or a local copy is reachable, point git at it:\n"
                   f"    git config --global url.<mirror-or-path>.insteadOf {url}\n"
                   "  repro fetches through git, so the rewrite applies.")
    if _NO_REPOSITORY.search(detail):
        return FetchError(f"cannot fetch {where}: there is no repository there: {detail}\n"
                          f"  Check reference.repo in the paper's manifest{' and the insteadOf target' if served != url else ''}.\n"
                          + mirror_hint)
    if _INCOMPLETE.search(detail):
        advice = ("  The mirror lacks objects under reference.paths, which the adapter needs: complete the mirror."
                  if partial else
                  "  The server was reached, but could not send every object of the commit (an incomplete mirror?).\n"
                  "  If the adapter needs only part of the repository, list what it needs in reference.paths\n"
                  "  of the paper's manifest: repro then fetches only those files (a partial fetch).")
        return FetchError(f"cannot fetch {where}: {detail}\n{advice}")
    if _UNREACHABLE.search(detail):
        return FetchError(f"cannot reach {where}: {detail}\n  Offline?\n" + mirror_hint)
    return FetchError(f"cannot fetch {where}: {detail}\n" + mirror_hint)


def _check_out(repo, url: str, checkout: Path, commit: str, paths: Sequence[str], origin: str) -> None:
    """A working tree of `commit` sharing the bare cache's objects: check out, verify, publish."""
    import git

    checkout.parent.mkdir(parents=True, exist_ok=True)
    for leftover in checkout.parent.glob(f".{checkout.name}.*.tmp"):  # of killed fetches; we hold the lock
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = checkout.parent / f".{checkout.name}.{os.getpid()}.tmp"
    _git_init(tmp, bare=False)
    clone = git.Repo(tmp)
    clone.git.update_environment(**_no_prompts())
    git_dir = Path(clone.git_dir)
    # Borrow the bare cache's objects instead of copying them (what `clone --shared` does;
    # clone itself refuses --shared from a shallow repository).
    (git_dir / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (git_dir / "objects" / "info" / "alternates").write_text(str(Path(repo.git_dir) / "objects") + "\n")
    shallow = Path(repo.git_dir) / "shallow"
    if shallow.exists():  # history stops at the fetched commit; tell the checkout so
        shutil.copy(shallow, git_dir / "shallow")
    (git_dir / "info").mkdir(exist_ok=True)
    (git_dir / "info" / "exclude").write_text(_LOCAL_EXCLUDES)
    if paths:
        # Only these paths, each anchored at the root; their blobs come from the URL on demand
        # (this checkout is a promisor of it, like a `clone --filter`).
        with clone.config_writer() as config:
            config.set_value("core", "repositoryformatversion", "1")
            config.set_value("core", "sparseCheckout", "true")
            config.set_value("extensions", "partialClone", "origin")
            config.set_value('remote "origin"', "url", url)
            config.set_value('remote "origin"', "promisor", "true")
            config.set_value('remote "origin"', "partialclonefilter", PARTIAL_FILTER)
        (git_dir / "info" / "sparse-checkout").write_text("".join(f"/{p.lstrip('/')}\n" for p in paths))
    try:
        clone.git.checkout("--detach", "--quiet", commit)
    except git.GitCommandError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _fetch_failed(repo, url, exc, partial=bool(paths)) from None
    head = clone.git.rev_parse("HEAD")
    if head != commit:
        raise FetchError(f"checked out {head}, expected {commit}; the cache under {repo.git_dir} may be damaged")
    _share_fetched_objects(git_dir, Path(repo.git_dir))
    if paths and not any(entry.name != ".git" for entry in tmp.iterdir()):  # git makes folders only for files
        shutil.rmtree(tmp, ignore_errors=True)
        raise FetchError(f"reference.paths ({', '.join(paths)}) match no file of {url} at {commit[:12]}; "
                         "write them from the repository's root, e.g. 'src/' or 'train.py'")
    marker = {"commit": commit, "tree": clone.git.rev_parse("HEAD^{tree}"), "paths": list(paths),
              "origin": origin, "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (git_dir / VERIFIED_MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    if checkout.exists():  # a refetch, or an unverified leftover of an interrupted fetch
        shutil.rmtree(checkout)
    os.replace(tmp, checkout)


def _share_fetched_objects(clone_git_dir: Path, bare_git_dir: Path) -> None:
    """Move the packs a sparse checkout fetched on demand (its paths' blobs) into the bare
    cache, which the checkout borrows from: a --refetch, or another set of paths, then needs
    no network for them."""
    target = bare_git_dir / "objects" / "pack"
    target.mkdir(parents=True, exist_ok=True)
    for pack in (clone_git_dir / "objects" / "pack").glob("pack-*.pack"):
        # .idx after .pack, so the bare repository never sees an index without its pack
        for part in sorted(pack.parent.glob(pack.stem + ".*"), key=lambda f: f.suffix == ".idx"):
            os.replace(part, target / part.name)


def _progress(url: str, commit: str, show: bool, partial: bool = False):
    """GitPython's progress callback, on stderr: one live line on a terminal, else start and
    end; silent when not `show` (it still collects git's other lines, e.g. its warnings)."""
    from git import RemoteProgress

    class FetchProgress(RemoteProgress):
        label = f"fetching {url} @ {commit[:12]}" + (" (only reference.paths)" if partial else "")
        live = show and sys.stderr.isatty()

        def update(self, op_code, cur_count, max_count=None, message=""):
            if self.live and max_count:
                stage = (self._cur_line or "working").split(":")[0]
                print(f"\r{self.label}: {stage} {100 * cur_count / max_count:3.0f}%   ", end="", file=sys.stderr)

        def say(self, text: str) -> None:
            if show:
                print(("\n" if self.live else "") + text, file=sys.stderr, flush=True)

        def done(self) -> None:
            if show:
                print(("\r" if self.live else "") + f"{self.label}: done" + " " * 30, file=sys.stderr, flush=True)

    progress = FetchProgress()
    if show and not progress.live:
        print(progress.label, file=sys.stderr, flush=True)
    return progress
