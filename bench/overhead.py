"""Overhead of `repro run mnist1d --profile quick` over calling the same training code in-process.

The direct side is one python process that imports torch and the re-implementation once and
calls run(cfg, ctx) for each planned run in turn, with the same config, seeds and torch
threads (what a student's own training script would do). The harness side
runs the CLI (one worker process per run, --jobs 1). Both use a warm data cache.
Target: harness wall time / direct wall time <= 1.15.

    .venv/bin/python bench/overhead.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
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
TARGET_RATIO = 1.15


class DirectContext:
    """The parts of RunContext the re-implementation uses, without a worker."""

    def __init__(self, seed: int, cache_dir: Path, threads: int):
        self.seed, self.device, self.cache_dir, self.threads = seed, "cpu", cache_dir, threads
        self.work_dir = cache_dir

    def log(self, step, **metrics):
        pass

    def expect_steps(self, total):
        pass


def direct_in_process(specs, cache_dir: Path) -> None:
    """What a student would write: one script that trains every planned run in turn."""
    import numpy as np
    import torch

    spec = importlib.util.spec_from_file_location("mnist1d_reimpl", specs[0].impl_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.set_num_threads(specs[0].threads)
    for run_spec in specs:
        random.seed(run_spec.seed)
        np.random.seed(run_spec.seed)
        torch.manual_seed(run_spec.seed)
        module.run(dict(run_spec.config), DirectContext(run_spec.seed, cache_dir, run_spec.threads))


def direct(home: Path) -> float:
    """Wall time of that script as its own process (python start and torch import included)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--direct"], check=True, env={**os.environ, "REPRO_HOME": str(home)})
    return time.perf_counter() - started


def harness(home: Path) -> float:
    env = {**os.environ, "REPRO_HOME": str(home)}
    repro = str(Path(sys.executable).with_name("repro"))
    started = time.perf_counter()
    subprocess.run([repro, "run", "mnist1d", "--profile", "quick", "--jobs", "1", "--device", "cpu"],
                   check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from repro.catalog import load_paper
    from repro.plan import plan_runs

    if args.direct:  # the child process of direct()
        home = Path(os.environ["REPRO_HOME"])
        specs = plan_runs(load_paper("mnist1d"), profile="quick", device="cpu", jobs=1)
        direct_in_process(specs, home / "cache" / "mnist1d")
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["REPRO_HOME"] = str(home)
        specs = plan_runs(load_paper("mnist1d"), profile="quick", device="cpu", jobs=1)
        cache_dir = home / "cache" / "mnist1d"
        cache_dir.mkdir(parents=True)
        harness(home)  # warms the data cache and the OS file cache
        rows = []
        for i in range(args.repeat):
            h = harness(home)
            d = direct(home)
            rows.append([i + 1, f"{d:.2f}", f"{h:.2f}", f"{h / d:.3f}"])
        ratios = [float(r[3]) for r in rows]
    median = statistics.median(ratios)
    print(tabulate(rows, headers=["repeat", "direct s", "repro run s", "ratio"]))
    print(f"\nmedian ratio {median:.3f} (target <= {TARGET_RATIO}): {'ok' if median <= TARGET_RATIO else 'MISSED'}")
    print(f"{len(specs)} runs, {specs[0].threads} torch threads; machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
