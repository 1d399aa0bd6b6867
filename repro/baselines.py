"""Baselines: our own reproduced numbers, kept in baselines/ so that CI catches regressions.

Comparing with the paper asks "does the work reproduce?"; comparing with a baseline asks
"did a change break something?". A baseline holds, per paper, implementation and profile,
the metrics of every run (setting x seed) of an accepted `repro baseline`, the environment
that made them, and a tolerance per metric:

- runs on the CPU are deterministic (seeded python/numpy/torch, deterministic algorithms,
  one torch thread per run), so their tolerance is 0: any change is a change;
- elsewhere (GPU) the tolerance comes from the seed spread: twice the largest sample sd over
  seeds of any setting (or the claim's tolerance band when there is a single seed).

The manifest's speed_metrics (tokens per second, seconds to the best loss) are left out:
they measure the machine, not the result.

The files are YAML written exactly as pytest-regressions' `data_regression` writes them, so
tests/test_baselines.py checks them from pytest and `pytest --force-regen` rewrites them.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from repro.errors import RunFailed, UsageError
from repro.manifest import Paper, load_paper, paper_ids

BASELINE_PROFILE = "quick"
THREADS_PER_RUN = 1  # numbers depend on the thread count; 1 is the same on every machine
ENVIRONMENT_KEYS = ("device", "python", "torch", "cuda", "gpus", "cpu", "numpy", "repro", "repro_git", "reference_commit")
PASS, FAIL, IMPROVED, NO_BASELINE, SKIPPED = "PASS", "FAIL", "IMPROVED", "NO BASELINE", "SKIPPED"


def baselines_dir() -> Path:
    """$REPRO_BASELINES, else the baselines/ folder beside the package."""
    override = os.environ.get("REPRO_BASELINES")
    return Path(override).expanduser().resolve() if override else Path(__file__).resolve().parent.parent / "baselines"


def baseline_path(paper: str, impl: str, profile: str = BASELINE_PROFILE) -> Path:
    return baselines_dir() / paper / f"{impl}-{profile}.yml"


def update_command(paper: str, impl: str, profile: str = BASELINE_PROFILE) -> str:
    return f"repro baseline {paper} --impl {impl} --profile {profile}"


def offline_implementations(paper: Paper) -> list[str]:
    """What CI can run without a network: the re-implementation, and the authors' code once
    its checkout is in the cache. Students' implementations are theirs, not CI's."""
    from repro.fetch.repository import is_fetched

    found = []
    for impl in paper.implementations():
        if impl == "reimpl" or (impl == "reference" and is_fetched(paper.reference.repo, paper.reference.commit)):
            found.append(impl)
    return found


# ------------------------------------------------------------------- making them


def baseline_from_records(paper: Paper, impl: str, profile: str, records: list[dict]) -> dict:
    """The baseline of one finished batch of runs (every run must have ended ok)."""
    failed = [r["run_id"] for r in records if r["status"] != "ok"]
    if failed:
        raise RunFailed(f"not writing a baseline: {len(failed)} run(s) did not finish ok ({', '.join(failed)}); "
                        "`repro runs show RUN_ID` shows why")
    environment = records[0].get("environment") or {}
    runs = [
        {"setting": r["spec"]["setting_label"], "seed": r["spec"]["seed"], "config": r["spec"]["config"],
         "metrics": {name: value for name, value in sorted(r["metrics"].items()) if name not in paper.speed_metrics}}
        for r in records
    ]
    return {
        "paper": paper.id,
        "impl": impl,
        "profile": profile,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": update_command(paper.id, impl, profile),
        "threads_per_run": records[0]["spec"]["threads"],
        "environment": {key: environment.get(key) for key in ENVIRONMENT_KEYS},
        "tolerance": _tolerances(paper, runs, {r.get("environment", {}).get("device") for r in records}),
        "runs": runs,
    }


def _tolerances(paper: Paper, runs: list[dict], devices: set) -> dict:
    metrics = sorted({name for run in runs for name in run["metrics"]})
    if devices == {"cpu"}:
        why = "deterministic on CPU (seeded, deterministic algorithms, 1 thread): any change is a change"
        return {name: {"abs": 0.0, "why": why} for name in metrics}
    tolerances = {}
    for name in metrics:
        spreads = []
        for setting in {run["setting"] for run in runs}:
            values = [run["metrics"][name] for run in runs if run["setting"] == setting and name in run["metrics"]]
            if len(values) >= 2:
                mean = sum(values) / len(values)
                spreads.append(math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)))
        if spreads:
            tolerances[name] = {"abs": round(2 * max(spreads), 6), "why": "not deterministic: 2 x the largest seed sd"}
        else:
            bands = [c.tolerance.band(c.reported) for c in paper.claims if c.metric == name]
            tolerances[name] = {"abs": max(bands) if bands else 0.0,
                                "why": "not deterministic, one seed: the claim's tolerance band"}
    return tolerances


def dump_yaml(data: dict) -> str:
    """YAML exactly as pytest-regressions' data_regression writes it."""
    import yaml
    from pytest_regressions.data_regression import RegressionYamlDumper

    return yaml.dump_all([data], Dumper=RegressionYamlDumper, default_flow_style=False, allow_unicode=True,
                         indent=2, encoding="utf-8").decode("utf-8")


def write_baseline(data: dict) -> Path:
    path = baseline_path(data["paper"], data["impl"], data["profile"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(dump_yaml(data), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_baseline(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def make_baseline(paper_id: str, impl: str = "reimpl", profile: str = BASELINE_PROFILE,
                  *, show_progress: bool = False) -> tuple[dict, Path, object]:
    """Run the profile (1 thread a run, every core busy) and write its baseline."""
    from repro.run import reproduce

    outcome = reproduce(paper_id, impl=impl, profile=profile, device="cpu", jobs=os.cpu_count() or 1,
                        threads=THREADS_PER_RUN, show_progress=show_progress)
    data = baseline_from_records(outcome.paper, outcome.impl, profile, outcome.records)
    return data, write_baseline(data), outcome


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

    def to_dict(self) -> dict:
        return asdict(self)


def compare_with_baseline(paper: Paper, baseline: dict, records: list[dict]) -> list[Row]:
    """One row per (setting, seed, metric) of the baseline, and one per unexpected run."""
    directions = {c.metric: c.direction for c in paper.claims}
    measured = {(r["spec"]["setting_label"], r["spec"]["seed"]): r for r in records}
    rows = []
    for run in baseline["runs"]:
        record = measured.pop((run["setting"], run["seed"]), None)
        for metric, old in run["metrics"].items():
            tolerance = baseline["tolerance"].get(metric, {}).get("abs", 0.0)
            row = Row(paper.id, baseline["impl"], run["setting"], run["seed"], metric, old, None, None, tolerance, FAIL)
            if record is None or record["status"] != "ok":
                row.note = "no finished run" if record is None else f"run {record['status']}: {record['error']}"
            elif metric not in record["metrics"]:
                row.note = "the run no longer reports this metric"
            else:
                row.measured = record["metrics"][metric]
                row.delta = row.measured - old
                if abs(row.delta) <= tolerance:
                    row.status = PASS
                elif (row.delta > 0) == (directions.get(metric, "higher") == "higher") and metric in directions:
                    row.status = IMPROVED
            rows.append(row)
    for (setting, seed) in measured:
        rows.append(Row(paper.id, baseline["impl"], setting, seed, "-", None, None, None, None, FAIL,
                        "a run the baseline does not have"))
    return rows


@dataclass
class Regression:
    rows: list[Row]
    updates: list[str]  # commands that accept a changed (or missing) baseline on purpose
    crashed: bool

    @property
    def exit_code(self) -> int:
        if self.crashed:
            return 3
        return 0 if all(row.status in (PASS, SKIPPED) for row in self.rows) else 1


def regress(paper_list: list[str] | None = None, *, show_progress: bool = False) -> Regression:
    """Run every paper's quick profile for every offline implementation and compare with its baseline."""
    from repro.run import reproduce

    rows, updates, crashed = [], [], False
    for paper_id in paper_list or paper_ids():
        paper = load_paper(paper_id)
        offline = offline_implementations(paper)
        for impl in (i for i in paper.implementations() if i == "reference" and i not in offline):
            rows.append(Row(paper.id, impl, "-", None, "-", None, None, None, None, SKIPPED,
                            "reference code not in the cache (offline); `repro fetch` it to include it"))
        for impl in offline:
            path = baseline_path(paper.id, impl)
            if not path.is_file():
                rows.append(Row(paper.id, impl, "-", None, "-", None, None, None, None, NO_BASELINE, str(path)))
                updates.append(update_command(paper.id, impl))
                continue
            baseline = load_baseline(path)
            outcome = reproduce(paper, impl=impl, profile=BASELINE_PROFILE, device="cpu",
                                jobs=os.cpu_count() or 1, threads=baseline.get("threads_per_run", THREADS_PER_RUN),
                                seeds=sorted({run["seed"] for run in baseline["runs"]}), show_progress=show_progress)
            crashed |= any(r["status"] != "ok" for r in outcome.records)
            new_rows = compare_with_baseline(paper, baseline, outcome.records)
            rows += new_rows
            if any(row.status != PASS for row in new_rows):
                updates.append(update_command(paper.id, impl))
    return Regression(rows, updates, crashed)


def baseline_as_record(record: dict) -> dict:
    """The stored baseline run matching `record` (same paper, impl, profile, setting, seed),
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
            }
    raise UsageError(f"{path} has no run of {spec['setting_label']} with seed {spec['seed']}")
