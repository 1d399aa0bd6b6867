"""`repro config`."""

from __future__ import annotations

import argparse

CONFIG_EXAMPLE = """\
example repro.toml (in pyproject.toml, the same tables as [tool.repro.run] and [tool.repro.slurm]):
  [run]
  executor = "slurm"                  # or "local"
  jobs = 8                            # runs at once
  threads = 1                         # torch threads per run (default: the cores shared by the jobs)

  [slurm]
  partition = "gpu"
  gpus_per_run = 1
  cpus_per_run = 8                    # also each run's torch threads
  mem = "32G"
  time = "4:00:00"
  setup = ["module load cuda/12.1"]   # shell lines each job runs first
  additional = { account = "mylab" }  # any other sbatch option
  orphan_after = 300                  # a task stops itself this long after the harness has gone (kill -9)
"""


PARSER = dict(
    help="the settings in force here (executor, jobs, threads, Slurm options) and the file they come from",
    description="repro reads settings from repro.toml, or from a [tool.repro] table in pyproject.toml: the "
        "first found from the current folder upwards (REPRO_CONFIG names a file). Command-line options win.",
    epilog=CONFIG_EXAMPLE,
    formatter_class=argparse.RawDescriptionHelpFormatter,
)


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro.render import text as render
    from repro.settings import load_settings

    settings = load_settings()
    print(render.to_json(settings.describe()) if args.json else render.settings_text(settings))
    return 0

