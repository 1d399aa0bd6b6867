"""Baselines: our own reproduced numbers, kept in baselines/ so that CI catches regressions.

Comparing with the paper asks "does the work reproduce?"; comparing with a baseline asks
"did a change break something?". A baseline holds, per paper, implementation and profile,
the metrics of every run (setting x seed) of an accepted `repro baseline`, the machine that
made them (its numerics fingerprint, numerics.py) and two tolerances:

- exact, for a run whose fingerprint equals the baseline's: runs on the CPU are
  deterministic there (seeded python/numpy/torch, deterministic algorithms, one torch
  thread a run), so the tolerance is 0 and any change is a change;
- portable, for a run from any other machine: the same code and seed give other last bits
  on another CPU type, ISA or library build, and training amplifies them into points of
  accuracy. `repro baseline` measures how far (noise.py: more seeds, and every numerics
  perturbation this machine can apply) and stores K x the larger spread per setting and
  metric, with the values it was measured from.

A lab may keep exact numbers for more machine types beside the main file, one file per
fingerprint (`repro baseline PAPER --add-machine` on that machine), the way PyTorch keeps
expected results per platform:

    baselines/<paper>/<impl>-<profile>.yml                 the baseline, with the portable tolerance
    baselines/<paper>/<impl>-<profile>.<fingerprint>.yml   exact numbers of another machine

The manifest's speed_metrics (tokens per second, seconds to the best loss) are left out:
they measure the machine, not the result. The files are YAML written exactly as
pytest-regressions' `data_regression` writes them, so tests/test_baselines.py checks them
from pytest (exactly where the fingerprint matches) and `pytest --force-regen` rewrites them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from repro.errors import RunFailed, UsageError
from repro.records import Record
from repro.paths import baselines_dir
from repro.catalog import Paper, load_paper, paper_ids
from repro.noise import (
    EARLY_SEED_FRACTION,
    K_SPREADS,
    NOISE_SEEDS,
    THREADS_PER_RUN,
    Noise,
    early_points,
    measure_noise,
)
from repro.worker.numerics import describe, differences

BASELINE_PROFILE = "quick"
ENVIRONMENT_KEYS = ("device", "python", "torch", "cuda", "gpus", "cpu", "numpy", "repro", "repro_git", "reference_commit",
                    "numerics", "numerics_id")
PASS, FAIL, IMPROVED, NO_BASELINE, SKIPPED = "PASS", "FAIL", "IMPROVED", "NO BASELINE", "SKIPPED"
EXACT, PORTABLE = "exact", "portable"


def baseline_path(paper: str, impl: str, profile: str = BASELINE_PROFILE, fingerprint: str | None = None) -> Path:
    """The baseline's file, or with `fingerprint` the file of that machine's exact numbers."""
    suffix = f".{fingerprint}" if fingerprint else ""
    return baselines_dir() / paper / f"{impl}-{profile}{suffix}.yml"


def machine_paths(paper: str, impl: str, profile: str = BASELINE_PROFILE) -> list[Path]:
    """The files of other machines' exact numbers beside the baseline."""
    return sorted(baselines_dir().joinpath(paper).glob(f"{impl}-{profile}.*.yml"))


def update_command(paper: str, impl: str, profile: str = BASELINE_PROFILE) -> str:
    return f"repro baseline {paper} --impl {impl} --profile {profile}"


def offline_implementations(paper: Paper) -> list[str]:
    """What CI can run without a network: the re-implementation, and the authors' code once
    its checkout is in the cache. Students' implementations are theirs, not CI's."""
    from repro.fetch import reference_is_fetched

    found = []
    for impl in paper.implementations():
        if impl == "reimpl" or (impl == "reference" and reference_is_fetched(paper)):
            found.append(impl)
    return found


# ------------------------------------------------------------------- making them


def baseline_from_records(paper: Paper, impl: str, profile: str, records: list[Record],
                          noise: Noise | None = None) -> dict:
    """The baseline of one finished batch of runs (every run must have ended ok); with `noise`,
    the portable tolerance measured from it."""
    failed = [r.run_id for r in records if r.status != "ok"]
    if failed:
        raise RunFailed(f"not writing a baseline: {len(failed)} run(s) did not finish ok ({', '.join(failed)}); "
                        "`repro runs show RUN_ID` shows why")
    environment = records[0].environment or {}
    runs = [
        {"setting": r.setting, "seed": r.seed, "config": r.spec.config,
         "metrics": {name: value for name, value in sorted(r.metrics.items()) if name not in paper.speed_metrics},
         "early": early_points(r, paper.speed_metrics)}
        for r in records
    ]
    why = "same fingerprint: deterministic on CPU (seeded, deterministic algorithms, 1 thread), any change is a change"
    data = {
        "paper": paper.id,
        "impl": impl,
        "profile": profile,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": update_command(paper.id, impl, profile),
        "machine": describe(environment.get("numerics")),
        "fingerprint_id": environment.get("numerics_id"),
        "threads_per_run": records[0].spec.threads,
        "environment": {key: environment.get(key) for key in ENVIRONMENT_KEYS},
        "tolerance": {name: {"abs": 0.0, "why": why}
                      for name in sorted({n for run in runs for n in [*run["metrics"], *run["early"]]})},
        "runs": runs,
    }
    if noise is not None:
        data["portable"] = portable_section(noise)
    return data


def portable_section(noise: Noise) -> dict:
    """What a run from another machine is allowed: per setting and metric, K x the larger
    measured spread, and the values it was measured from."""
    labels = ", ".join(noise.perturbations) or "none applied"
    seeds = f"{noise.seeds[0]}-{noise.seeds[-1]}" if len(noise.seeds) > 1 else str(noise.seeds[0])
    settings: dict[str, dict] = {}
    for m in noise.metrics:
        settings.setdefault(m.setting, {})[m.metric] = {
            "abs": m.portable_tolerance,
            "early": m.early,
            "sd_seeds": _rounded(m.sd_seeds),
            "sd_numerics": _rounded(m.sd_numerics),
            "over_seeds": dict(m.over_seeds),
            "over_numerics": dict(m.over_numerics),
        }
    return {
        "how": (f"measured on the machine above: seeds {seeds} with its own numerics, and seed {noise.seeds[0]} "
                f"under {len(noise.perturbations)} numerics environments ({labels}); tolerance = {K_SPREADS:g} x the "
                "larger sample sd of the two; for a curve's first point (name@step), the sd over numerics, at least "
                f"{EARLY_SEED_FRACTION:g} x the sd over seeds"),
        "k": K_SPREADS,
        "environments": {label: dict(env) for label, env in noise.perturbations.items()},
        "settings": settings,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def dump_yaml(data: dict) -> str:
    """YAML exactly as pytest-regressions' data_regression writes it."""
    import yaml
    from pytest_regressions.data_regression import RegressionYamlDumper

    return yaml.dump_all([data], Dumper=RegressionYamlDumper, default_flow_style=False, allow_unicode=True,
                         indent=2, encoding="utf-8").decode("utf-8")


def write_baseline(data: dict, path: Path | None = None) -> Path:
    path = path or baseline_path(data["paper"], data["impl"], data["profile"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(dump_yaml(data), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_baseline(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def stored_baselines(paper: str, impl: str, profile: str = BASELINE_PROFILE) -> list[dict]:
    """The baseline first, then the other machines' exact numbers; empty where there is none."""
    path = baseline_path(paper, impl, profile)
    if not path.is_file():
        return []
    return [load_baseline(path), *(load_baseline(p) for p in machine_paths(paper, impl, profile))]


@dataclass
class Made:
    """What `repro baseline` wrote."""

    data: dict
    path: Path
    removed: list[Path] = field(default_factory=list)  # other machines' files that held the old numbers


def make_baseline(paper_id: str, impl: str = "reimpl", profile: str = BASELINE_PROFILE, *,
                  noise_seeds: int = NOISE_SEEDS, numerics: bool = True, add_machine: bool = False,
                  show_progress: bool = False) -> Made:
    """Run the profile (CPU, 1 thread a run, every core busy), measure the spread it has over
    seeds and numerics environments, and write the baseline. With add_machine, only this
    machine's exact numbers, in a file of their own beside the baseline."""
    from repro.run import reproduce

    paper = load_paper(paper_id)
    if profile not in paper.profiles:
        raise UsageError(f"{paper.id} has no profile {profile!r} (profiles: {', '.join(paper.profiles)})")
    if add_machine:
        main_path = baseline_path(paper.id, impl, profile)
        if not main_path.is_file():
            raise UsageError(f"no baseline {main_path} to add this machine's numbers to; "
                             f"`{update_command(paper.id, impl, profile)}` makes it (and measures the spread)")
        outcome = reproduce(paper, impl=impl, profile=profile, device="cpu", jobs=os.cpu_count() or 1,
                            threads=THREADS_PER_RUN, show_progress=show_progress)
        data = baseline_from_records(paper, impl, profile, outcome.records)
        if data["fingerprint_id"] == load_baseline(main_path).get("fingerprint_id"):
            raise UsageError(f"this machine made {main_path} itself (fingerprint {data['fingerprint_id']}); "
                             "--add-machine is for other machine types")
        return Made(data, write_baseline(data, baseline_path(paper.id, impl, profile, data["fingerprint_id"])))
    if noise_seeds < 2:
        raise UsageError("--noise-seeds must be at least 2 (a spread needs two values)")
    noise = measure_noise(paper, impl, profile, seeds=noise_seeds, perturb=numerics, show_progress=show_progress)
    if noise.failed:
        baseline_from_records(paper, impl, profile, noise.failed)  # raises RunFailed, naming them
    profile_seeds = set(paper.profiles[profile].seed_list())
    records = [r for r in noise.native_records if r.seed in profile_seeds]
    data = baseline_from_records(paper, impl, profile, records, noise)
    path = write_baseline(data)
    removed = machine_paths(paper.id, impl, profile)
    for stale in removed:  # they hold the numbers the new baseline replaces
        stale.unlink()
    return Made(data, path, removed)


# ------------------------------------------------------------------ checking them


@dataclass
class Row:
    paper: str
    impl: str
    setting: str
    seed: int | None
    metric: str
    baseline: float | None
    measured: float | None
    delta: float | None
    tolerance: float | None
    status: str
    note: str = ""
    mode: str = ""  # exact (same fingerprint) or portable (another machine)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Chosen:
    """What one run is compared with: a stored run, how (exact or portable) and why."""

    stored: dict | None  # the stored run (setting, seed, metrics)
    mode: str
    why: str
    baseline: dict


def choose(stored: list[dict], setting: str, seed: int, record: Record | None) -> Chosen:
    """Exact against the stored file whose fingerprint equals the run's, else portable
    against the baseline (stored[0]) with its measured tolerance."""
    fingerprint = record.numerics_id if record else None
    for baseline in stored:
        if fingerprint and baseline.get("fingerprint_id") == fingerprint:
            run = _stored_run(baseline, setting, seed)
            if run is not None:
                return Chosen(run, EXACT, f"same fingerprint {fingerprint}", baseline)
    main = stored[0]
    if not main.get("portable"):
        why = "another fingerprint, and this baseline has no measured spread: remake it with `repro baseline`"
    else:
        why = f"baseline from {main.get('machine', 'an unknown machine')}, tolerance {main['portable']['k']:g} x measured spread"
    return Chosen(_stored_run(main, setting, seed), PORTABLE, why, main)


def _stored_run(baseline: dict, setting: str, seed: int) -> dict | None:
    return next((r for r in baseline["runs"] if r["setting"] == setting and r["seed"] == seed), None)


def measured_spread(baseline: dict, setting: str, metric: str) -> dict | None:
    """The baseline's portable measurement of one setting and metric (abs, sds, values), if any."""
    return ((baseline.get("portable") or {}).get("settings") or {}).get(setting, {}).get(metric)


def tolerance_for(chosen: Chosen, setting: str, metric: str) -> tuple[float, str]:
    """(absolute tolerance, a short note) for one metric of one run."""
    if chosen.mode == EXACT:
        return chosen.baseline["tolerance"].get(metric, {}).get("abs", 0.0), "exact: same fingerprint"
    measured = measured_spread(chosen.baseline, setting, metric)
    if measured is None:
        return 0.0, "portable, but no measured spread for this metric: remake the baseline"
    k = chosen.baseline["portable"]["k"]
    return measured["abs"], f"portable: {k:g} x sd {measured['abs'] / k:.3g}" + (" (early point)" if measured.get("early") else "")


def compare_with_baseline(paper: Paper, stored: list[dict] | dict, records: list[Record]) -> list[Row]:
    """One row per (setting, seed, metric) of the baseline, and one per unexpected run. Each
    run is compared exactly where a stored file has its fingerprint, else portably."""
    stored = [stored] if isinstance(stored, dict) else stored
    main = stored[0]
    directions = {c.metric: c.direction for c in paper.claims}
    measured = {(r.setting, r.seed): r for r in records}
    rows = []
    for run in main["runs"]:
        record = measured.pop((run["setting"], run["seed"]), None)
        chosen = choose(stored, run["setting"], run["seed"], record)
        stored_values = _values(chosen.stored or run)
        measured_values = {**record.metrics, **early_points(record)} if record else {}
        for metric in _values(run):
            old = stored_values.get(metric)
            tolerance, why = tolerance_for(chosen, run["setting"], metric)
            row = Row(paper.id, main["impl"], run["setting"], run["seed"], metric, old, None, None, tolerance, FAIL,
                      why, chosen.mode)
            if record is None or record.status != "ok":
                row.note = "no finished run" if record is None else f"run {record.status}: {record.error}"
            elif metric not in measured_values or old is None:
                row.note = "the run no longer reports this metric" if old is not None else "not in the stored run"
            else:
                row.measured = measured_values[metric]
                row.delta = row.measured - old
                if abs(row.delta) <= tolerance:
                    row.status = PASS
                elif (row.delta > 0) == (directions.get(metric, "higher") == "higher") and metric in directions:
                    row.status = IMPROVED
            rows.append(row)
    for (setting, seed) in measured:
        rows.append(Row(paper.id, main["impl"], setting, seed, "-", None, None, None, None, FAIL,
                        "a run the baseline does not have"))
    return rows


def _values(run: dict) -> dict[str, float]:
    """A stored run's final metrics and early points (a curve's first point, 'train_loss@250')."""
    return {**run["metrics"], **(run.get("early") or {})}


def comparison_notes(paper: Paper, stored: list[dict], records: list[Record]) -> list[str]:
    """One line per compared batch: which machine made the baseline, which ran now, and so
    which mode, with the fields in which the two fingerprints differ."""
    main = stored[0]
    here = next(((r.environment or {}) for r in records if r.environment), {})
    head = f"{paper.id} {main['impl']}:"
    if any(b.get("fingerprint_id") and b["fingerprint_id"] == here.get("numerics_id") for b in stored):
        return [f"{head} exact: this machine's fingerprint {here.get('numerics_id')} is a stored one "
                f"({describe(here.get('numerics'))})"]
    fields = differences(main.get("environment", {}).get("numerics"), here.get("numerics"))
    shown = ", ".join(fields[:6]) + (f" and {len(fields) - 6} more" if len(fields) > 6 else "")
    how = (main.get("portable") or {}).get("how", "no measured spread: remake the baseline with `repro baseline`")
    return [f"{head} portable: the baseline is from {main.get('machine', 'an unknown machine')}; "
            f"this machine is {describe(here.get('numerics'))}" + (f" (differs in {shown})" if shown else ""),
            f"  tolerance {how}"]


@dataclass
class Regression:
    rows: list[Row]
    updates: list[str]  # commands that accept a changed (or missing) baseline on purpose
    crashed: bool
    notes: list[str] = field(default_factory=list)  # per paper and implementation: which mode, and why

    @property
    def exit_code(self) -> int:
        if self.crashed:
            return 3
        return 0 if all(row.status in (PASS, SKIPPED) for row in self.rows) else 1


def regress(paper_list: list[str] | None = None, *, show_progress: bool = False) -> Regression:
    """Run every paper's quick profile for every offline implementation and compare with its baseline."""
    from repro.run import reproduce

    rows, updates, notes, crashed = [], [], [], False
    for paper_id in paper_list or paper_ids():
        paper = load_paper(paper_id)
        offline = offline_implementations(paper)
        for impl in (i for i in paper.implementations() if i == "reference" and i not in offline):
            rows.append(Row(paper.id, impl, "-", None, "-", None, None, None, None, SKIPPED,
                            "reference code not in the cache (offline); `repro fetch` it to include it"))
        for impl in offline:
            stored = stored_baselines(paper.id, impl)
            if not stored:
                rows.append(Row(paper.id, impl, "-", None, "-", None, None, None, None, NO_BASELINE,
                                str(baseline_path(paper.id, impl))))
                updates.append(update_command(paper.id, impl))
                continue
            outcome = reproduce(paper, impl=impl, profile=BASELINE_PROFILE, device="cpu",
                                jobs=os.cpu_count() or 1, threads=stored[0].get("threads_per_run", THREADS_PER_RUN),
                                seeds=sorted({run["seed"] for run in stored[0]["runs"]}), show_progress=show_progress)
            crashed |= any(r.status != "ok" for r in outcome.records)
            new_rows = compare_with_baseline(paper, stored, outcome.records)
            rows += new_rows
            notes += comparison_notes(paper, stored, outcome.records)
            if any(row.status != PASS for row in new_rows):
                updates.append(update_command(paper.id, impl))
    return Regression(rows, updates, crashed, notes)


def baseline_as_record(record: dict) -> dict:
    """The stored baseline run matching `record` (a run.json's dict: same paper, impl, profile, setting, seed),
    shaped like a run record so that `repro diff RUN --baseline` can compare the two."""
    spec = record["spec"]
    path = baseline_path(spec["paper"], spec["impl"], spec["profile"])
    if not path.is_file():
        raise UsageError(f"no baseline {path}; `{update_command(spec['paper'], spec['impl'], spec['profile'])}` makes one")
    baseline = load_baseline(path)
    for run in baseline["runs"]:
        if run["setting"] == spec["setting_label"] and run["seed"] == spec["seed"]:
            return {
                "run_id": f"baseline {path.name} ({run['setting']}, seed {run['seed']})",
                "status": "ok",
                "started": baseline["created"],
                "spec": {"paper": baseline["paper"], "impl": baseline["impl"], "profile": baseline["profile"],
                         "setting_label": run["setting"], "seed": run["seed"], "threads": baseline["threads_per_run"],
                         "config": run.get("config")},
                "metrics": run["metrics"],
                "environment": baseline["environment"],
                "machine": baseline.get("machine"),
            }
    raise UsageError(f"{path} has no run of {spec['setting_label']} with seed {spec['seed']}")
