"""Bringing a paper's inputs into the cache: the authors' code (git) and data files (HTTP).

    repository.fetch_commit(url, sha)  -> a checkout of exactly that commit
    artifacts.fetch_artifact(artifact) -> a verified file (or extracted folder)
    fetch_inputs(paper, ...)           -> both, for a run
"""

from __future__ import annotations

from pathlib import Path

from repro.catalog.manifest import Paper


def fetch_inputs(
    paper: Paper, *, code: bool, seed_dir: Path | None = None, show_progress: bool = True
) -> tuple[Path | None, dict[str, Path]]:
    """The reference checkout (when `code`) and every data file of `paper`, fetched or cached."""
    from repro.fetch.artifacts import fetch_artifact
    from repro.fetch.repository import fetch_commit

    source_dir = fetch_commit(paper.reference.repo, paper.reference.commit, show_progress=show_progress) if code else None
    data = {a.name: fetch_artifact(a, seed_dir=seed_dir, show_progress=show_progress) for a in paper.data}
    return source_dir, data
