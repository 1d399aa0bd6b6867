"""Every paper of the catalog, the same way: its manifest shown, its quick profile run for
real through the CLI, and a copy of its re-implementation passing every `repro check`
stage against the committed baseline. What only one paper has (model sizes, causality, the
GPU profile, the adapter on the authors' code) is in test_<paper>.py beside this file.

A new paper gets these tests by adding its folder; QUICK says what its quick run must show.
A paper with only the authors' code so far (no reimpl.py) runs its reference's quick profile
where the code can be fetched (a network, or a mirror), and has no copy to check.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from conftest import REPO, check_against_baseline, fetch_or_skip, run_repro

PAPERS = sorted(p.name for p in (REPO / "papers").iterdir() if (p / "paper.yaml").is_file())
STAGES = [("interface", True), ("structure", True), ("forward", True), ("step", True), ("overfit", True),
          ("quick", True)]


def _mnist1d(out: dict, records: list[dict]) -> None:
    """Four models, 2000 steps, one seed each, two at once: learned, in the paper's order."""
    accuracies = {c["claim_id"]: c["stats"]["mean"] for c in out["claims"]}
    assert list(accuracies) == ["logistic_test_acc", "mlp_test_acc", "cnn_test_acc", "gru_test_acc"]
    assert 20 < accuracies["logistic_test_acc"] < 45  # loose sanity bands, not the paper's claims
    assert accuracies["logistic_test_acc"] < accuracies["mlp_test_acc"] < accuracies["cnn_test_acc"]
    assert accuracies["cnn_test_acc"] > 80 and accuracies["gru_test_acc"] > 70
    for record in records:
        assert [step for step, _ in record["curves"]["test_acc"]] == list(range(250, 2001, 250))
        assert record["environment"]["torch_threads"] == max(1, (os.cpu_count() or 1) // 2)  # 2 jobs share the cores


def _tcn(out: dict, records: list[dict]) -> None:
    """Three epochs from scratch: far from the paper's 8.10, far below the untrained ~61 nats."""
    (claim,) = out["claims"]
    assert claim["claim_id"] == "jsb_test_nll" and 8.0 < claim["stats"]["mean"] < 12.0
    (record,) = records
    assert [step for step, _ in record["curves"]["valid_nll"]] == [1, 2, 3]
    assert record["metrics"]["valid_nll"] <= min(value for _, value in record["curves"]["valid_nll"])


def _nanogpt(out: dict, records: list[dict]) -> None:
    """250 iterations: learned from ln(65) = 4.17, far from the paper's 1.88."""
    (claim,) = out["claims"]
    assert claim["claim_id"] == "cpu_val_loss" and 2.0 < claim["stats"]["mean"] < 3.0
    (record,) = records
    assert [step for step, _ in record["curves"]["val_loss"]] == [0, 250]
    assert record["metrics"]["best_val_loss"] == record["metrics"]["val_loss"]


def _timesnet(out: dict, records: list[dict]) -> None:
    """Four batches of one epoch: far from the paper's 0.384, one record for both claims."""
    assert [c["claim_id"] for c in out["claims"]] == ["etth1_96_mse", "etth1_96_mae"]
    mse, mae = (c["stats"]["mean"] for c in out["claims"])
    assert 0.5 < mse < 3.0 and 0.4 < mae < 1.5 and mae < mse  # errors above 1 sd square up
    (record,) = records
    assert [step for step, _ in record["curves"]["val_loss"]] == [1]
    assert record["metrics"]["best_val_loss"] == record["curves"]["val_loss"][0][1]


def _patchtst(out: dict, records: list[dict]) -> None:
    """Four batches of pre-training, four of probing: far from the paper's 0.322, one record
    for both claims, both phases' curves."""
    assert [c["claim_id"] for c in out["claims"]] == ["etth1_24_mse", "etth1_24_mae"]
    mse, mae = (c["stats"]["mean"] for c in out["claims"])
    assert 0.5 < mse < 3.0 and 0.4 < mae < 1.5
    (record,) = records
    assert [step for step, _ in record["curves"]["pretrain_val_loss"]] == [1]
    assert [step for step, _ in record["curves"]["probe_val_loss"]] == [2]
    assert record["metrics"]["best_val_loss"] == record["curves"]["probe_val_loss"][0][1]


QUICK = {"mnist1d": _mnist1d, "tcn": _tcn, "nanogpt": _nanogpt, "timesnet": _timesnet, "patchtst": _patchtst}


@pytest.mark.parametrize("paper_id", PAPERS)
def test_list_and_show(paper_id):
    listing = run_repro("list", "--json")
    assert listing.returncode == 0, listing.stderr
    (entry,) = [p for p in json.loads(listing.stdout) if p["id"] == paper_id]
    assert entry["implementations"], f"{paper_id} has no implementation (reimpl.py or reference.py) yet"
    shown = run_repro("show", paper_id, "--json")
    assert shown.returncode == 0, shown.stderr
    paper = json.loads(shown.stdout)
    assert len(paper["reference"]["commit"]) == 40 and {"quick"} <= set(paper["profiles"])
    assert all(len(claim["source"]) >= 3 for claim in paper["claims"])  # each claim says where the paper reports it
    text = run_repro("show", paper_id)
    assert text.returncode == 0 and paper["reference"]["commit"] in text.stdout and "quick" in text.stdout


@pytest.mark.parametrize("paper_id", PAPERS)
def test_quick_profile_through_the_cli(paper_id, repro_home, shared_data, data_regression, request):
    """The README's main command on each paper, for real; verdicts vary by machine, no run may
    fail. Its runs are also the regression gate: they must match the committed baseline
    (exactly on the machine that made it, else within its measured spread)."""
    from repro.catalog import load_paper
    from repro.records import list_records

    assert paper_id in QUICK, f"add what {paper_id}'s quick run must show to QUICK"
    impl = "reimpl" if (REPO / "papers" / paper_id / "reimpl.py").is_file() else "reference"
    if impl == "reference":
        fetch_or_skip(paper_id)
    result = run_repro("run", paper_id, "--impl", impl, "--jobs", "2", "--json")
    assert result.returncode in (0, 1), result.stderr
    out = json.loads(result.stdout)
    assert out["profile"] == "quick" and out["paper_protocol"] is False
    higher = {claim.id: claim.direction == "higher" for claim in load_paper(paper_id).claims}
    for claim in out["claims"]:
        delta, band = claim["stats"]["mean"] - claim["reported"], claim["band"]
        expected = "REPRODUCED" if abs(delta) <= band else ("BETTER" if (delta > 0) == higher[claim["claim_id"]] else "WORSE")
        assert claim["stats"]["n"] > 1 or claim["verdict"] == expected  # n = 1: the mean alone decides
    assert result.returncode == (1 if any(c["verdict"] in ("WORSE", "INCONCLUSIVE") for c in out["claims"]) else 0)
    records = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert records and all(r["status"] == "ok" for r in records)
    QUICK[paper_id](out, records)
    table = run_repro("runs", paper_id)
    assert table.returncode == 0 and table.stdout.count(paper_id) >= len(records)
    check_against_baseline(load_paper(paper_id), impl, list_records(paper_id), data_regression, request)


@pytest.mark.parametrize("paper_id", PAPERS)
def test_check_passes_a_copy_of_the_reimplementation(paper_id, repro_home, shared_data, tmp_path):
    from repro.authoring.check import check, stage_plan
    from repro.catalog import load_paper
    from repro.plan import select_claims

    reimpl = REPO / "papers" / paper_id / "reimpl.py"
    if not reimpl.is_file():
        pytest.skip(f"{paper_id} has no re-implementation yet: nothing to check a copy of")
    copy = tmp_path / "copy.py"
    copy.write_text(reimpl.read_text())
    paper = load_paper(paper_id)
    first = select_claims(paper, "quick", None)[0].id  # one claim's runs: the other stages are the same code
    stages = check(paper, str(copy), claim_ids=[first], stored_baseline=True)  # the reference's runs: committed
    planned = [(name, True) for name in stage_plan(paper, full=False)]  # the built-in stages and the paper's own
    assert [name for name, _ in STAGES] == [name for name, _ in planned if name in dict(STAGES)]
    assert [(s.name, s.passed) for s in stages] == planned, [s.to_dict() for s in stages if not s.passed]


def test_a_stored_number_from_another_machine_is_said_to_be_one(repro_home, shared_data, tmp_path, monkeypatch):
    """--stored-baseline on "another machine" (ATen's kernels capped): the quick stage uses the
    committed baseline instead of running the reference, and says where the number comes from
    and which tolerance that allows (the spread measured across machines)."""
    from repro.authoring.check import check
    from repro.catalog import load_paper

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    copy = tmp_path / "copy.py"
    copy.write_text((REPO / "papers" / "tcn" / "reimpl.py").read_text())
    stages = check(load_paper("tcn"), str(copy), stored_baseline=True)
    assert [(s.name, s.passed) for s in stages] == STAGES, [s.to_dict() for s in stages if not s.passed]
    (line,) = stages[-1].details
    made_on = yaml.safe_load((REPO / "baselines" / "tcn" / "reimpl-quick.yml").read_text())["machine"]
    assert f"stored on another machine ({made_on})" in line, line


@pytest.mark.parametrize("paper_id", PAPERS)
def test_the_student_template_checks_its_interface_and_stops_at_the_first_todo(paper_id, repro_home, tmp_path):
    """`repro impl new` (its library call) gives a file whose functions all exist (the interface stage passes)
    and whose first TODO is where the check stops, with the line that raised."""
    from repro.authoring.check import check
    from repro.authoring.students import new_student_impl
    from repro.catalog import load_paper

    if not (REPO / "papers" / paper_id / "student_template.py").is_file():
        pytest.skip(f"{paper_id} has no student template yet")
    paper = load_paper(paper_id)
    target = new_student_impl(paper, "ada", tmp_path / "ada.py")
    stages = check(paper, str(target))
    assert [(s.name, s.passed) for s in stages] == [("interface", True), ("structure", False)]
    assert "NotImplementedError" in stages[-1].details[0] and "ada.py" in stages[-1].details[0]
