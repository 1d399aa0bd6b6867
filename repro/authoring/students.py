"""`repro impl new PAPER --name NAME`: a student's starting file, with the interface and TODOs.

A paper folder may provide student_template.py (MNIST-1D does): the interface with
docstrings pointing at the paper and the paper's README, and no solution. `{name}` in it
becomes the student's name. Papers without one get a generic template built from the
manifest.
"""

from __future__ import annotations

import re
from pathlib import Path

from repro.errors import UsageError
from repro.catalog.manifest import Paper

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

GENERIC = Path(__file__).resolve().parent / "templates" / "student.py.tmpl"  # for papers without their own


def new_student_impl(paper: Paper, name: str, path: Path | None = None) -> Path:
    """Write the student's file (papers/PAPER/students/NAME.py unless `path`); never overwrite."""
    if not NAME_RE.fullmatch(name):
        raise UsageError(f"--name {name!r}: lower-case letters, digits and underscores, starting with a letter")
    if name in ("reimpl", "reference"):
        raise UsageError(f"--name {name!r} is taken by the paper's own implementations")
    target = Path(path) if path else paper.folder / "students" / f"{name}.py"
    if target.exists():
        raise UsageError(f"{target} exists; pick another --name or --path (nothing was overwritten)")
    template = paper.folder / "student_template.py"
    if template.is_file():
        text = template.read_text(encoding="utf-8").replace("{name}", name)
    else:
        from string import Template

        text = Template(GENERIC.read_text(encoding="utf-8")).substitute(
            title=paper.title, name=name, paper=paper.id, config_keys=", ".join(paper.config),
            metrics=", ".join(sorted({c.metric for c in paper.claims})))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
