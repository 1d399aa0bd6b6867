"""Importing a module from its file: implementations, a paper's checks.py, the authors' files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def import_file(path: Path, module_name: str, *, register: bool = False):
    """Import a module from its file, without touching sys.path for good: its folder is on
    sys.path only while its top level runs (so it can import its neighbours). With register,
    it is also sys.modules[module_name] (pickle and dataclasses look modules up by name)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if register:
            sys.modules.pop(module_name, None)
        raise
    finally:
        sys.path.remove(str(path.parent))
    return module
