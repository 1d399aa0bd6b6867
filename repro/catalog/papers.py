"""Finding papers and their implementations: the catalog folder, a paper by id, an
implementation by name or path."""

from __future__ import annotations

from pathlib import Path

from repro.catalog.manifest import MANIFEST_NAME, Paper, load_manifest
from repro.errors import UsageError
from repro.paths import papers_dir

REFERENCE = "reference"  # the adapter that runs the authors' code: the only one that needs their checkout


def paper_ids() -> list[str]:
    """The ids of the catalog's papers: its folders that hold a paper.yaml, sorted."""
    root = papers_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST_NAME).is_file())


def load_paper(paper_id: str) -> Paper:
    """Load and validate papers/<paper_id>/paper.yaml; raise ManifestError with every problem."""
    if paper_id not in paper_ids():  # also refuses ids that are paths
        manifest = papers_dir() / paper_id / MANIFEST_NAME
        if "/" not in paper_id and paper_id not in ("", ".", "..") and manifest.exists():
            return load_manifest(manifest)  # a paper.yaml that is no file: load_manifest says so
        known = ", ".join(paper_ids()) or "none"
        raise UsageError(f"unknown paper {paper_id!r} in {papers_dir()} (known: {known}); see `repro list`")
    return load_manifest(papers_dir() / paper_id / MANIFEST_NAME)


def resolve_impl(paper: Paper, impl: str) -> tuple[str, Path]:
    """An implementation by name (reimpl, reference, a student's) or by path to a .py file."""
    available = paper.implementations()
    if impl in available:
        return impl, available[impl]
    if impl in paper.templates():
        raise UsageError(
            f"{paper.templates()[impl]} is still the template `repro new` wrote, not an implementation yet: "
            "fill in run() and delete its REPRO_TEMPLATE line (docs/adding-a-paper.md), or delete the file"
        )
    path = Path(impl).expanduser()
    if path.suffix == ".py":
        if not path.is_file():
            raise UsageError(f"--impl {impl}: no such file")
        return path.stem, path.resolve()
    names = ", ".join(available) or "none"
    raise UsageError(f"{paper.id} has no implementation {impl!r} (available: {names}, or a path to a .py file)")


def needs_reference_code(impl_name: str) -> bool:
    """The reference adapter runs the authors' checkout; the other implementations do not."""
    return impl_name == REFERENCE
