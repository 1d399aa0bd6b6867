"""Ten seeds for the price of few: --vectorize-seeds against one worker a seed, and one seed.

For each MNIST-1D model asked for (default logistic, mlp, cnn), the quick profile through the
CLI, each the wall time of the whole command (harness start-up included):

  one seed        repro run mnist1d --claims M --seeds 1                     (one worker, every core)
  10 apart        repro run mnist1d --claims M --seeds 10 --jobs CORES       (a worker a seed, 1 thread each)
  10 vectorised   repro run mnist1d --claims M --seeds 10 --vectorize-seeds  (one worker, every core)

and the test accuracy over the ten seeds of each way (mean ± sd, and the largest difference
between the two ways at the same seed): vectorising must not change the numbers beyond float
rounding. Target: 10 vectorised seeds in at most 2x the wall time of one seed.

    .venv/bin/python bench/seeds.py [--models mlp,cnn] [--seeds 10]

Run it on an idle machine: the numbers move when the cores are shared. The data are made
once in a shared REPRO_HOME before the first timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

REPO = Path(__file__).resolve().parent.parent


def repro(*args: str, home: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "repro", "run", "mnist1d", *args, "--json"], capture_output=True,
                          text=True, env={**os.environ, "REPRO_HOME": str(home)}, cwd=REPO)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"repro run {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def accuracies(result: dict) -> dict[int, float]:
    return {run["seed"]: run["metrics"]["test_acc"] for run in result["runs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="logistic,mlp,cnn")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="repro-bench-seeds-") as folder:
        home = Path(folder)
        repro("--claims", "logistic_test_acc", "--set", "total_steps=1", home=home)  # make the data once
        rows = []
        for model in args.models.split(","):
            claim = ["--claims", f"{model}_test_acc"]
            one, _ = repro(*claim, "--seeds", "1", home=home)
            apart_s, apart = repro(*claim, "--seeds", str(args.seeds), "--jobs", str(cores), home=home)
            together_s, together = repro(*claim, "--seeds", str(args.seeds), "--vectorize-seeds", home=home)
            a, b = accuracies(apart), accuracies(together)
            rows.append([
                model, f"{one:.1f}", f"{apart_s:.1f} ({apart_s / one:.1f}x)", f"{together_s:.1f} ({together_s / one:.1f}x)",
                f"{statistics.mean(a.values()):.2f} ± {statistics.stdev(a.values()):.2f}",
                f"{statistics.mean(b.values()):.2f} ± {statistics.stdev(b.values()):.2f}",
                f"{max(abs(a[s] - b[s]) for s in a):.1f}",
                "met" if together_s <= 2 * one else "MISSED",
            ])
            print(f"{model}: done", file=sys.stderr, flush=True)
    print(f"MNIST-1D quick profile, {args.seeds} seeds, {cores} cores; wall time of the whole command, s")
    print(tabulate(rows, headers=["model", "1 seed", f"{args.seeds} apart (--jobs {cores})",
                                  f"{args.seeds} vectorised", "test_acc apart", "test_acc vectorised",
                                  "largest |diff| at a seed", "<= 2x one seed"], disable_numparse=True))


if __name__ == "__main__":
    main()
