"""Ten seeds for the price of few: --vectorize-seeds against one worker a seed, and one seed.

For each MNIST-1D model asked for (default logistic, mlp, cnn), the quick profile through the
CLI, each the wall time of the whole command (harness start-up included):

  one seed          repro run mnist1d --claims M --seeds 1                                 (one worker, every core)
  10 apart          repro run mnist1d --claims M --seeds 10 --jobs CORES                   (a worker a seed, 1 thread each)
  10 vectorised     repro run mnist1d --claims M --seeds 10 --vectorize-seeds              (one worker, every core)
  10 vectorised/J   repro run mnist1d --claims M --seeds 10 --vectorize-seeds --jobs CORES (CORES workers of 10/CORES seeds,
                                                                                           1 thread each)

each the median of --repeats runs (interleaved), and the test accuracy over the ten seeds of
each way (mean ± sd, and the largest difference between one-seed and vectorised runs at the
same seed): vectorising must not change the numbers beyond float rounding. Target: 10
vectorised seeds in at most 2x the wall time of one seed.

    .venv/bin/python bench/seeds.py [--models mlp,cnn] [--seeds 10] [--repeats 3]

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
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command; the median is shown")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    seeds = ["--seeds", str(args.seeds)]
    one_seed, apart, together, split = ("1 seed", f"{args.seeds} apart (--jobs {cores})", f"{args.seeds} vectorised",
                                        f"{args.seeds} vectorised, --jobs {cores}")
    ways = {
        one_seed: ["--seeds", "1"],
        apart: [*seeds, "--jobs", str(cores)],
        together: [*seeds, "--vectorize-seeds"],
        split: [*seeds, "--vectorize-seeds", "--jobs", str(cores)],
    }
    with tempfile.TemporaryDirectory(prefix="repro-bench-seeds-") as folder:
        home = Path(folder)
        repro("--claims", "logistic_test_acc", "--set", "total_steps=1", home=home)  # make the data once
        rows = []
        for model in args.models.split(","):
            claim = ["--claims", f"{model}_test_acc"]
            times: dict[str, list[float]] = {way: [] for way in ways}
            results: dict[str, dict] = {}
            for _ in range(args.repeats):  # interleaved, so that a slow minute falls on every way alike
                for way, flags in ways.items():
                    seconds, results[way] = repro(*claim, *flags, home=home)
                    times[way].append(seconds)
            median = {way: statistics.median(values) for way, values in times.items()}
            one = median[one_seed]
            acc = {way: accuracies(results[way]) for way in (apart, together, split)}
            rows.append([
                model, f"{one:.1f}",
                *(f"{median[way]:.1f} ({median[way] / one:.1f}x)" for way in (apart, together, split)),
                f"{statistics.mean(acc[apart].values()):.2f} ± {statistics.stdev(acc[apart].values()):.2f}",
                f"{statistics.mean(acc[split].values()):.2f} ± {statistics.stdev(acc[split].values()):.2f}",
                f"{max(abs(acc[apart][s] - acc[together][s]) for s in acc[apart]):.1f}",
                f"{max(abs(acc[together][s] - acc[split][s]) for s in acc[apart]):.1f}",
                "met" if min(median[together], median[split]) <= 2 * one else "MISSED",
            ])
            print(f"{model}: done ({', '.join(f'{way}: ' + ' '.join(f'{t:.1f}' for t in values) for way, values in times.items())})",
                  file=sys.stderr, flush=True)
    print(f"MNIST-1D quick profile, {args.seeds} seeds, {cores} cores; wall time of the whole command, s, "
          f"median of {args.repeats}")
    print(tabulate(rows, headers=["model", *ways, "test_acc apart", "test_acc vectorised",
                                  "largest |diff| apart/vectorised", "1 worker/--jobs", "<= 2x one seed"],
                   disable_numparse=True))


if __name__ == "__main__":
    main()
