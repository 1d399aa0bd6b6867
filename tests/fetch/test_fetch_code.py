"""Fetching the authors' code at a pinned commit (repro.fetch.repository), without a network.

A module-scoped fixture builds a source repository with `git` in a temporary folder. Every
test gives git its own global config (GIT_CONFIG_GLOBAL, GIT_CONFIG_NOSYSTEM=1) holding
`url."file://<source>".insteadOf https://example.org/authors/paper`, so the harness only
ever sees the https URL and git's own rewrite reaches the local repository, as a mirror
would on a machine without GitHub.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from repro.errors import CheckoutChanged, UsageError
from repro.fetch.repository import (
    VERIFIED_MARKER,
    FetchError,
    cache_key,
    check_commit,
    check_url,
    checkout_path,
    fetch_commit,
    is_fetched,
)

REPO = Path(__file__).resolve().parents[2]
URL = "https://example.org/authors/paper"
N_COMMITS = 60
BLOBS = 4  # binary files of random bytes; one of them changes in every commit
BLOB_SIZE = 48 * 1024  # 60 commits x 48 KiB of incompressible bytes: ~3 MB of history


# ------------------------------------------------------------------------ the source repository


def _git(*args: str, cwd: Path | None = None, check: bool = True, env: dict | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout.strip()


@dataclass(frozen=True)
class Source:
    path: Path
    commits: list[str]  # main's history, oldest first
    feature: str  # a commit only on the branch `feature`
    tag: str  # the annotated tag v1.0's object (it tags commits[20])

    @property
    def tip(self) -> str:
        return self.commits[-1]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    """60 commits on main (a text file per commit, random binary files changing), a branch, a tag."""
    path = tmp_path_factory.mktemp("authors") / "paper"
    path.mkdir()
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Author",
        "GIT_AUTHOR_EMAIL": "author@example.org",
        "GIT_COMMITTER_NAME": "Author",
        "GIT_COMMITTER_EMAIL": "author@example.org",
    }
    _git("init", "--quiet", "--initial-branch=main", cwd=path, env=env)
    rng = random.Random(1234)
    (path / "notes").mkdir()
    (path / "data").mkdir()
    commits = []
    for i in range(N_COMMITS):
        (path / "notes" / f"{i:03d}.txt").write_text(f"commit {i}\n")
        (path / "data" / f"blob{i % BLOBS}.bin").write_bytes(rng.randbytes(BLOB_SIZE))
        (path / "VERSION").write_text(f"{i}\n")
        _git("add", "--all", cwd=path, env=env)
        _git("commit", "--quiet", "-m", f"commit {i}", cwd=path, env=env)
        commits.append(_git("rev-parse", "HEAD", cwd=path, env=env))
        if i == 20:
            _git("tag", "-a", "v1.0", "-m", "release 1.0", cwd=path, env=env)
    _git("checkout", "--quiet", "-b", "feature", commits[30], cwd=path, env=env)
    (path / "FEATURE").write_text("only on the feature branch\n")
    _git("add", "--all", cwd=path, env=env)
    _git("commit", "--quiet", "-m", "feature work", cwd=path, env=env)
    feature = _git("rev-parse", "HEAD", cwd=path, env=env)
    _git("checkout", "--quiet", "main", cwd=path, env=env)
    return Source(path, commits, feature, _git("rev-parse", "v1.0", cwd=path, env=env))


# ------------------------------------------------------------------------ per-test git config


class GitConfig:
    """The test's GIT_CONFIG_GLOBAL file; `write` replaces its contents."""

    def __init__(self, path: Path, source: Source):
        self.path, self.source = path, source

    def write(self, target: str | None = None, *, protocol_version: int | None = None) -> None:
        target = target if target is not None else f"file://{self.source.path}"
        text = f'[user]\n\tname = Tester\n\temail = tester@example.org\n[url "{target}"]\n\tinsteadOf = {URL}\n'
        if protocol_version is not None:
            text += f"[protocol]\n\tversion = {protocol_version}\n"
        self.path.write_text(text)


@pytest.fixture
def gitconfig(tmp_path, monkeypatch, repro_home, source) -> GitConfig:
    config = GitConfig(tmp_path / "gitconfig", source)
    config.write()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config.path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_DIR", raising=False)
    return config


def bare_repo(repro_home: Path) -> Path:
    return repro_home / "git" / "repos" / f"{cache_key(URL)}.git"


def refs(repo: Path) -> list[str]:
    return _git("for-each-ref", "--format=%(refname)", cwd=repo).split()


def assert_checkout_of(path: Path, source: Source, commit: str) -> None:
    """`path` is a clean working tree whose HEAD is `commit`, with exactly that commit's files."""
    assert _git("rev-parse", "HEAD", cwd=path) == commit
    assert json.loads((path / ".git" / VERIFIED_MARKER).read_text())["commit"] == commit
    assert _git("status", "--porcelain", cwd=path) == ""
    expected = sorted(_git("ls-tree", "-r", "--name-only", commit, cwd=source.path).split())
    actual = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert actual == expected
    blob = "data/blob0.bin"
    content = subprocess.run(["git", "show", f"{commit}:{blob}"], cwd=source.path, capture_output=True, check=True)
    assert (path / blob).read_bytes() == content.stdout


@pytest.fixture
def no_git(monkeypatch, tmp_path):
    """Any git command from now on fails: `git` is not on PATH and GitPython cannot run anything."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"git ran: {args}")

    def arm():
        empty = tmp_path / "empty-bin"
        empty.mkdir(exist_ok=True)
        monkeypatch.setenv("PATH", str(empty))
        monkeypatch.setattr(git.cmd.Git, "execute", refuse)

    return arm


# ------------------------------------------------------------------------ pinned fetches


def test_pinned_fetch_of_an_old_commit_is_shallow_and_exact(gitconfig, repro_home, source):
    old = source.commits[5]
    path = fetch_commit(URL, old, show_progress=False)

    assert path == checkout_path(URL, old)
    assert is_fetched(URL, old)
    assert_checkout_of(path, source, old)
    assert sorted(p.name for p in (path / "notes").iterdir()) == [f"{i:03d}.txt" for i in range(6)]
    assert (path / "VERSION").read_text() == "5\n"  # the commit's files, not the branch tip's
    # Shallow: only that commit's history, and nothing of the tip came over.
    assert _git("rev-list", "--count", "HEAD", cwd=path) == "1"
    bare = bare_repo(repro_home)
    assert (bare / "shallow").read_text().split() == [old]
    assert subprocess.run(["git", "cat-file", "-e", source.tip], cwd=bare).returncode != 0
    # The fast path: no branch was fetched, the commit is pinned by a ref of its own.
    assert refs(bare) == [f"refs/repro/{old}"]
    assert not is_fetched(URL, source.commits[6])


def test_cached_refetch_needs_no_network_and_checks_the_checkout_locally(gitconfig, repro_home, source, monkeypatch):
    commit = source.commits[12]
    first = fetch_commit(URL, commit, show_progress=False)

    gitconfig.write(target=f"file://{repro_home}/gone")  # the mirror disappears
    calls = []
    execute = git.cmd.Git.execute
    monkeypatch.setattr(git.cmd.Git, "execute", lambda self, command, **kw: calls.append(command) or execute(self, command, **kw))
    again = fetch_commit(URL, commit, show_progress=False)

    assert again == first
    assert is_fetched(URL, commit)
    assert [command[1] for command in calls] == ["status"]  # one local check (HEAD, clean), no fetch


def test_second_commit_of_the_same_url_reuses_the_bare_repository(gitconfig, repro_home, source):
    newer, older = source.commits[40], source.commits[10]
    fetch_commit(URL, newer, show_progress=False)
    repos = repro_home / "git" / "repos"
    assert [p.name for p in repos.iterdir()] == [bare_repo(repro_home).name]
    (bare_repo(repro_home) / "sentinel").write_text("still the same repository\n")

    # An ancestor of the shallow commit, a commit only on a branch, the tip: all by SHA.
    for commit in (older, source.feature, source.tip):
        path = fetch_commit(URL, commit, show_progress=False)
        assert_checkout_of(path, source, commit)
        assert _git("rev-list", "--count", "HEAD", cwd=path) == "1"

    assert [p.name for p in repos.iterdir()] == [bare_repo(repro_home).name]
    assert (bare_repo(repro_home) / "sentinel").exists()
    wanted = {newer, older, source.feature, source.tip}
    assert set(refs(bare_repo(repro_home))) == {f"refs/repro/{c}" for c in wanted}
    checkouts = repro_home / "git" / "checkouts" / cache_key(URL)
    assert sorted(p.name for p in checkouts.iterdir()) == sorted(wanted)
    assert_checkout_of(checkout_path(URL, newer), source, newer)  # the first is untouched


def test_a_sha_that_is_not_in_the_repository(gitconfig, repro_home, source):
    missing = secrets.token_hex(20)
    with pytest.raises(FetchError, match=f"{missing} is not in {URL}"):
        fetch_commit(URL, missing, show_progress=False)
    assert not is_fetched(URL, missing)
    assert not checkout_path(URL, missing).exists()


def test_an_annotated_tag_object_is_not_a_commit(gitconfig, repro_home, source):
    assert source.tag != source.commits[20]
    with pytest.raises(FetchError, match=source.tag):
        fetch_commit(URL, source.tag, show_progress=False)
    assert not checkout_path(URL, source.tag).exists()


def test_the_error_for_a_tag_object_says_what_happened(gitconfig, repro_home, source):
    with pytest.raises(FetchError) as caught:
        fetch_commit(URL, source.tag, show_progress=False)
    assert "fetched every branch and tag" not in str(caught.value)
    assert f"is not in {URL}" not in str(caught.value)


@pytest.mark.parametrize("commit", ["main", "master", "v1.0", "HEAD", "short7", "short12", "upper", "sha+space"])
def test_branches_tags_and_short_shas_are_refused_before_any_git(gitconfig, repro_home, source, no_git, commit):
    commit = {
        "short7": source.commits[3][:7],
        "short12": source.commits[3][:12],
        "upper": source.commits[3].upper(),
        "sha+space": source.commits[3] + " ",
    }.get(commit, commit)
    no_git()
    with pytest.raises(UsageError, match="not a full 40-hex commit SHA"):
        check_commit(commit)
    with pytest.raises(UsageError, match="not a full 40-hex commit SHA"):
        fetch_commit(URL, commit, show_progress=False)
    assert not (repro_home / "git").exists()


def test_unreachable_url_names_the_url_and_insteadof(gitconfig, repro_home, source, tmp_path):
    gitconfig.write(target=f"file://{tmp_path}/no-such-mirror")
    commit = source.commits[7]
    with pytest.raises(FetchError) as caught:
        fetch_commit(URL, commit, show_progress=False)
    message = str(caught.value)
    assert f"cannot fetch {URL}" in message
    assert f"insteadOf {URL}" in message
    assert caught.value.exit_code == 3
    assert not is_fetched(URL, commit)

    gitconfig.write()  # the mirror is back: the half-made cache does not get in the way
    assert_checkout_of(fetch_commit(URL, commit, show_progress=False), source, commit)


# ------------------------------------------------------------------------ a server that will not fetch by SHA


def test_protocol_v0_refuses_an_unadvertised_sha(gitconfig, source, tmp_path):
    """The premise of the fallback tests: with protocol v0 the server refuses a fetch by SHA."""
    gitconfig.write(protocol_version=0)
    _git("init", "--quiet", "--bare", str(tmp_path / "probe.git"))
    result = subprocess.run(
        ["git", "fetch", "--depth=1", URL, source.commits[4]], cwd=tmp_path / "probe.git", capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "unadvertised object" in result.stderr or "not our ref" in result.stderr


def test_fallback_full_fetch_when_the_server_refuses_fetch_by_sha(gitconfig, repro_home, source, capsys):
    gitconfig.write(protocol_version=0)
    old = source.commits[4]
    path = fetch_commit(URL, old, show_progress=True)

    assert_checkout_of(path, source, old)
    assert "the server refused a fetch by SHA; fetching all branches and tags instead" in capsys.readouterr().err
    bare = bare_repo(repro_home)
    assert {"refs/remotes/origin/main", "refs/remotes/origin/feature", "refs/tags/v1.0"} <= set(refs(bare))
    assert not (bare / "shallow").exists()  # everything came over
    # Later commits are already there: no fetch at all, even with the mirror gone.
    gitconfig.write(target="file:///nonexistent-mirror")
    assert_checkout_of(fetch_commit(URL, source.feature, show_progress=False), source, source.feature)


def test_fallback_unshallows_a_cache_made_by_a_fetch_by_sha(gitconfig, repro_home, source):
    fetch_commit(URL, source.commits[50], show_progress=False)
    bare = bare_repo(repro_home)
    assert (bare / "shallow").exists()

    gitconfig.write(protocol_version=0)  # the same URL now served by a stricter mirror
    path = fetch_commit(URL, source.commits[2], show_progress=False)

    assert_checkout_of(path, source, source.commits[2])
    assert not (bare / "shallow").exists()
    assert "refs/remotes/origin/main" in refs(bare)
    assert_checkout_of(checkout_path(URL, source.commits[50]), source, source.commits[50])


def test_missing_sha_with_the_fallback(gitconfig, repro_home, source):
    gitconfig.write(protocol_version=0)
    missing = secrets.token_hex(20)
    with pytest.raises(FetchError, match=f"{missing} is not in {URL}"):
        fetch_commit(URL, missing, show_progress=False)


# ------------------------------------------------------------------------ concurrency


FETCH_SCRIPT = textwrap.dedent(
    """\
    import sys, time
    start = float(sys.argv[3])
    from repro.fetch.repository import fetch_commit
    while time.time() < start:
        time.sleep(0.001)
    print(fetch_commit(sys.argv[1], sys.argv[2], show_progress=False))
    """
)


def test_two_processes_fetching_the_same_commit(gitconfig, repro_home, source):
    commit = source.commits[33]
    start = time.time() + 1.5  # both processes are imported and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FETCH_SCRIPT, URL, commit, repr(start)],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]

    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    paths = {out.strip() for out, _ in outputs}
    assert paths == {str(checkout_path(URL, commit))}
    assert_checkout_of(checkout_path(URL, commit), source, commit)
    checkouts = repro_home / "git" / "checkouts" / cache_key(URL)
    assert [p.name for p in checkouts.iterdir()] == [commit]  # one checkout, no .tmp left over
    assert len(list((repro_home / "git" / "repos").iterdir())) == 1


# ------------------------------------------------------------------------ interrupted fetches


def test_interrupted_fetch_is_cleaned_up_and_redone(gitconfig, repro_home, source):
    commit = source.commits[25]
    checkout = checkout_path(URL, commit)
    # What an interrupted fetch of this process leaves: a half-made temporary folder ...
    tmp = checkout.parent / f".{commit}.{os.getpid()}.tmp"
    (tmp / ".git").mkdir(parents=True)
    (tmp / "half-written.bin").write_bytes(b"\0" * 100)
    # ... and a checkout folder without a (complete) marker.
    (checkout / ".git").mkdir(parents=True)
    (checkout / ".git" / VERIFIED_MARKER).write_text("")
    (checkout / "stale.txt").write_text("from an interrupted fetch\n")
    assert not is_fetched(URL, commit)

    path = fetch_commit(URL, commit, show_progress=False)

    assert path == checkout
    assert_checkout_of(path, source, commit)
    assert not (path / "stale.txt").exists()
    assert [p.name for p in checkout.parent.iterdir()] == [commit]


def test_unverified_checkout_without_marker_is_redone(gitconfig, repro_home, source):
    commit = source.commits[26]
    checkout = checkout_path(URL, commit)
    checkout.mkdir(parents=True)
    (checkout / "VERSION").write_text("not what the commit says\n")

    path = fetch_commit(URL, commit, show_progress=False)

    assert_checkout_of(path, source, commit)
    assert (path / "VERSION").read_text() == "26\n"


def test_temporary_folder_of_a_dead_process_is_cleaned_up(gitconfig, repro_home, source):
    commit = source.commits[27]
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = checkout_path(URL, commit).parent / f".{commit}.{dead.pid}.tmp"
    (leftover / ".git").mkdir(parents=True)
    (leftover / "half-written.bin").write_bytes(b"\0" * 100)

    path = fetch_commit(URL, commit, show_progress=False)

    assert_checkout_of(path, source, commit)  # the fetch itself is redone fine ...
    assert [p.name for p in path.parent.iterdir()] == [commit]  # ... but the leftover stays


def test_bare_cache_interrupted_before_its_remote_was_added(gitconfig, repro_home, source):
    git.Repo.init(bare_repo(repro_home), bare=True)  # what Repo.init leaves before create_remote
    commit = source.commits[28]
    assert_checkout_of(fetch_commit(URL, commit, show_progress=False), source, commit)


# ------------------------------------------------------------------------ a server that asks for a password


AUTH_SERVER = textwrap.dedent(
    """\
    import http.server
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_port, flush=True)
    server.serve_forever()
    """
)


def test_a_server_asking_for_credentials_fails_instead_of_prompting(gitconfig, repro_home, source):
    import pty
    import select
    import signal

    server = subprocess.Popen([sys.executable, "-c", AUTH_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        gitconfig.write(target=f"http://127.0.0.1:{port}/paper")
        env = {k: v for k, v in os.environ.items() if k not in ("GIT_TERMINAL_PROMPT", "GIT_ASKPASS", "SSH_ASKPASS")}
        code = f"from repro.fetch.repository import fetch_commit; fetch_commit({URL!r}, {source.commits[1]!r})"
        pid, fd = pty.fork()  # a user at a terminal
        if pid == 0:  # pragma: no cover (the child)
            os.chdir(REPO)
            os.execve(sys.executable, [sys.executable, "-c", code], env)
        output, status, deadline = b"", None, time.time() + 8
        while status is None and time.time() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    output += os.read(fd, 4096)
                except OSError:
                    pass
            if os.waitpid(pid, os.WNOHANG)[0]:
                status = "exited"
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    finally:
        server.kill()
        server.wait()
    text = output.decode(errors="replace")
    assert status == "exited", f"still waiting after 8 s; its terminal shows: {text[-200:]!r}"
    assert "FetchError" in text and f"cannot fetch {URL}" in text


# ------------------------------------------------------------------------ unsafe URLs


UNSAFE_URLS = [
    "ext::sh -c touch% {marker}",
    "ext::sh -c touch% /tmp/pwned",
    "ext://sh -c touch% {marker}",
    "fd::17",
    "--upload-pack=touch {marker}",
    "--upload-pack=touch /tmp/pwned",
    "-u touch {marker}",
    "https://example.org/x --upload-pack=touch {marker}",
    "https://example.org/x --upload-pack=evil",
    "https://example.org/x\n--upload-pack=touch {marker}",
    "file://{source}",
    "{source}",
]


@pytest.mark.parametrize("template", UNSAFE_URLS)
def test_unsafe_urls_are_refused_before_any_git(gitconfig, repro_home, source, tmp_path, no_git, template):
    marker = tmp_path / "pwned"
    url = template.format(marker=marker, source=source.path)
    existed = Path("/tmp/pwned").exists()
    no_git()
    with pytest.raises(UsageError, match="refusing git URL"):
        check_url(url)
    with pytest.raises(UsageError, match="refusing git URL"):
        fetch_commit(url, source.commits[1], show_progress=False)
    assert not marker.exists()
    assert Path("/tmp/pwned").exists() == existed
    assert not (repro_home / "git").exists()


@pytest.mark.parametrize(
    "url",
    [
        "ssh://-oProxyCommand=touch%20pwned/repo",
        "ssh://git@-oProxyCommand=touch%20pwned/repo",
        "ssh://-oProxyCommand=touch%20pwned@example.org/repo",
        "git@-oProxyCommand=touch:repo",
        "-oProxyCommand=touch@example.org:repo",
    ],
)
def test_ssh_host_or_user_that_reads_as_an_option_is_refused(gitconfig, repro_home, source, tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="refusing git URL"):
        check_url(url)
    with pytest.raises(UsageError, match="refusing git URL"):
        fetch_commit(url, source.commits[1], show_progress=False)
    assert not (tmp_path / "pwned").exists()


PERCENT_DASH = "ssh://%2DoProxyCommand=touch%20pwned/repo"  # git decodes the host to -oProxyCommand=...


def test_percent_encoded_dash_in_an_ssh_host_is_refused(gitconfig):
    with pytest.raises(UsageError):
        check_url(PERCENT_DASH)


def test_percent_encoded_dash_in_an_ssh_host_is_stopped_by_git(gitconfig, repro_home, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        fetch_commit(PERCENT_DASH, source.commits[1], show_progress=False)
    except UsageError:
        pass  # refused by the harness itself: better still
    except FetchError as exc:
        assert "strange hostname" in str(exc)
    else:
        raise AssertionError("fetched from an ssh host named -oProxyCommand=...")
    assert not (tmp_path / "pwned").exists()


def test_gitpython_itself_refuses_unsafe_protocols_and_options(gitconfig, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(git.exc.UnsafeProtocolError):
        git.Repo.clone_from(f"ext::sh -c touch% {marker}", tmp_path / "clone1")
    bare = git.Repo.init(tmp_path / "bare.git", bare=True)
    origin = bare.create_remote("origin", URL)
    with pytest.raises(git.exc.UnsafeOptionError):
        origin.fetch(upload_pack=f"touch {marker}")
    with pytest.raises(git.exc.UnsafeOptionError):
        git.Repo.clone_from(URL, tmp_path / "clone2", multi_options=[f"--upload-pack=touch {marker}"])
    assert not marker.exists()


def test_the_harness_never_enables_gitpythons_unsafe_switches():
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "repro").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and b"allow_unsafe" in path.read_bytes()
    ]
    assert offenders == []


# ------------------------------------------------------------------------ reuse: verified every time


def test_a_checkout_edited_after_its_fetch_is_refused_and_refetch_repairs_it(gitconfig, repro_home, source):
    commit = source.commits[30]
    path = fetch_commit(URL, commit, show_progress=False)
    (path / "__pycache__").mkdir()
    (path / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"bytecode")  # what importing leaves: fine
    assert fetch_commit(URL, commit, show_progress=False) == path

    (path / "VERSION").write_text("edited\n")
    with pytest.raises(CheckoutChanged, match="files differ from commit .*: VERSION") as caught:
        fetch_commit(URL, commit, show_progress=False)
    assert "--refetch" in str(caught.value) and caught.value.exit_code == 3

    assert_checkout_of(fetch_commit(URL, commit, show_progress=False, refetch=True), source, commit)
    (path / "injected.py").write_text("print('not the authors')\n")  # a new file counts too
    with pytest.raises(CheckoutChanged, match="injected.py"):
        fetch_commit(URL, commit, show_progress=False)


def test_a_checkout_whose_head_moved_is_refused(gitconfig, repro_home, source):
    commit, other = source.commits[31], source.commits[32]
    path = fetch_commit(URL, commit, show_progress=False)
    fetch_commit(URL, other, show_progress=False)  # the bare cache has `other` too
    _git("checkout", "--quiet", "--detach", other, cwd=path)  # clean, but the wrong commit
    with pytest.raises(CheckoutChanged, match=f"HEAD is {other}, not the pinned commit {commit}"):
        fetch_commit(URL, commit, show_progress=False)


# ------------------------------------------------------------------------ --from DIR: a local clone on purpose


def test_fetch_from_a_local_clone_needs_no_network(gitconfig, repro_home, source, tmp_path):
    commit = source.commits[33]
    clone = tmp_path / "my-clone"
    _git("clone", "--quiet", str(source.path), str(clone))
    gitconfig.write(target=f"file://{tmp_path}/no-mirror")  # the URL leads nowhere now

    with pytest.raises(UsageError, match=f"its HEAD is {source.tip}, not the pinned commit {commit}"):
        fetch_commit(URL, commit, show_progress=False, from_dir=clone)
    _git("checkout", "--quiet", "--detach", commit, cwd=clone)
    (clone / "VERSION").write_text("edited\n")
    with pytest.raises(UsageError, match="tracked files differ from the commit .VERSION"):
        fetch_commit(URL, commit, show_progress=False, from_dir=clone)
    _git("checkout", "--quiet", "--", "VERSION", cwd=clone)
    with pytest.raises(UsageError, match="not a git clone"):
        fetch_commit(URL, commit, show_progress=False, from_dir=tmp_path)

    path = fetch_commit(URL, commit, show_progress=False, from_dir=clone)
    assert_checkout_of(path, source, commit)
    assert json.loads((path / ".git" / VERIFIED_MARKER).read_text())["origin"] == str(clone)
    assert fetch_commit(URL, commit, show_progress=False) == path  # cached from now on


# ------------------------------------------------------------------------ partial fetches: only reference.paths


@pytest.fixture(scope="module")
def incomplete_mirror(tmp_path_factory) -> dict:
    """The authors' repository with a 4 MB file the adapter never reads, and a mirror of it
    that lacks that file (like a mirror that skipped large files), serving partial fetches."""
    root = tmp_path_factory.mktemp("big")
    authors = root / "authors"
    authors.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@a", "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@a"}
    _git("init", "--quiet", "--initial-branch=main", cwd=authors, env=env)
    (authors / "src").mkdir()
    (authors / "src" / "train.py").write_text("print('training')\n")
    (authors / "src" / "model.py").write_text("LAYERS = 3\n")
    (authors / "notebooks").mkdir()
    (authors / "notebooks" / "figures.bin").write_bytes(random.Random(0).randbytes(4 * 1024 * 1024))
    (authors / "README.md").write_text("the authors' README\n")
    _git("add", ".", cwd=authors, env=env)
    _git("commit", "--quiet", "-m", "release", cwd=authors, env=env)
    commit = _git("rev-parse", "HEAD", cwd=authors, env=env)
    big = _git("rev-parse", "HEAD:notebooks/figures.bin", cwd=authors, env=env)

    mirror = root / "mirror.git"
    (root / "serving.gitconfig").write_text("[uploadpack]\n\tallowFilter = true\n")  # git's local transport reads files, not -c
    serving = {**env, "GIT_CONFIG_GLOBAL": str(root / "serving.gitconfig")}
    _git("clone", "--quiet", "--bare", "--filter=blob:limit=1m", f"file://{authors}", str(mirror), env=serving)
    for key in ("remote.origin.promisor", "extensions.partialclone", "remote.origin.partialclonefilter"):
        _git("config", "--unset", key, cwd=mirror, env=env, check=False)  # no promisor: the big blob is simply missing
    assert subprocess.run(["git", "cat-file", "-e", big], cwd=mirror, env=env).returncode != 0
    return {"mirror": mirror, "commit": commit}


def serve_mirror(gitconfig: GitConfig, mirror: Path, *, allow_filter: bool = True) -> None:
    gitconfig.write(target=f"file://{mirror}")
    if allow_filter:
        with open(gitconfig.path, "a") as config:
            config.write("[uploadpack]\n\tallowFilter = true\n\tallowAnySHA1InWant = true\n")


def test_a_full_fetch_from_an_incomplete_mirror_fails_and_names_reference_paths(gitconfig, repro_home, incomplete_mirror):
    serve_mirror(gitconfig, incomplete_mirror["mirror"])
    with pytest.raises(FetchError) as caught:
        fetch_commit(URL, incomplete_mirror["commit"], show_progress=False)
    message = str(caught.value)
    assert f"through git's insteadOf: file://{incomplete_mirror['mirror']}" in message
    assert "could not send every object" in message and "reference.paths" in message
    assert "Offline" not in message  # the mirror was reached


def test_a_partial_fetch_gets_only_the_paths_the_adapter_needs(gitconfig, repro_home, incomplete_mirror):
    serve_mirror(gitconfig, incomplete_mirror["mirror"])
    commit = incomplete_mirror["commit"]
    path = fetch_commit(URL, commit, paths=["src/"], show_progress=False)

    assert path == checkout_path(URL, commit, ["src/"]) != checkout_path(URL, commit)
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert files == ["src/model.py", "src/train.py"]
    assert (path / "src" / "train.py").read_text() == "print('training')\n"
    marker = json.loads((path / ".git" / VERIFIED_MARKER).read_text())
    assert marker["paths"] == ["src/"] and marker["tree"] == _git("rev-parse", f"{commit}^{{tree}}", cwd=path)
    moved = sum(f.stat().st_size for f in repro_home.rglob("*") if f.is_file())
    assert moved < 1024 * 1024  # the 4 MB file was never fetched
    assert fetch_commit(URL, commit, paths=["src/"], show_progress=False) == path  # verified and reused

    (path / "src" / "model.py").write_text("LAYERS = 4\n")
    with pytest.raises(CheckoutChanged, match="src/model.py"):
        fetch_commit(URL, commit, paths=["src/"], show_progress=False)

    gitconfig.write(target=f"file://{repro_home}/gone")  # offline: the blobs it fetched are in the cache
    path = fetch_commit(URL, commit, paths=["src/"], show_progress=False, refetch=True)
    assert (path / "src" / "model.py").read_text() == "LAYERS = 3\n"
    assert _git("status", "--porcelain", cwd=path) == ""


def test_paths_that_match_nothing_are_an_error(gitconfig, repro_home, incomplete_mirror):
    serve_mirror(gitconfig, incomplete_mirror["mirror"])
    with pytest.raises(FetchError, match=r"reference.paths \(scr/\) match no file"):
        fetch_commit(URL, incomplete_mirror["commit"], paths=["scr/"], show_progress=False)


def test_a_server_without_filters_gets_a_whole_fetch_and_says_so(gitconfig, repro_home, source, capsys):
    serve_mirror(gitconfig, source.path, allow_filter=False)
    commit = source.commits[34]
    path = fetch_commit(URL, commit, paths=["notes/", "VERSION"], show_progress=True)
    assert "does not serve partial fetches" in capsys.readouterr().err
    assert (path / "VERSION").read_text() == "34\n" and not (path / "data").exists()
