"""The `repro` subcommands, one module each: its parser beside its handler.

A command module defines
    PARSER               the keywords of its argparse sub-parser (help, description, epilog...)
    add_arguments(p)     its arguments
    handle(args) -> int  what it does, by calling the library; returns the exit code

A new command is a new file here: cli.py finds it by its name. Imports inside `handle`
keep `repro --help` fast; only the chosen command's arguments are built.
"""

from __future__ import annotations

import importlib
import os

EPILOG = """\
exit codes: 0 every claim REPRODUCED or BETTER; 1 a claim WORSE or INCONCLUSIVE;
            2 usage, manifest or settings error (or Slurm refused the job array);
            3 a run crashed or timed out; 130 Ctrl-C.
environment: REPRO_HOME (records and caches, default ~/.cache/repro),
             REPRO_PAPERS (the catalog folder, default the papers/ beside the package),
             REPRO_BASELINES (the stored baselines, default the baselines/ beside the package),
             REPRO_DATA_DIR (a folder of pre-seeded data files),
             REPRO_CONFIG (a settings file, instead of the nearest repro.toml; see `repro config`).
offline: the reference code is fetched through git, so a mirror works with
             git config --global url.<mirror>.insteadOf <the manifest's repo URL>
"""


def command_names() -> list[str]:
    """The modules of this folder (and of any folder added to __path__), by name."""
    return sorted({name[:-3] for folder in __path__ for name in os.listdir(folder)
                   if name.endswith(".py") and not name.startswith("_")})


def command(name: str):
    return importlib.import_module(f"repro.commands.{name}")
