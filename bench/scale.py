"""Scaling out: local --jobs, and Slurm's overhead per run. Prints two tables.

1. `repro run mnist1d --profile full` (12 runs) with --jobs 1 against --jobs 2: wall time and
   speed-up (on 2 cores, --jobs 2 gives each run one thread instead of two).
2. 8 quick runs (`--profile quick --seeds 2`) locally with --jobs 2 against the same 8 through
   Slurm with --cpus-per-run 1 (two at once on a 2-core node, as locally): the difference in
   wall time per run, and where it goes (time in the queue; the worker's start-up, which on
   Slurm is a fresh interpreter importing torch, locally a fork of a process that has).

Part 2 needs the test cluster: `sudo .ci/slurm-up.sh` first (this script only uses it).

    .venv/bin/python bench/scale.py [--skip-full] [--skip-slurm]
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

SLURM = ["nsenter", "--net=/run/netns/repro-slurm", "env", "SLURM_CONF=/tmp/repro-slurm/slurm.conf"]
REPRO = str(Path(sys.executable).with_name("repro"))


def timed_run(*args: str, prefix: list[str] = ()) -> tuple[float, dict, list[dict]]:
    """Wall time, --json output and the run records of one `repro run` in a fresh REPRO_HOME."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "REPRO_HOME": home}
        started = time.perf_counter()
        result = subprocess.run([*prefix, REPRO, "run", *args, "--json"], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode not in (0, 1):
            sys.exit(f"repro run {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        records = [json.loads(p.read_text()) for p in Path(home, "runs").glob("*/run.json")]
    return wall, json.loads(result.stdout), records


def full_profile_jobs() -> None:
    rows = []
    walls = {}
    for jobs in (1, 2):
        wall, out, _ = timed_run("mnist1d", "--profile", "full", "--device", "cpu", "--jobs", str(jobs))
        walls[jobs] = wall
        verdicts = " ".join(c["verdict"][:4] for c in out["claims"])
        rows.append([f"--jobs {jobs}", len(out["runs"]), f"{wall:.1f}", f"{walls[1] / wall:.2f}x", verdicts])
    print(tabulate(rows, headers=["mnist1d full profile", "runs", "wall s", "speed-up", "verdicts (log mlp cnn gru)"]))


def slurm_overhead() -> None:
    probe = subprocess.run([*SLURM, "sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"\nSlurm part skipped: the test cluster is not up (sudo .ci/slurm-up.sh): {probe.stderr.strip()}")
        return
    quick = ("mnist1d", "--profile", "quick", "--seeds", "2", "--device", "cpu")
    local_wall, _, local_records = timed_run(*quick, "--jobs", "2")
    slurm_wall, _, slurm_records = timed_run(*quick, "--executor", "slurm", "--cpus-per-run", "1", prefix=SLURM)
    runs = len(local_records)

    def mean(values):
        return statistics.mean(values) if values else float("nan")

    rows = []
    for name, wall, records in (("local --jobs 2", local_wall, local_records),
                                ("slurm, 1 cpu per run", slurm_wall, slurm_records)):
        startup = mean([r["duration_s"] - r["train_s"] for r in records])
        queued = mean([r.get("queued_s", 0.0) for r in records])
        rows.append([name, len(records), f"{wall:.1f}", f"{mean([r['train_s'] for r in records]):.2f}",
                     f"{startup:.2f}", f"{queued:.2f}"])
    print()
    print(tabulate(rows, headers=["8 quick runs", "runs", "wall s", "mean train s", "mean start-up s", "mean queued s"]))
    print(f"\nSlurm's overhead: {(slurm_wall - local_wall) / runs:+.2f} s of wall time per run "
          f"({slurm_wall:.1f} s against {local_wall:.1f} s for {runs} runs, two at a time on {os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-full", action="store_true", help="skip the full-profile --jobs comparison")
    parser.add_argument("--skip-slurm", action="store_true", help="skip the Slurm comparison")
    args = parser.parse_args()
    if not args.skip_full:
        full_profile_jobs()
    if not args.skip_slurm:
        slurm_overhead()


if __name__ == "__main__":
    main()
