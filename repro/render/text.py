"""Text and JSON renderings of papers, plans, runs and verdicts (tabulate for tables)."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from repro.compare import ClaimResult
from repro.catalog.manifest import Paper
from repro.noise import K_SPREADS
from repro.worker.numerics import describe as describe_numerics
from repro.catalog.papers import needs_reference_code
from repro.plan import RunSpec
from repro.records import Record


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


# ------------------------------------------------------------------------ catalog


def paper_summary(paper: Paper) -> dict:
    return {
        "id": paper.id,
        "title": paper.title,
        "year": paper.year,
        "claims": len(paper.claims),
        "implementations": list(paper.implementations()),
    }


def catalog_table(summaries: list[dict]) -> str:
    rows = [[s["id"], s["title"], s["year"], s["claims"], ", ".join(s["implementations"])] for s in summaries]
    return tabulate(rows, headers=["id", "title", "year", "claims", "implementations"]) if rows else "no papers"


def paper_details(paper: Paper) -> str:
    lines = [
        f"{paper.title}",
        f"  {', '.join(paper.authors)} — {paper.venue}"
        + ("" if str(paper.year) in paper.venue else f" ({paper.year})")
        + (f", arXiv:{paper.arxiv}" if paper.arxiv else ""),
        f"  reference: {paper.reference.repo} @ {paper.reference.commit}",
        *([f"    paths:   {', '.join(paper.reference.paths)} (only these are fetched)"] if paper.reference.paths else []),
        *requirement_lines(paper, indent="  "),
        f"  folder:    {paper.folder}",
        f"  implementations: {', '.join(paper.implementations()) or 'none'}",
        *[f"  {name}: {path.name} is the template `repro new` wrote, not an implementation yet "
          "(fill in run() and delete its REPRO_TEMPLATE line, or delete the file)"
          for name, path in paper.templates().items()],
        "",
        "Claims",
        tabulate(
            [
                [c.id, c.setting_label, c.metric, f"{c.reported:g}", c.direction, c.tolerance.describe(), c.source]
                for c in paper.claims
            ],
            headers=["claim", "setting", "metric", "reported", "better", "tolerance", "where in the paper"],
        ),
        "",
        "Profiles",
        tabulate(
            [
                [
                    name,
                    ", ".join(f"{k}={v}" for k, v in p.config.items()) or "(defaults)",
                    ",".join(map(str, p.seed_list())),
                    _expected(p.expected_seconds),
                    "yes" if p.paper_protocol else "no",
                    p.description,
                ]
                for name, p in paper.profiles.items()
            ],
            headers=["profile", "config", "seeds", "time (2 cores)", "paper's protocol", "description"],
            maxcolwidths=[None, 30, None, None, None, 50],
        ),
        "",
        "Config defaults: " + ", ".join(f"{k}={v}" for k, v in paper.config.items()),
    ]
    return "\n".join(lines)


def requirement_lines(paper: Paper, indent: str = "") -> list[str]:
    """The authors' requirements and where each comes from (the harness, the paper's environment)."""
    from repro.fetch.requirements import requirement_states

    states = requirement_states(paper.id, paper.requirements)
    if not states:
        return [f"{indent}requirements: none beyond the harness's"]
    return [f"{indent}requirements:"] + [f"{indent}  {req}: {state}" for req, state in states]


def _expected(seconds: float | None) -> str:
    return f"~{seconds:g} s" if seconds is not None else "not measured"


def paper_json(paper: Paper) -> dict:
    from repro.fetch.requirements import requirement_states

    return {**paper.model_dump(mode="json"), "folder": str(paper.folder), "implementations": {
        name: str(path) for name, path in paper.implementations().items()
    }, "templates": {name: str(path) for name, path in paper.templates().items()},
        "requirement_states": dict(requirement_states(paper.id, paper.requirements))}


def fetched_text(paper: Paper, inputs) -> str:
    from repro.fetch.repository import checkout_record

    record = checkout_record(inputs.source_dir)
    lines = [f"reference: {paper.reference.repo} @ {paper.reference.commit}", f"  checkout: {inputs.source_dir}",
             f"  tree:     {record.get('tree', '?')}"
             + (f" (only {', '.join(record['paths'])})" if record.get("paths") else " (the whole tree)")]
    if record.get("origin") not in (None, paper.reference.repo):
        lines.append(f"  from:     {record['origin']}")
    lines.append(f"environment: {inputs.environment.folder}" if inputs.environment
                 else "environment: the harness's own (it has every requirement)")
    lines += [f"data {name}: {path}" for name, path in inputs.data.items()] or ["data: none (generated in code, or not needed)"]
    return "\n".join(lines)


def fetched_json(paper: Paper, inputs) -> dict:
    from repro.fetch.repository import checkout_record

    record = checkout_record(inputs.source_dir)
    return {"paper": paper.id, "reference": {"repo": paper.reference.repo, "commit": paper.reference.commit,
            "checkout": str(inputs.source_dir), "tree": record.get("tree"), "paths": record.get("paths", []),
            "origin": record.get("origin")},
            "environment": str(inputs.environment.folder) if inputs.environment else None,
            "data": {name: str(path) for name, path in inputs.data.items()}}


# ------------------------------------------------------------------------- plans


def plan_table(paper: Paper, specs: list[RunSpec]) -> str:
    profile = paper.profiles[specs[0].profile]
    rows = [
        [i, s.setting_label, s.seed, s.impl, s.device, s.threads, _config_changes(paper, s)]
        for i, s in enumerate(specs, start=1)
    ]
    head = (
        f"plan: {paper.id}, implementation {specs[0].impl}, profile {specs[0].profile}: "
        f"{len(specs)} runs (expected {_expected(profile.expected_seconds)} on 2 cores)"
    )
    table = tabulate(rows, headers=["#", "setting", "seed", "impl", "device", "threads", "config vs defaults"])
    inputs = []
    if needs_reference_code(specs[0].impl):
        from repro.fetch import reference_is_fetched

        state = "cached" if reference_is_fetched(paper) else "to be fetched"
        only = f", only {', '.join(paper.reference.paths)}" if paper.reference.paths else ""
        inputs.append(f"reference code: {paper.reference.repo} @ {paper.reference.commit[:12]} ({state}{only})")
        inputs += requirement_lines(paper)
    inputs += [f"data: {artifact.name} ({artifact.size:,} bytes)" for artifact in paper.data]
    return "\n".join([head, table, *inputs, "(dry run: nothing was run or fetched)"])


def _config_changes(paper: Paper, spec: RunSpec) -> str:
    changed = {k: v for k, v in spec.config.items() if paper.config.get(k) != v and k not in spec.setting}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "-"


# ---------------------------------------------------------------------- verdicts


def significant(value: float, digits: int = 4) -> str:
    """`value` with `digits` significant digits, like the reported column: 0.036 (not 0.04),
    0.00038 (not 0.00), 64.47, 8.192; whole numbers from 10**digits up, never 1.2e+04."""
    if abs(value) >= 10 ** digits:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def signed(value: float, digits: int = 3) -> str:
    """A difference: '+0.63', '-7.3', '-0.0042'."""
    return ("+" if value >= 0 else "-") + significant(abs(value), digits)


def measured_text(result: ClaimResult) -> str:
    """'mean ± sd (n=...)', as every verdict table shows it."""
    s = result.stats
    if s is None:
        return "-"
    if s.sd is None:
        return f"{significant(s.mean)} (n=1)"
    return f"{significant(s.mean)} ± {significant(s.sd, 3)} (n={s.n})"


def delta_text(result: ClaimResult) -> str:
    return signed(result.delta) if result.delta is not None else "-"


def verdict_notes(paper: Paper, profile_name: str, overrides: dict, results: list[ClaimResult],
                  records: list[Record] = ()) -> list[str]:
    """What a reader must know to read a verdict table right (terminal and HTML alike)."""
    profile = paper.profiles.get(profile_name)
    notes = []
    for result in results:  # NO RESULT although its runs went well: they never returned the metric
        finished = [r for r in records if r.ok and r.setting == result.setting]
        if result.stats is None and finished:
            returned = sorted({name for r in finished for name in r.metrics})
            notes.append(f"{result.claim_id}: its runs finished but returned no {result.metric!r} "
                         f"(they returned {', '.join(returned) or 'nothing'}); run() must return the claim's metric.")
    if profile is None:
        notes.append(f"profile '{profile_name}' is no longer in the manifest.")
    elif not profile.paper_protocol:
        notes.append(f"profile '{profile_name}' is not the paper's protocol, so it cannot confirm the paper's "
                     f"numbers (`repro show {paper.id}` says how it differs); --profile {paper.protocol_profile} can.")
    elif overrides:
        notes.append("--set changed the paper's protocol; these verdicts cannot confirm the paper's numbers.")
    if any(c.stats is not None and c.stats.n == 1 for c in results):
        notes.append("n=1 has no confidence interval; BETTER/WORSE with one seed may be seed noise.")
    if any(c.verdict == "INCONCLUSIVE" for c in results):
        notes.append("INCONCLUSIVE means the 95% interval still reaches the tolerance band: run more seeds.")
    return notes


def failure(record: Record) -> str:
    """'crashed: <error>', the fix when it is a module the authors' code lacks, and the log."""
    from repro.fetch.requirements import missing_module_hint

    hint = missing_module_hint(record.error, record.spec.paper)
    return (f"{record.status}: {record.error}" + (f"\n  fix: {hint}" if hint else "")
            + f"\n  full log: {record.log_path}")


def verdict_table(outcome) -> str:
    paper = outcome.paper
    rows = [
        [
            c.claim_id,
            c.source,
            f"{c.reported:g}" + (f" ± {c.reported_sd:g}" if c.reported_sd is not None else ""),
            measured_text(c),
            delta_text(c),
            c.tolerance,
            c.verdict,
        ]
        for c in outcome.claims
    ]
    overrides = outcome.specs[0].overrides if outcome.specs else {}
    changed = "".join(f", --set {key}={value}" for key, value in overrides.items())
    lines = [
        f"{paper.title} ({paper.id}) — implementation {outcome.impl}, profile {outcome.profile}{changed}",
        tabulate(
            rows,
            headers=["claim", "where in the paper", "reported", "measured", "delta", "tolerance", "verdict"],
            disable_numparse=True,
            maxcolwidths=[None, 32, None, None, None, None, None],
        ),
    ]
    lines += [f"note: {note}" for note in verdict_notes(paper, outcome.profile, overrides, outcome.claims, outcome.records)]
    failed = [r for r in outcome.records if r.status != "ok"]
    for record in failed:
        spec = record.spec
        lines.append(f"run {record.run_id} ({spec.setting_label}, seed {spec.seed}) {failure(record)}")
    return "\n".join(lines)


def outcome_json(outcome) -> dict:
    return {
        "paper": outcome.paper.id,
        "title": outcome.paper.title,
        "impl": outcome.impl,
        "profile": outcome.profile,
        "paper_protocol": outcome.paper.profiles[outcome.profile].paper_protocol,
        "exit_code": outcome.exit_code,
        "claims": [c.to_dict() for c in outcome.claims],
        "runs": [_run_summary(r) for r in outcome.records],
    }


# -------------------------------------------------------------------------- runs


def _run_summary(record: Record) -> dict:
    spec = record.spec
    return {
        "run_id": record.run_id,
        "paper": spec.paper,
        "impl": spec.impl,
        "profile": spec.profile,
        "setting": spec.setting_label,
        "overrides": spec.overrides,
        "seed": spec.seed,
        "status": record.status,
        "metrics": record.metrics,
        "duration_s": record.duration_s,
        "started": record.started,
        "error": record.error,
        "log_path": record.log_path,
        "executor": record.executor,
        "slurm": record.slurm,
    }


def runs_table(records: list[Record]) -> str:
    if not records:
        return "no recorded runs"
    rows = [
        [
            r.run_id,
            r.impl,
            r.spec.profile,
            r.setting + "".join(f", {k}={v}" for k, v in r.spec.overrides.items()),
            r.seed,
            r.status,
            (r.slurm or {}).get("job_id", "-"),
            "  ".join(f"{k}={v:.4g}" for k, v in r.metrics.items()) or (r.error or "")[:40],
            f"{r.duration_s:.1f}" if r.duration_s is not None else "-",
        ]
        for r in records
    ]
    return tabulate(rows, headers=["run", "impl", "profile", "setting (, --set)", "seed", "status", "slurm job", "metrics",
                                       "seconds"])


def runs_json(records: list[Record]) -> list[dict]:
    return [_run_summary(r) for r in records]


def record_text(record: Record) -> str:
    spec, env = record.spec, record.environment or {}
    lines = [
        f"run {record.run_id}",
        f"  status:   {record.status}" + (f" — {record.error}" if record.error else ""),
        f"  paper:    {spec.paper}  impl: {spec.impl} ({spec.impl_path})",
        f"  profile:  {spec.profile}  setting: {spec.setting_label}  seed: {spec.seed}",
        "  config:   " + ", ".join(f"{k}={v}" for k, v in spec.config.items()),
        f"  started:  {record.started}  duration: {record.duration_s} s"
        + (f" (in run(): {record.train_s} s)" if record.train_s is not None else ""),
        "  metrics:  " + (", ".join(f"{k}={v:.6g}" for k, v in record.metrics.items()) or "-"),
        "  curves:   " + (", ".join(f"{k} ({len(v)} points)" for k, v in record.curves.items()) or "-"),
        f"  device:   {env.get('device', '?')}  threads: {env.get('torch_threads', '?')}",
        f"  env:      python {env.get('python', '?')}, torch {env.get('torch', '?')}, "
        f"cuda {env.get('cuda')}, gpus {env.get('gpus') or '-'}, cpu {env.get('cpu', '?')}",
        f"  numerics: {describe_numerics(env.get('numerics'))} (fingerprint {env.get('numerics_id') or '-'})",
        f"  repro:    {env.get('repro', '?')} git {((env.get('repro_git') or {}).get('sha') or '?')[:12]}"
        + (" (dirty)" if (env.get("repro_git") or {}).get("dirty") else ""),
        f"  reference commit: {spec.reference_commit}",
        f"  log:      {record.log_path}",
    ]
    if record.slurm:
        slurm = record.slurm
        lines.append(f"  slurm:    job {slurm['job_id']}, {slurm['state']}, queued {record.details.get('queued_s')} s; "
                     f"Slurm's log: {slurm['log']}")
    if record.log_tail:
        lines += ["  log tail:", *("    " + line for line in record.log_tail.splitlines())]
    return "\n".join(lines)


# ----------------------------------------------------------------- regressions


def baseline_text(made) -> str:
    data = made.data
    lines = [f"wrote {made.path} ({len(data['runs'])} runs), made on {data['machine']} "
             f"(fingerprint {data['fingerprint_id']})"]
    portable = data.get("portable")
    if portable:
        lines.append(f"portable tolerance {portable['how']}:")
        rows = [[setting, metric, significant(m["abs"], 3), "-" if m["sd_seeds"] is None else significant(m["sd_seeds"], 3),
                 "-" if m["sd_numerics"] is None else significant(m["sd_numerics"], 3)]
                for setting, metrics in portable["settings"].items() for metric, m in metrics.items()]
        lines.append(tabulate(rows, headers=["setting", "metric", "tolerance", "sd over seeds", "sd over numerics"],
                              disable_numparse=True))
    else:
        lines.append("this machine's exact numbers, beside the baseline: `repro regress` compares this machine type exactly")
    lines += [f"removed {path}: it held another machine's numbers of the code this replaces; remake it there with "
              "`--add-machine`" for path in made.removed]
    lines.append("commit it so CI compares against it")
    return "\n".join(lines)


def _regress_rows(regression) -> list[list]:
    def number(value):
        return "-" if value is None else f"{value:.6g}"

    return [
        [r.paper, r.impl, r.setting, "-" if r.seed is None else r.seed, r.metric, number(r.baseline),
         number(r.measured), "-" if r.delta is None else f"{r.delta:+.6g}", number(r.tolerance), r.mode or "-",
         r.status, r.note]
        for r in regression.rows
    ]


REGRESS_HEADERS = ["paper", "impl", "setting", "seed", "metric", "baseline", "measured", "delta", "tolerance", "mode",
                   "status", "note"]


def regress_text(regression, tablefmt: str = "simple") -> str:
    lines = [tabulate(_regress_rows(regression), headers=REGRESS_HEADERS, tablefmt=tablefmt, disable_numparse=True)]
    statuses = [r.status for r in regression.rows]
    summary = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses)) or "nothing to check"
    lines.append(f"\n{summary}")
    lines += regression.notes
    if any(s == "IMPROVED" for s in statuses):
        lines.append("IMPROVED fails on purpose: a better number must be accepted on purpose.")
    if regression.updates:
        lines.append("If the change is intended, update the baseline(s) and commit them:")
        lines += [f"    {command}" for command in regression.updates]
    return "\n".join(lines)


def regress_markdown(regression) -> str:
    verdict = "passed" if regression.exit_code == 0 else "FAILED"
    return f"## repro regress: {verdict}\n\n" + regress_text(regression, tablefmt="github").replace(
        "\n    repro", "\n\n    repro", 1)


def regress_json(regression) -> dict:
    return {"exit_code": regression.exit_code, "rows": [r.to_dict() for r in regression.rows],
            "updates": regression.updates, "notes": regression.notes}


# ------------------------------------------------------------------------- noise


def noise_rows(noise) -> list[list]:
    seeds_in_protocol = len(noise.paper.profiles[noise.paper.protocol_profile].seed_list())
    bands = {(c.setting_label, c.metric): c.tolerance.describe() for c in noise.paper.claims}
    rows = []
    for m in noise.metrics:
        def sd(value):
            return "-" if value is None else significant(value, 3)

        values = list(m.over_numerics.values())
        rows.append([
            m.setting, m.metric, significant(m.mean), f"{sd(m.sd_seeds)} (n={len(m.over_seeds)})",
            f"{sd(m.sd_numerics)} (n={len(m.over_numerics)})",
            f"{significant(min(values))} .. {significant(max(values))}",
            significant(m.portable_tolerance, 3),
            "-" if m.early else "±" + significant(m.suggested_claim_tolerance(seeds_in_protocol), 2),
            bands.get((m.setting, m.metric), "-"),
        ])
    return rows


def noise_text(noise) -> str:
    protocol = noise.paper.protocol_profile
    n = len(noise.paper.profiles[protocol].seed_list())
    envs = "; ".join(f"{label}: {' '.join(f'{k}={v}' for k, v in env.items())}" for label, env in noise.perturbations.items())
    lines = [
        f"{noise.paper.title} ({noise.paper.id}) — implementation {noise.impl}, profile {noise.profile}, "
        "CPU, 1 thread a run",
        tabulate(noise_rows(noise), headers=[
            "setting", "metric", "mean", "sd over seeds", "sd over numerics", "range over numerics",
            "portable tolerance", f"suggested band (mean of {n})", "claim's band now"], disable_numparse=True),
        f"seeds: {', '.join(map(str, noise.seeds))} with this machine's numerics; numerics environments at seed "
        f"{noise.seeds[0]}: native; {envs or 'none (not an x86-64 CPU with AVX2)'}",
        "sd over seeds: what another seed moves a number by. sd over numerics: what another machine (CPU type, ISA, "
        "library build) moves it by, emulated here; after enough training steps the two are alike.",
        f"portable tolerance: what `repro regress` allows a machine with another fingerprint ({K_SPREADS:g} x the "
        "larger sd). Two single runs differing by less than about 3 x sd is no evidence of a real difference.",
        "name@step: a curve's first point, before another machine's trajectory has parted from this one's; "
        "its portable tolerance uses the sd over numerics (at least a tenth of the sd over seeds), so it shows a "
        "changed model or optimizer that the final numbers' spread hides.",
        f"suggested band: 2 x the larger sd / sqrt({n}), the seeds of profile {protocol}; a claim's band must also "
        "hold the paper's rounding, and this profile's spread is not always the protocol's "
        f"(`--profile {protocol}` measures that one).",
    ]
    for record in noise.failed:
        lines.append(f"run {record.run_id} {failure(record)}")
    return "\n".join(lines)


def noise_json(noise) -> dict:
    return {"paper": noise.paper.id, "impl": noise.impl, "profile": noise.profile, "seeds": noise.seeds,
            "environments": noise.perturbations, "metrics": [m.to_dict() for m in noise.metrics],
            "failed_runs": [r.run_id for r in noise.failed]}


# ---------------------------------------------------------------------- checks

def stage_text(stage, number: int, planned: int) -> str:
    """One stage of `repro check`: what it compared, and when it failed, the likely causes
    (those the evidence points at first)."""
    lines = [f"stage {number}/{planned} {stage.name}: {'PASS' if stage.passed else 'FAIL'}"]
    lines += [f"    {detail}" for detail in stage.details]
    if stage.hints:
        lines.append("  likely causes" + (", by the evidence:" if stage.evidence else ":"))
        lines += [f"    - {hint}" for hint in stage.hints]
    return "\n".join(lines)


def check_summary(stages, full: bool, planned: list[str]) -> str:
    lines = []
    if all(stage.passed for stage in stages):
        lines.append("every stage passed" + ("" if full else "; --full also checks the paper's claims"))
    else:
        skipped = planned[len(stages):]
        if skipped:
            lines.append(f"not run until this passes: {', '.join(skipped)}")
    return "\n".join(lines)


# -------------------------------------------------------------------- settings


def settings_text(settings) -> str:
    where = f"from {settings.source}" if settings.source else "no repro.toml or [tool.repro] found: repro's defaults"
    lines = [
        f"settings {where}",
        f"  executor:      {settings.run.executor}",
        f"  jobs:          {settings.run.jobs or 'default (local 1, Slurm as many as fit)'}",
        f"  threads:       {settings.run.threads or 'default (the cores shared by the runs at once; Slurm cpus_per_run)'}",
    ]
    for name, options in settings.executors.items():
        described = options.describe() if hasattr(options, "describe") else {
            key: value for key, value in options.model_dump().items()}
        width = max(map(len, described), default=0) + 1
        lines += [f"  {name}:", *(f"    {f'{key}:':<{width}} {value}" for key, value in described.items())]
    return "\n".join(lines)
