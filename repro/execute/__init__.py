"""Executors: how the planned runs get run. base.py holds the contract and what every
backend shares; each other module here is one backend (local.py, slurm.py), named by its
file and defining EXECUTOR. A new backend is a new file: --executor, the settings file's
[run] executor and its own table find it here.
"""

from __future__ import annotations

import importlib
import os

from repro.errors import UsageError

DEFAULT = "local"
_NOT_BACKENDS = {"base"}


def executor_names() -> list[str]:
    """The backends in this folder, by file name, without importing them (keeps start-up fast)."""
    names = {name[:-3] for folder in __path__ for name in os.listdir(folder) if name.endswith(".py")}
    names = [name for name in names if name not in _NOT_BACKENDS and not name.startswith("_")]
    return sorted(names, key=lambda name: (name != DEFAULT, name))


def executor_class(name: str):
    """The Executor subclass of backend `name`."""
    if name not in executor_names():
        raise UsageError(f"--executor {name!r}: choose {' or '.join(executor_names())}")
    return importlib.import_module(f"repro.execute.{name}").EXECUTOR


def executor_classes() -> dict:
    return {name: executor_class(name) for name in executor_names()}
