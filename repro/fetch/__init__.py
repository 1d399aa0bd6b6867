"""Bringing a paper's inputs into the cache: the authors' code (git), their Python
requirements (a per-paper environment) and data files (HTTP).

    repository.fetch_commit(url, sha)      -> a checkout of exactly that commit (or of its paths)
    requirements.ensure_environment(...)   -> the authors' requirements, installed (None if none missing)
    artifacts.fetch_artifact(artifact)     -> a verified file (or extracted folder)
    fetch_inputs(paper, ...)               -> all three, for a run
    reference_is_fetched(paper)            -> whether its checkout is in the cache (no git, no network)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from repro.catalog.manifest import Paper
from repro.errors import CheckoutChanged


@dataclass
class Inputs:
    """What a paper's runs need from outside: the checkout, the authors' environment, the data."""

    source_dir: Path | None = None
    environment: object | None = None  # repro.fetch.requirements.PaperEnvironment
    data: dict[str, Path] = field(default_factory=dict)


def fetch_inputs(
    paper: Paper,
    *,
    code: bool,
    seed_dir: Path | None = None,
    show_progress: bool = True,
    from_dir: Path | None = None,
    refetch: bool = False,
) -> Inputs:
    """The reference checkout and the authors' environment (when `code`) and every data file
    of `paper`, fetched or cached."""
    from repro.fetch.artifacts import fetch_artifact
    from repro.fetch.repository import fetch_commit
    from repro.fetch.requirements import ensure_environment

    from repro.paths import usable_home

    usable_home()  # one clear error before anything is fetched or run, not a traceback halfway
    inputs = Inputs()
    if code:
        try:
            inputs.source_dir = fetch_commit(
                paper.reference.repo, paper.reference.commit, paths=paper.reference.paths,
                show_progress=show_progress, from_dir=from_dir, refetch=refetch,
            )
        except CheckoutChanged as exc:
            raise CheckoutChanged(str(exc).replace("repro fetch PAPER", f"repro fetch {paper.id}")) from None
        inputs.environment = ensure_environment(paper.id, paper.requirements, show_progress=show_progress)
    inputs.data = {a.name: fetch_artifact(a, seed_dir=seed_dir, show_progress=show_progress) for a in paper.data}
    return inputs


def reference_is_fetched(paper: Paper) -> bool:
    """The checkout of the paper's pinned commit (its paths) is in the cache (not yet verified)."""
    from repro.fetch.repository import is_fetched

    return is_fetched(paper.reference.repo, paper.reference.commit, paper.reference.paths)
