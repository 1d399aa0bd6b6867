"""Wall time of `repro run mnist1d --profile full --jobs N` (target with --jobs 2 on 2 cores: <= 400 s).

Prints the per-model run times and the verdict table's numbers. Takes a few minutes.

    .venv/bin/python bench/full_profile.py [--jobs 2]
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

TARGET_S = 400


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    repro = str(Path(sys.executable).with_name("repro"))
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "REPRO_HOME": home}
        started = time.perf_counter()
        result = subprocess.run(
            [repro, "run", "mnist1d", "--profile", "full", "--jobs", str(args.jobs), "--device", "cpu", "--json"],
            env=env, capture_output=True, text=True,
        )
        wall = time.perf_counter() - started
    out = json.loads(result.stdout)
    by_setting: dict[str, list[float]] = {}
    for run in out["runs"]:
        by_setting.setdefault(run["setting"], []).append(run["duration_s"])
    print(tabulate(
        [[s, len(d), f"{statistics.mean(d):.1f}"] for s, d in by_setting.items()],
        headers=["setting", "runs", "mean s per run (incl. worker start)"],
    ))
    print()
    print(tabulate(
        [[c["claim_id"], c["reported"], f"{c['stats']['mean']:.2f} ± {c['stats']['sd']:.2f} (n={c['stats']['n']})",
          c["verdict"]] for c in out["claims"]],
        headers=["claim", "reported", "measured", "verdict"],
    ))
    status = "ok" if wall <= TARGET_S or args.jobs != 2 else "MISSED"
    print(f"\nwall {wall:.1f} s with --jobs {args.jobs} on {os.cpu_count()} cores "
          f"(target <= {TARGET_S} s with --jobs 2): {status}; exit code {result.returncode}")


if __name__ == "__main__":
    main()
