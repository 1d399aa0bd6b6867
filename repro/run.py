"""`repro run` as a library call: load, plan, execute, compare.

    from repro.run import reproduce
    outcome = reproduce("mnist1d", profile="quick")
    outcome.exit_code, outcome.claims, outcome.records
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from repro.compare import ClaimResult, compare_claims, exit_code
from repro.execute import execute
from repro.manifest import ConfigValue, Paper, load_paper
from repro.fetch import fetch_inputs
from repro.plan import RunSpec, needs_reference_code, plan_runs, select_claims
from repro.progress import Progress


@dataclass
class Outcome:
    paper: Paper
    profile: str
    impl: str
    specs: list[RunSpec]
    records: list[dict]
    claims: list[ClaimResult]
    exit_code: int


def reproduce(
    paper: Paper | str,
    *,
    impl: str = "reimpl",
    profile: str = "quick",
    seeds: list[int] | None = None,
    overrides: dict[str, ConfigValue] | None = None,
    claim_ids: list[str] | None = None,
    device: str = "auto",
    jobs: int = 1,
    timeout_s: float | None = None,
    show_progress: bool = False,
    data_dir: Path | None = None,
    threads: int | None = None,
) -> Outcome:
    """Run the planned runs of one paper (an id or a loaded Paper) and compare them with its claims.

    Raises repro.execute.Interrupted on Ctrl-C, after recording the stopped runs.
    """
    paper = load_paper(paper) if isinstance(paper, str) else paper
    specs = plan_runs(
        paper, impl=impl, profile=profile, seeds=seeds, overrides=overrides,
        claim_ids=claim_ids, device=device, jobs=jobs, timeout_s=timeout_s, threads=threads,
    )  # every option is checked before anything is fetched
    source_dir, data = fetch_inputs(
        paper, code=needs_reference_code(specs[0].impl), seed_dir=data_dir, show_progress=show_progress
    )
    inputs = {"source_dir": str(source_dir) if source_dir else None, "data": {k: str(v) for k, v in data.items()}}
    specs = [replace(spec, **inputs) for spec in specs]
    records = execute(specs, jobs=jobs, progress=Progress(len(specs), enabled=show_progress))
    claims = compare_claims(select_claims(paper, profile, claim_ids), records)
    return Outcome(paper, profile, specs[0].impl, specs, records, claims, exit_code(claims, records))
