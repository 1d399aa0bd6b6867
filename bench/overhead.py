"""Overhead of `repro run mnist1d --profile quick` over calling the same training code in-process.

The direct side imports the re-implementation once and calls run(cfg, ctx) for each planned
run in turn, in one process, with the same config, seeds and torch threads. The harness side
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


def direct(specs, cache_dir: Path) -> float:
    import numpy as np
    import torch

    started = time.perf_counter()
    spec = importlib.util.spec_from_file_location("mnist1d_reimpl", specs[0].impl_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.set_num_threads(specs[0].threads)
    for run_spec in specs:
        random.seed(run_spec.seed)
        np.random.seed(run_spec.seed)
        torch.manual_seed(run_spec.seed)
        module.run(dict(run_spec.config), DirectContext(run_spec.seed, cache_dir, run_spec.threads))
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
    args = parser.parse_args()
    from repro.manifest import load_paper
    from repro.plan import plan_runs

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
            d = direct(specs, cache_dir)
            rows.append([i + 1, f"{d:.2f}", f"{h:.2f}", f"{h / d:.3f}"])
        ratios = [float(r[3]) for r in rows]
    median = statistics.median(ratios)
    print(tabulate(rows, headers=["repeat", "direct s", "repro run s", "ratio"]))
    print(f"\nmedian ratio {median:.3f} (target <= {TARGET_RATIO}): {'ok' if median <= TARGET_RATIO else 'MISSED'}")
    print(f"{len(specs)} runs, {specs[0].threads} torch threads; machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
