"""The worker: one RunSpec in its own process.

The executor forks workers from a forkserver that has already imported torch (so a run
does not pay torch's ~1 s import again); `python -m repro.worker RUN_DIR` runs the same
code from a fresh interpreter, to rerun a recorded run by hand or on another machine.

It seeds python, numpy and torch, fixes torch's thread count and deterministic mode,
writes the environment fingerprint, imports the implementation from its file, calls
run(cfg, ctx) and writes result.json atomically. Anything it prints goes to the run's
log (the parent points stdout and stderr there). A crash writes error.json and exits 1;
a kill leaves neither result.json nor error.json, and the parent records what happened.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from repro.worker.context import RunContext, check_metrics
from repro.worker.imports import import_file
from repro.plan import RunSpec
from repro.paths import paper_cache_dir
from repro.records import read_json, write_json_atomic


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device here")
    return device


class ImportFailed(Exception):
    """Importing the implementation's file failed: which file, and the exception it raised."""


class RunExited(Exception):
    """run() called sys.exit() instead of returning its metrics."""


def load_implementation(path: Path, name: str):
    """An implementation module, which must define run(cfg, ctx)."""
    try:
        module = import_file(path, f"repro_impl_{name}")
    except Exception as exc:  # noqa: BLE001 - whatever it raised, say it happened importing this file
        raise ImportFailed(f"{type(exc).__name__} while importing {path}: {exc}") from exc
    if not callable(getattr(module, "run", None)):
        raise AttributeError(f"{path} has no function run(cfg, ctx)")
    return module


def set_up_numerics(threads: int) -> None:
    """What every worker sets before its first op: the thread count and deterministic mode
    (the numerics fingerprint it then records depends on both)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def group_dirs(run_dir: Path) -> list[Path]:
    """run_dir, and the folders of the other seeds its worker trains at once (--vectorize-seeds)."""
    from repro.paths import runs_dir

    spec = read_json(run_dir / "spec.json") or {}
    return [run_dir, *(runs_dir() / run_id for run_id in spec.get("vectorized_with") or [])]


def work(run_dir: Path) -> None:
    """Run the spec in run_dir (with its group: work_group); raises whatever the implementation raises."""
    spec = RunSpec.from_dict(read_json(run_dir / "spec.json"))
    os.environ.setdefault("MPLBACKEND", "Agg")  # implementations that plot must not need a screen
    set_up_numerics(spec.threads)

    from repro.worker.environment import fingerprint

    device = resolve_device(spec.device)
    environment = {"device": device, **fingerprint(spec.reference_commit, device)}
    for folder in group_dirs(run_dir):
        write_json_atomic(folder / "environment.json", environment)
    if spec.vectorized_with:
        return work_group(run_dir, spec, device)

    if spec.reference_env:  # the authors' requirements, ahead of the harness's packages
        from repro.fetch.requirements import PaperEnvironment

        sys.path.insert(0, str(PaperEnvironment(Path(spec.reference_env)).site_packages))
    module = load_implementation(Path(spec.impl_path), spec.impl)
    seed_everything(spec.seed)
    cache_dir = paper_cache_dir(spec.paper)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work_dir = run_dir / "work"
    work_dir.mkdir(exist_ok=True)

    started = time.time()
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as events:
        ctx = RunContext(
            seed=spec.seed,
            device=device,
            work_dir=work_dir,
            cache_dir=cache_dir,
            threads=spec.threads,
            reference_commit=spec.reference_commit,
            source_dir=Path(spec.source_dir) if spec.source_dir else None,
            environment=Path(spec.reference_env) if spec.reference_env else None,
            data={name: Path(path) for name, path in spec.data.items()},
            _events=events,
        )
        try:
            returned = module.run(dict(spec.config), ctx)
        except SystemExit as exc:
            raise RunExited(f"run() called sys.exit({exc.code!r}) instead of returning its metrics; an authors' "
                            "script that exits belongs in ctx.run_script") from None
        metrics = check_metrics(returned)
    write_json_atomic(run_dir / "result.json", {"metrics": metrics, "train_seconds": time.time() - started})


def work_group(run_dir: Path, spec: RunSpec, device: str) -> None:
    """--vectorize-seeds: train the seeds of one setting at once through the implementation's
    run_seeds(cfg, contexts), each context with its own seed, events and folder (each model
    is seeded by ctx.reseed()); write each run's result.json."""
    from contextlib import ExitStack

    module = load_implementation(Path(spec.impl_path), spec.impl)
    if not callable(getattr(module, "run_seeds", None)):
        raise AttributeError(f"{spec.impl_path} has no function run_seeds(cfg, contexts) for --vectorize-seeds")
    folders = group_dirs(run_dir)
    specs = [RunSpec.from_dict(read_json(folder / "spec.json")) for folder in folders]
    cache_dir = paper_cache_dir(spec.paper)
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with ExitStack() as files:
        contexts = []
        for folder, member in zip(folders, specs):
            (folder / "work").mkdir(exist_ok=True)
            events = files.enter_context(open(folder / "events.jsonl", "a", encoding="utf-8"))
            contexts.append(RunContext(seed=member.seed, device=device, work_dir=folder / "work", cache_dir=cache_dir,
                                       threads=member.threads, reference_commit=member.reference_commit,
                                       data={name: Path(path) for name, path in member.data.items()}, _events=events))
        returned = module.run_seeds(dict(spec.config), contexts)
        if not isinstance(returned, (list, tuple)) or len(returned) != len(contexts):
            raise TypeError(f"run_seeds() must return a list of {len(contexts)} metric dicts, one per context, "
                            f"got {type(returned).__name__}")
        metrics = [check_metrics(one) for one in returned]
    for folder, values in zip(folders, metrics):
        write_json_atomic(folder / "result.json", {"metrics": values, "train_seconds": time.time() - started})


@contextmanager
def output_to(log_path: str):
    """Send this process's stdout and stderr (file descriptors 1 and 2, so C code's output
    too) to the end of log_path, and put them back afterwards."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def run_here(run_dir: str, log_path: str, env: dict[str, str]) -> int:
    """Run the spec in run_dir in this process, with env set and output appended to log_path:
    the exit code `python -m repro.worker RUN_DIR` would give. Slurm's array tasks call this."""
    os.environ.update(env)
    with output_to(log_path):
        return main([run_dir])


def forked_main(run_dir: str, log_path: str, env: dict[str, str]) -> None:
    """Entry point of a worker forked from the executor's forkserver, which has torch imported.

    `env` is the whole environment the worker runs with: the harness's as it is now, not as
    it was when the forkserver started (REPRO_HOME, a variable set since). It leaves the
    harness's process group (so Ctrl-C reaches only the harness, which stops workers
    itself), then runs like `python -m repro.worker`, output in the run's log.
    """
    os.environ.clear()
    os.setsid()
    die_with_the_harness(Path(run_dir))
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    sys.exit(run_here(run_dir, log_path, env))


def die_with_the_harness(run_dir: Path) -> None:
    """Tie this worker's life to the harness's, though it left the harness's process group.

    The worker's parent is the forkserver, which exits when the harness does (even on kill -9:
    its pipe to the harness closes). Linux's parent-death signal turns that exit into a SIGTERM
    here; the handler tells it from the harness's own SIGTERM (sent to stop this run, which then
    records it) by the parent being gone, records the run as interrupted itself, and takes its
    process group (the authors' scripts too) down with it. The forkserver ignores the stopping
    signals (local.worker_context); a worker gets the usual ones back.
    """
    import ctypes
    import signal

    parent = os.getppid()
    # multiprocessing hands every forked child the write end of the forkserver's "alive" pipe,
    # and the forkserver exits only once every copy is closed: closed here, it exits with the
    # harness however the harness ends, and this worker hears of it (the parent-death signal).
    from multiprocessing import forkserver

    alive_fd = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    if alive_fd is not None:
        os.close(alive_fd)
        forkserver._forkserver._forkserver_alive_fd = None
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

    def on_sigterm(signum=None, frame=None):
        if os.getppid() != parent:
            record_orphaned(run_dir, "ended while this run was going (killed, or its terminal closed); "
                                     "the worker stopped with it")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.killpg(os.getpgrp(), signal.SIGTERM)  # this worker and whatever it started

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the harness's own stop still works
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        on_sigterm()


def record_orphaned(run_dir: Path, why: str) -> None:
    """The harness is gone: say so in run.json, which it would otherwise leave at 'running'.
    `why` follows "the harness (its pid) "."""
    from dataclasses import replace

    from repro.execute.base import iso_time
    from repro.records import Record

    data = read_json(run_dir / "run.json")
    if not data or data.get("status") not in ("queued", "running"):
        return
    record = Record.from_dict(data)
    now = time.time()
    harness = record.details.get("harness_pid") or "its parent"
    record = replace(record, status="interrupted", finished=iso_time(now),
                     error=f"the harness ({harness}) {why}")
    write_json_atomic(run_dir / "run.json", record.to_dict())


def forked_fingerprint(path: str, threads: int, env: dict[str, str]) -> None:
    """Entry point of a probe forked like a CPU run's worker: write the numerics fingerprint
    such a run would record, and run nothing (execute.probe_fingerprint)."""
    from repro.worker.numerics import numerics_fingerprint

    os.environ.clear()  # `env` is the whole environment, as for forked_main
    os.environ.update(env)
    set_up_numerics(threads)
    write_json_atomic(Path(path), numerics_fingerprint("cpu"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m repro.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        work(run_dir)
    except BaseException as exc:  # noqa: BLE001 - every failure must leave error.json
        traceback.print_exc()
        sys.stderr.flush()
        for folder in group_dirs(run_dir):  # a group goes down with its worker
            write_json_atomic(folder / "error.json", {"type": type(exc).__name__, "message": str(exc)[:2000]})
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    return 0

