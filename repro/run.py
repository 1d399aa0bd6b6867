"""`repro run` as a library call: load, plan, execute, compare.

    from repro.run import reproduce
    outcome = reproduce("mnist1d", profile="quick")
    outcome.exit_code, outcome.claims, outcome.records
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from repro.catalog import ConfigValue, Paper, load_paper, needs_reference_code
from repro.compare import ClaimResult, compare_claims, exit_code
from repro.execute import DEFAULT, executor_class
from repro.fetch import fetch_inputs
from repro.plan import RunSpec, plan_runs, select_claims
from repro.records import Record
from repro.render.progress import Progress


@dataclass
class Outcome:
    paper: Paper
    profile: str
    impl: str
    specs: list[RunSpec]
    records: list[Record]
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
    jobs: int | None = 1,
    timeout_s: float | None = None,
    show_progress: bool = False,
    data_dir: Path | None = None,
    threads: int | None = None,
    executor: str = DEFAULT,
    executor_options=None,
    env: dict[str, str] | None = None,
    vectorize_seeds: bool = False,
) -> Outcome:
    """Run the planned runs of one paper (an id or a loaded Paper) and compare them with its claims.

    `executor` names a backend in repro/execute/ ("local": `jobs` worker processes here;
    "slurm": one job array, `jobs` capping the tasks at once, None for no cap), with its
    `executor_options` (its Options model, e.g. the [slurm] settings; None for its defaults).
    `env` sets numerics variables in every worker (repro.worker.numerics.perturbations).
    `vectorize_seeds`: where the implementation offers run_seeds and the executor can, one
    worker trains all seeds of a setting at once (batched weights); else one worker per seed.
    Raises repro.errors.Interrupted on Ctrl-C, after recording the stopped runs.
    """
    paper = load_paper(paper) if isinstance(paper, str) else paper
    runner = executor_class(executor)(executor_options)
    specs = plan_and_fetch(
        paper, runner=runner, impl=impl, profile=profile, seeds=seeds, overrides=overrides,
        claim_ids=claim_ids, device=device, jobs=jobs, timeout_s=timeout_s, threads=threads, env=env,
        data_dir=data_dir, show_progress=show_progress, vectorize_seeds=vectorize_seeds,
    )
    progress = Progress(len(specs), enabled=show_progress)
    if vectorize_seeds:
        progress.note(vectorize_note(specs, runner))
    records = runner.execute(specs, jobs=jobs, progress=progress,
                             expected_seconds=paper.profiles[profile].expected_seconds)
    claims = compare_claims(select_claims(paper, profile, claim_ids), records)
    return Outcome(paper, profile, specs[0].impl, specs, records, claims, exit_code(claims, records))


def plan_and_fetch(paper: Paper, *, data_dir: Path | None = None, show_progress: bool = False,
                   **options) -> list[RunSpec]:
    """plan_for, then the inputs the runs need (the authors' checkout, data files) in their specs.
    Every option is checked before anything is fetched."""
    specs = plan_for(paper, **options)
    inputs = fetch_inputs(
        paper, code=needs_reference_code(specs[0].impl), seed_dir=data_dir, show_progress=show_progress
    )
    fetched = {
        "source_dir": str(inputs.source_dir) if inputs.source_dir else None,
        "reference_env": str(inputs.environment.folder) if inputs.environment else None,
        "data": {name: str(path) for name, path in inputs.data.items()},
    }
    return [replace(spec, **fetched) for spec in specs]


def plan_for(paper: Paper, *, runner=None, jobs: int | None = 1, threads: int | None = None,
             **options) -> list[RunSpec]:
    """plan_runs, with the executor's say in the threads: on Slurm each run gets --cpus-per-run
    cores and as many torch threads; locally the cores are shared by the `jobs` at once."""
    threads = threads or (runner.threads_per_run() if runner is not None else None)
    if runner is not None and not runner.runs_vectorized:  # one task per seed (Slurm)
        options["vectorize_seeds"] = False
    specs = plan_runs(paper, jobs=jobs or 1, threads=threads, **options)
    if runner is not None:
        runner.check(specs)
    return specs


def vectorize_note(specs: list[RunSpec], runner) -> str:
    """What --vectorize-seeds did to a plan, in one line for the user."""
    from repro.plan import offers_run_seeds

    groups = [spec for spec in specs if spec.vectorized_with]
    if groups:
        return (f"--vectorize-seeds: {len(groups)} worker(s) train {sum(1 + len(s.vectorized_with) for s in groups)} "
                f"runs, each worker a group of one setting's seeds at once ({specs[0].impl}'s run_seeds)")
    if not runner.runs_vectorized:
        why = f"the {runner.name} executor starts one task per run"
    elif not offers_run_seeds(specs[0].impl_path):
        why = f"{specs[0].impl} has no run_seeds(cfg, contexts)"
    else:
        why = "one seed a setting"
    return f"--vectorize-seeds: {why}, so one worker per seed"

