"""Variants: a student's idea as a small module that reuses the re-implementation and changes
one thing.

A variant lives in papers/<id>/variants/<name>.py (or students/, or anywhere, given by path)
and is an implementation like any other (`--impl <name>`): it defines run(cfg, ctx). It
starts by importing the paper's re-implementation, and passes its one change in:

    from repro.variants import reimplementation
    reimpl = reimplementation(__file__)           # papers/<id>/reimpl.py, found from this file

    class CNNWithPooling(reimpl.CNN): ...
    def run(cfg, ctx):
        return reimpl.run(cfg, ctx, build_model=lambda cfg: CNNWithPooling())

`repro compare PAPER --impl reimpl --vs <name>` then says whether the change made a
difference, with statistics over seeds (versus.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from repro.catalog.manifest import MANIFEST_NAME
from repro.errors import UsageError


def reimplementation(where: str | Path):
    """The reimpl.py module of a paper: `where` is a file inside the paper's folder (a variant's
    own __file__) or a paper id of the catalog. Imported once per process."""
    import hashlib

    folder = _paper_folder(where)  # a copy of the catalog elsewhere (a test's) is another module
    name = f"repro_reimpl_{folder.name}_{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}"
    if name not in sys.modules:
        from repro.worker.imports import import_file

        import_file(folder / "reimpl.py", name, register=True)
    return sys.modules[name]


def _paper_folder(where: str | Path) -> Path:
    path = Path(where)
    if path.suffix == ".py" or path.exists():
        for folder in path.resolve().parents:
            if (folder / MANIFEST_NAME).is_file() and (folder / "reimpl.py").is_file():
                return folder
        raise UsageError(f"{where}: not inside a paper folder with a reimpl.py; give the paper id instead "
                         "(reimplementation('mnist1d'))")
    from repro.paths import papers_dir

    folder = papers_dir() / str(where)
    if not (folder / "reimpl.py").is_file():
        raise UsageError(f"paper {where!r} has no reimpl.py in {papers_dir()}")
    return folder
