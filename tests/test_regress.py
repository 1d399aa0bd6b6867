"""`repro baseline` and `repro regress` through the CLI, on the tiny test paper."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import run_repro


@pytest.fixture
def baselines(tmp_path, monkeypatch):
    folder = tmp_path / "baselines"
    monkeypatch.setenv("REPRO_BASELINES", str(folder))
    return folder


def set_default(papers, key, value):
    manifest = papers / "tiny" / "paper.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["config"][key] = value
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))


def test_baseline_then_regress_passes(tiny_papers, repro_home, baselines):
    made = run_repro("baseline", "tiny")
    assert made.returncode == 0, made.stderr
    stored = yaml.safe_load((baselines / "tiny" / "reimpl-quick.yml").read_text())
    assert [(r["setting"], r["seed"], r["metrics"]["score"]) for r in stored["runs"]] == [
        ("variant=a", 0, 1.0), ("variant=b", 0, 2.0)]
    assert stored["threads_per_run"] == 1 and stored["environment"]["device"] == "cpu"
    assert stored["tolerance"]["score"]["abs"] == 0.0  # CPU runs are deterministic

    checked = run_repro("regress", "tiny", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rows = json.loads(checked.stdout)["rows"]
    assert {row["status"] for row in rows} == {"PASS"} and len(rows) == 2 * 3  # 2 runs x 3 metrics


def test_a_better_number_fails_until_accepted(tiny_papers, repro_home, baselines):
    assert run_repro("baseline", "tiny").returncode == 0
    set_default(tiny_papers, "score", 1.5)  # the "code" now scores higher
    checked = run_repro("regress", "tiny")
    assert checked.returncode == 1
    assert "IMPROVED" in checked.stdout and "accepted on purpose" in checked.stdout
    assert "repro baseline tiny --impl reimpl --profile quick" in checked.stdout
    assert run_repro("baseline", "tiny").returncode == 0  # accept it
    assert run_repro("regress", "tiny").returncode == 0


def test_a_worse_number_fails(tiny_papers, repro_home, baselines):
    assert run_repro("baseline", "tiny").returncode == 0
    set_default(tiny_papers, "score", 0.5)
    checked = run_repro("regress", "tiny", "--md")
    assert checked.returncode == 1
    assert checked.stdout.startswith("## repro regress: FAILED")
    assert "| FAIL " in checked.stdout or "| FAIL" in checked.stdout  # a github markdown table


def test_missing_baseline_and_crashing_runs(tiny_papers, repro_home, baselines):
    missing = run_repro("regress", "tiny")
    assert missing.returncode == 1
    assert "NO BASELINE" in missing.stdout and "repro baseline tiny" in missing.stdout
    assert run_repro("baseline", "tiny").returncode == 0
    set_default(tiny_papers, "mode", "crash")
    crashed = run_repro("regress", "tiny", "--json")
    assert crashed.returncode == 3
    assert all(row["status"] == "FAIL" for row in json.loads(crashed.stdout)["rows"])
    refused = run_repro("baseline", "tiny")
    assert refused.returncode == 3 and "not writing a baseline" in refused.stderr


def test_diff_and_export_through_the_cli(tiny_papers, repro_home, baselines):
    assert run_repro("baseline", "tiny").returncode == 0
    set_default(tiny_papers, "score", 1.25)
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0  # 1.25: BETTER than 1.0 ± 0.1
    (latest,) = [r for r in json.loads(run_repro("runs", "tiny", "--json").stdout) if r["metrics"].get("score") == 1.25]
    against_baseline = run_repro("diff", latest["run_id"], "--baseline")
    assert against_baseline.returncode == 0, against_baseline.stderr
    assert "score" in against_baseline.stdout and "+0.25" in against_baseline.stdout
    assert "changed" in against_baseline.stdout  # config: score 1.0 -> 1.25
    assert run_repro("diff", latest["run_id"]).returncode == 2  # neither RUN_B nor --baseline

    exported = run_repro("export", "tiny", "--impl", "reimpl")
    assert exported.returncode == 0, exported.stderr
    entries = yaml.safe_load(exported.stdout)["model-index"]
    assert {entry["name"] for entry in entries} == {"tiny/a (reimpl)", "tiny/b (reimpl)"}
    assert run_repro("export", "tiny", "--impl", "nobody").returncode == 2


def test_speed_metrics_stay_out_of_baselines(tiny_papers, repro_home, baselines):
    """A metric the manifest names as speed (here the worker's thread count stands in for
    tokens/s) is in the run's record but not in the baseline, so it can never fail regress."""
    manifest = tiny_papers / "tiny" / "paper.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["speed_metrics"] = ["threads"]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_repro("baseline", "tiny").returncode == 0
    stored = yaml.safe_load((baselines / "tiny" / "reimpl-quick.yml").read_text())
    assert all(set(run["metrics"]) == {"score", "first_random"} for run in stored["runs"])
    assert "threads" not in stored["tolerance"]
    records = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert all("threads" in record["metrics"] for record in records)
    checked = run_repro("regress", "tiny", "--json")
    assert checked.returncode == 0 and len(json.loads(checked.stdout)["rows"]) == 2 * 2
