"""Start-up time of `repro --help` and `repro list` (target: median <= 0.3 s).

    .venv/bin/python bench/startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tabulate import tabulate

TARGET_S = 0.3


def time_command(command: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    repro = str(Path(sys.executable).with_name("repro"))
    rows = []
    for name in ("--help", "list"):
        times = time_command([repro, name], args.repeat)
        median = statistics.median(times)
        rows.append([f"repro {name}", args.repeat, f"{min(times):.3f}", f"{median:.3f}", f"{max(times):.3f}",
                     f"<= {TARGET_S}", "ok" if median <= TARGET_S else "MISSED"])
    print(tabulate(rows, headers=["command", "n", "min s", "median s", "max s", "target", "status"]))
    print(f"\nmachine: {os.cpu_count()} cores; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
