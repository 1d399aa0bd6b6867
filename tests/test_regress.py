"""`repro baseline` and `repro regress` through the CLI, on the tiny test paper."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from conftest import run_repro


@pytest.fixture
def baselines(tmp_path, monkeypatch):
    folder = tmp_path / "baselines"
    monkeypatch.setenv("REPRO_BASELINES", str(folder))
    return folder


# two seeds are enough for the tiny paper (its spread is 0.01 x seed by construction); the
# numerics perturbations are measured only where a test is about another machine
BASELINE = ("baseline", "tiny", "--noise-seeds", "2", "--no-numerics")
PORTABLE_BASELINE = ("baseline", "tiny", "--noise-seeds", "2")


def set_default(papers, key, value):
    manifest = papers / "tiny" / "paper.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["config"][key] = value
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))


def test_baseline_then_regress_passes(tiny_papers, repro_home, baselines):
    made = run_repro(*BASELINE)
    assert made.returncode == 0, made.stderr
    stored = yaml.safe_load((baselines / "tiny" / "reimpl-quick.yml").read_text())
    assert [(r["setting"], r["seed"], r["metrics"]["score"]) for r in stored["runs"]] == [
        ("variant=a", 0, 1.0), ("variant=b", 0, 2.0)]
    assert stored["threads_per_run"] == 1 and stored["environment"]["device"] == "cpu"
    assert stored["tolerance"]["score"]["abs"] == 0.0  # CPU runs are deterministic on one machine
    assert stored["fingerprint_id"] == stored["environment"]["numerics_id"]
    assert "torch 2." in stored["machine"] and "1 thread" in stored["machine"]
    # the portable tolerance, measured: score = default + 0.01 x seed moves with the seed only
    measured = stored["portable"]["settings"]["variant=a"]["score"]
    assert measured["over_seeds"] == {0: 1.0, 1: 1.01}
    assert measured["sd_numerics"] is None and stored["portable"]["environments"] == {}  # --no-numerics
    assert measured["abs"] == pytest.approx(5 * 0.01 / 2 ** 0.5, rel=1e-4)

    checked = run_repro("regress", "tiny", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rows = json.loads(checked.stdout)["rows"]
    assert {row["status"] for row in rows} == {"PASS"} and len(rows) == 2 * 4  # 2 runs x (3 metrics + loss@1)
    assert {row["mode"] for row in rows} == {"exact"}


def test_a_better_number_fails_until_accepted(tiny_papers, repro_home, baselines):
    assert run_repro(*BASELINE).returncode == 0
    set_default(tiny_papers, "score", 1.5)  # the "code" now scores higher
    checked = run_repro("regress", "tiny")
    assert checked.returncode == 1
    assert "IMPROVED" in checked.stdout and "accepted on purpose" in checked.stdout
    assert "repro baseline tiny --impl reimpl --profile quick" in checked.stdout
    assert run_repro(*BASELINE).returncode == 0  # accept it
    assert run_repro("regress", "tiny").returncode == 0


def test_a_worse_number_fails(tiny_papers, repro_home, baselines):
    assert run_repro(*BASELINE).returncode == 0
    set_default(tiny_papers, "score", 0.5)
    checked = run_repro("regress", "tiny", "--md")
    assert checked.returncode == 1
    assert checked.stdout.startswith("## repro regress: FAILED")
    assert "| FAIL " in checked.stdout or "| FAIL" in checked.stdout  # a github markdown table


def test_missing_baseline_and_crashing_runs(tiny_papers, repro_home, baselines):
    missing = run_repro("regress", "tiny")
    assert missing.returncode == 1
    assert "NO BASELINE" in missing.stdout and "repro baseline tiny" in missing.stdout
    assert run_repro(*BASELINE).returncode == 0
    set_default(tiny_papers, "mode", "crash")
    crashed = run_repro("regress", "tiny", "--json")
    assert crashed.returncode == 3
    assert all(row["status"] == "FAIL" for row in json.loads(crashed.stdout)["rows"])
    refused = run_repro(*BASELINE)
    assert refused.returncode == 3 and "not writing a baseline" in refused.stderr


def test_diff_and_export_through_the_cli(tiny_papers, repro_home, baselines):
    assert run_repro(*BASELINE).returncode == 0
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
    assert run_repro(*BASELINE).returncode == 0
    stored = yaml.safe_load((baselines / "tiny" / "reimpl-quick.yml").read_text())
    assert all(set(run["metrics"]) == {"score", "first_random"} for run in stored["runs"])
    assert "threads" not in stored["tolerance"]
    records = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert all("threads" in record["metrics"] for record in records)
    checked = run_repro("regress", "tiny", "--json")
    assert checked.returncode == 0 and len(json.loads(checked.stdout)["rows"]) == 2 * 3  # score, first_random, loss@1


def test_the_exact_mode_catches_a_one_ulp_change(tiny_papers, repro_home, baselines):
    """Same machine, same fingerprint: a change in the last bit of a number is a change."""
    assert run_repro(*BASELINE).returncode == 0
    set_default(tiny_papers, "score", math.nextafter(1.0, 2.0))  # 1.0000000000000002
    checked = run_repro("regress", "tiny", "--json")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    rows = {row["setting"]: row for row in json.loads(checked.stdout)["rows"] if row["metric"] == "score"}
    assert (rows["variant=a"]["mode"], rows["variant=a"]["status"]) == ("exact", "IMPROVED")
    assert rows["variant=a"]["delta"] == math.ulp(1.0)
    # variant b scores 1.0000000000000002 + 1.0, which rounds to 2.0: the same bits, so it passes
    assert (rows["variant=b"]["mode"], rows["variant=b"]["status"]) == ("exact", "PASS")


def test_another_machine_is_compared_within_the_measured_spread(tiny_papers, repro_home, baselines, monkeypatch):
    """ATEN_CPU_CAPABILITY=default in the workers gives another numerics fingerprint, as
    another CPU type would: the comparison is portable, within 5 x the measured spread."""
    made = run_repro(*PORTABLE_BASELINE)
    assert made.returncode == 0, made.stderr
    stored = yaml.safe_load((baselines / "tiny" / "reimpl-quick.yml").read_text())
    # pure python: no kernel moves the score (and a CPU without AVX2 has no perturbation to apply)
    measured = stored["portable"]["settings"]["variant=a"]["score"]
    assert measured["sd_numerics"] == (0.0 if stored["portable"]["environments"] else None)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    checked = run_repro("regress", "tiny", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = json.loads(checked.stdout)
    assert {(row["mode"], row["status"]) for row in result["rows"]} == {("portable", "PASS")}
    assert "portable: the baseline is from" in result["notes"][0] and "ATEN_CPU_CAPABILITY" in result["notes"][0]
    text = run_repro("regress", "tiny").stdout
    assert "portable: 5 x sd" in text and "tolerance measured on the machine above" in text

    set_default(tiny_papers, "score", 1.02)  # inside the spread the seeds give (0.01 a seed): not evidence
    assert run_repro("regress", "tiny").returncode == 0
    set_default(tiny_papers, "score", 0.5)  # far outside it
    failed = run_repro("regress", "tiny", "--json")
    assert failed.returncode == 1
    scores = [row for row in json.loads(failed.stdout)["rows"] if row["metric"] == "score"]
    assert {(row["mode"], row["status"]) for row in scores} == {("portable", "FAIL")}


def test_add_machine_keeps_another_machines_exact_numbers(tiny_papers, repro_home, baselines, monkeypatch):
    assert run_repro(*BASELINE).returncode == 0
    same = run_repro("baseline", "tiny", "--add-machine")
    assert same.returncode == 2 and "made" in same.stderr and "Traceback" not in same.stderr

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    added = run_repro("baseline", "tiny", "--add-machine")
    assert added.returncode == 0, added.stderr
    (machine_file,) = (baselines / "tiny").glob("reimpl-quick.*.yml")
    assert "portable" not in yaml.safe_load(machine_file.read_text())
    checked = run_repro("regress", "tiny", "--json")
    assert {row["mode"] for row in json.loads(checked.stdout)["rows"]} == {"exact"}

    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    remade = run_repro(*BASELINE)  # new numbers: the other machine's file is stale, and goes
    assert remade.returncode == 0 and f"removed {machine_file}" in remade.stdout
    assert not machine_file.exists()


def test_noise_measures_the_spread_over_seeds_and_numerics(tiny_papers, repro_home):
    measured = run_repro("noise", "tiny", "--seeds", "3", "--json")
    assert measured.returncode == 0, measured.stderr
    data = json.loads(measured.stdout)
    (score_a,) = [m for m in data["metrics"] if m["setting"] == "variant=a" and m["metric"] == "score"]
    assert score_a["over_seeds"] == {"0": 1.0, "1": 1.01, "2": 1.02}
    assert score_a["sd_seeds"] == pytest.approx(0.01)
    # pure python: no kernel changes anything (no perturbation on a CPU without AVX2: no sd)
    assert score_a["sd_numerics"] == (0.0 if data["environments"] else None)
    assert set(score_a["over_numerics"]) == {"native", *data["environments"]}
    assert score_a["portable_tolerance"] == pytest.approx(0.05)

    text = run_repro("noise", "tiny", "--seeds", "2", "--no-numerics")
    assert text.returncode == 0, text.stderr
    assert "sd over seeds" in text.stdout and "suggested band (mean of 2)" in text.stdout
    for bad in (("--seeds", "1"), ("--profile", "nope"), ("--impl", "nobody")):
        refused = run_repro("noise", "tiny", *bad)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, (bad, refused.stderr)
