"""Shared fixtures and helpers: an isolated REPRO_HOME, a tiny paper for worker tests, CLI
runners, a paper file as a module, and the baseline gate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

TINY_MANIFEST = """\
id: tiny
title: A tiny paper for testing the harness
authors: [Test Author]
year: 2024
venue: Tests
reference:
  repo: https://example.org/tiny.git
  commit: 0123456789abcdef0123456789abcdef01234567
config:
  variant: a
  mode: ok          # ok | crash | sleep | bad_return | print
  steps: 5
  score: 1.0
profiles:
  quick: {config: {steps: 3}, seeds: [0], expected_seconds: 5, paper_protocol: false}
  full: {seeds: 2, expected_seconds: 10, paper_protocol: true}
claims:
  - id: a_score
    metric: score
    setting: {variant: a}
    reported: 1.0
    direction: higher
    tolerance: {abs: 0.1}
    source: Table 1
  - id: b_score
    metric: score
    setting: {variant: b}
    reported: 2.0
    direction: higher
    tolerance: {rel: 0.05}
    source: Table 2
"""

TINY_IMPL = '''\
"""A pure-python implementation whose behaviour the config chooses."""
import os
import random
import sys
import time


def run(cfg, ctx):
    ctx.expect_steps(cfg["steps"])
    for step in range(1, cfg["steps"] + 1):
        ctx.log(step, loss=1.0 / step)
    if cfg["mode"] == "crash":
        return 1 / 0
    if cfg["mode"] == "sleep":
        print("sleeping", flush=True)
        time.sleep(300)
    if cfg["mode"] == "fill_the_disk":  # writes until the disk holding REPRO_HOME is full, then returns
        with open(ctx.work_dir / "filler", "wb") as filler:
            try:
                while True:
                    filler.write(bytes(65536))
                    filler.flush()
            except OSError:
                pass
    if cfg["mode"] == "sleep_with_a_child":  # like an adapter whose authors' script is running
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        (ctx.work_dir / "child.pid").write_text(str(child.pid))
        print("sleeping", flush=True)
        time.sleep(300)
    if cfg["mode"] == "bad_return":
        return {"score": "high"}
    if cfg["mode"] in ("inf", "text_number", "boolean"):
        return {"score": {"inf": float("inf"), "text_number": "0.9", "boolean": True}[cfg["mode"]]}
    if cfg["mode"] == "other_metric":
        return {"accuracy": 0.9}
    if cfg["mode"] == "exit":
        sys.exit(0)
    if cfg["mode"] == "print":
        print("secret is", os.environ.get("REPRO_TEST_SECRET"), flush=True)
    bonus = 1.0 if cfg["variant"] == "b" else 0.0
    return {"score": cfg["score"] + bonus + 0.01 * ctx.seed, "first_random": random.random(), "threads": ctx.threads}
'''


@pytest.fixture
def repro_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("REPRO_HOME", str(home))
    return home


@pytest.fixture
def tiny_papers(tmp_path, monkeypatch, repro_home) -> Path:
    """A catalog with one tiny paper, pointed at by REPRO_PAPERS."""
    folder = tmp_path / "papers" / "tiny"
    folder.mkdir(parents=True)
    (folder / "paper.yaml").write_text(TINY_MANIFEST)
    (folder / "reimpl.py").write_text(TINY_IMPL)
    monkeypatch.setenv("REPRO_PAPERS", str(folder.parent))
    return folder.parent


def repro_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "repro", *args]


def run_repro(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in this process (repro.cli.main, from `cwd`), shaped like a finished process:
    exit code, stdout, stderr. In-process is what the CLI does minus an interpreter's start
    and a forkserver's torch import; tests of signals, of a killed harness and of Slurm run
    real processes (run_repro_process, Popen)."""
    import contextlib
    import io

    from repro.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, --version, a usage error
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(repro_cmd(*args), code, out.getvalue(), err.getvalue())


def run_repro_process(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """The CLI in a subprocess with the test's environment; capture text output."""
    return subprocess.run(repro_cmd(*args), capture_output=True, text=True, timeout=timeout, env=dict(os.environ), **kwargs)


# Copies of the catalog's data files, laid beside the checkout for tests and offline runs
# (../shared/data/, with SHA256SUMS); CI has them too. Papers with downloaded data skip
# their real runs where the folder is missing.
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data(monkeypatch) -> Path:
    """REPRO_DATA_DIR pointed at ../shared/data, so data files are found offline (sha256-checked)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is missing: the data files of tcn and nanogpt cannot be found offline")
    monkeypatch.setenv("REPRO_DATA_DIR", str(SHARED_DATA))
    return SHARED_DATA


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit_files(repository: Path, files: dict[str, str], message: str = "release") -> str:
    """Write `files` (path -> text) into a git repository (made if new), commit them, return the SHA."""
    if not (repository / ".git").is_dir():
        repository.mkdir(parents=True, exist_ok=True)
        git("init", "-q", cwd=repository)
    for name, text in files.items():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_text(text)
    git("add", ".", cwd=repository)
    git("-c", "user.name=A", "-c", "user.email=a@a", "commit", "-qm", message, cwd=repository)
    return git("rev-parse", "HEAD", cwd=repository)


def reach_through_insteadof(monkeypatch, gitconfig: Path, repository: Path, url: str) -> None:
    """git (and so repro) reaches `url` at the local `repository`, as a mirror would be reached:
    a GIT_CONFIG_GLOBAL of this test's own with `url.<file-url>.insteadOf <url>`."""
    gitconfig.write_text(f'[url "file://{repository}"]\n\tinsteadOf = {url}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def paper_module(paper_id: str, file: str = "reimpl.py"):
    """A file of papers/PAPER imported as a module of its own, for tests of its functions."""
    from repro.worker.imports import import_file

    return import_file(REPO / "papers" / paper_id / file, f"{paper_id}_{Path(file).stem}_under_test")


def fetch_or_skip(paper_id: str) -> None:
    """`repro fetch PAPER` (its pinned commit and data), or skip the test with the reason:
    the authors' code is reachable only with a network or a mirror (git's insteadOf)."""
    fetched = run_repro("fetch", paper_id)
    if fetched.returncode != 0:
        reason = next((line for line in fetched.stderr.splitlines() if line.startswith("error")), fetched.stderr[-300:])
        pytest.skip(f"the authors' code cannot be fetched here: {reason}")


def check_against_baseline(paper, impl: str, records: list, data_regression, request) -> None:
    """The quick runs `records` of `impl` against its stored baseline: exactly where this
    machine made a stored file (pytest-regressions; --force-regen rewrites it), else within
    the measured portable tolerance."""
    from repro.baselines import (PASS, Regression, baseline_from_records, baseline_path, compare_with_baseline,
                                 comparison_notes, machine_paths, stored_baselines, update_command)
    from repro.render.text import regress_text

    stored = stored_baselines(paper.id, impl)
    if not stored:
        pytest.fail(f"no baseline {baseline_path(paper.id, impl)}: `{update_command(paper.id, impl)}` makes it "
                    "(it measures the spread too, which --force-regen cannot)")
    order = {(run["setting"], run["seed"]): i for i, run in enumerate(stored[0]["runs"])}
    records = sorted(records, key=lambda r: order.get((r.setting, r.seed), len(order)))  # the file's order
    obtained = baseline_from_records(paper, impl, "quick", records)
    paths = [baseline_path(paper.id, impl), *machine_paths(paper.id, impl)]
    for path, baseline in zip(paths, stored):
        if baseline.get("fingerprint_id") == obtained["fingerprint_id"]:  # exact: the same bits, or a change
            data_regression.check({**baseline, "runs": obtained["runs"]}, fullpath=path)
            return
    if request.config.getoption("force_regen"):
        pytest.skip(f"this machine ({obtained['machine']}) did not make {paths[0].name}: --force-regen rewrites "
                    f"only a machine's own file; `{update_command(paper.id, impl)}` remakes the baseline here")
    rows = compare_with_baseline(paper, stored, records)
    failed = [row for row in rows if row.status != PASS]
    assert not failed, regress_text(Regression(rows, [], False, comparison_notes(paper, stored, records)))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, for the test that opens the report in a browser: installed with
    apt-get when it is missing and the tests run as root (the way the Slurm cluster is), else
    the test skips with the reason."""
    import shutil

    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is missing, and installing it needs root and apt-get: `sudo apt-get install chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    try:
        done = subprocess.run(install, capture_output=True, text=True, timeout=900, env=env)
        if done.returncode != 0:  # the package lists may be old or missing
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=300, env=env)
            done = subprocess.run(install, capture_output=True, text=True, timeout=900, env=env)
    except subprocess.TimeoutExpired:
        pytest.skip("apt-get install chromium took more than 15 minutes")
    if done.returncode != 0 or not shutil.which("chromium"):
        pytest.skip(f"apt-get install chromium failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return shutil.which("chromium")


# A real single-node Slurm cluster, started once for the session by .ci/slurm-up.sh (root, a
# private network namespace) and stopped by PID at its end; tests that need it skip with the
# reason where it cannot start. A cluster already up (a developer's) is used and left running.
SLURM_DIR = Path("/tmp/repro-slurm")
SLURM_NETNS = "repro-slurm"


class SlurmCluster:
    """How to reach the test cluster: every client runs inside its network namespace."""

    def __init__(self):
        self.prefix = ["nsenter", f"--net=/run/netns/{SLURM_NETNS}", "env", f"SLURM_CONF={SLURM_DIR / 'slurm.conf'}"]

    def command(self, *args: str) -> list[str]:
        return [*self.prefix, *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout)

    def repro(self, *args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
        """The CLI as a client of the cluster, with the test's environment."""
        return subprocess.run(self.command(*repro_cmd(*args)), capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ), **kwargs)

    def is_up(self) -> bool:
        try:
            state = self.run("sinfo", "-h", "-o", "%T", timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return False
        return state in ("idle", "mixed", "allocated", "completing")


@pytest.fixture(scope="session")
def slurm_cluster():
    cluster = SlurmCluster()
    if Path(f"/run/netns/{SLURM_NETNS}").exists() and cluster.is_up():
        yield cluster  # someone's cluster is up: use it, leave it
        return
    if os.geteuid() != 0:
        pytest.skip("the Slurm test cluster needs root (network namespace, munge, slurm daemons): "
                    "run the tests as root, or start it first with `sudo .ci/slurm-up.sh`")
    try:
        up = subprocess.run([str(REPO / ".ci" / "slurm-up.sh")], capture_output=True, text=True, timeout=600)
        problem = None if up.returncode == 0 else (up.stderr or up.stdout).strip()[-500:]
    except subprocess.TimeoutExpired:
        problem = ".ci/slurm-up.sh took more than 10 minutes (a hung apt-get install?)"
    if problem:
        subprocess.run([str(REPO / ".ci" / "slurm-down.sh")], capture_output=True)
        pytest.skip(f"the Slurm test cluster did not start: {problem}")
    try:
        yield cluster
    finally:
        subprocess.run([str(REPO / ".ci" / "slurm-down.sh")], capture_output=True, timeout=120)
