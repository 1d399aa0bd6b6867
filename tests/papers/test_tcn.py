"""TCN on polyphonic music: the manifest, the re-implementation's architecture, the adapter on
the authors' code where it can be fetched, and `repro check` without a baseline."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, fetch_or_skip, run_repro

PAPER = REPO / "papers" / "tcn"


@pytest.fixture(scope="module")
def reimpl():
    from repro.worker.imports import import_file

    return import_file(PAPER / "reimpl.py", "tcn_reimpl")  # a name of its own: every paper has a reimpl.py


def config(**setting):
    from repro.catalog import load_paper

    return {**load_paper("tcn").config, **setting}


# Parameter counts of the authors' TCN(88, 88, [150] * levels, ksize, dropout) from
# TCN/poly_music/model.py at the pinned commit, counted here with this torch.
@pytest.mark.parametrize("setting, params", [
    ({"ksize": 3, "levels": 2}, 269_938),   # the paper's JSB setting
    ({}, 882_538),                           # music_test.py's defaults
    ({"ksize": 6, "levels": 4}, 1_053_238),  # the paper's Nottingham setting
])
def test_reimpl_has_the_authors_sizes(reimpl, setting, params):
    import torch

    model = reimpl.build_model(config(**setting))
    assert sum(p.numel() for p in model.parameters()) == params
    assert model(torch.zeros(1, 30, 88)).shape == (1, 30, 88)  # (batch, time, keys) in and out


def test_reimpl_is_causal(reimpl):
    """The output at time t may depend on frames up to t only: change the future, not the past."""
    import torch

    model = reimpl.build_model(config(ksize=3, levels=2)).eval()
    x = (torch.rand(1, 40, 88) > 0.9).float()  # (batch, time, keys)
    changed = x.clone()
    changed[:, 25:] = 1 - changed[:, 25:]
    with torch.no_grad():
        before, after = model(x), model(changed)
    assert torch.equal(before[:, :25], after[:, :25])
    assert not torch.equal(before[:, 25:], after[:, 25:])


def test_show_names_the_papers_settings_and_data():
    shown = run_repro("show", "tcn", "--json")
    assert shown.returncode == 0, shown.stderr
    paper = json.loads(shown.stdout)
    assert paper["reference"]["commit"] == "2f8c2b817050206397458dfd1f5a25ce8a32fe65"
    assert [d["name"] for d in paper["data"]] == ["JSB_Chorales.mat", "Nottingham.mat"]
    claims = {c["id"]: c for c in paper["claims"]}
    assert claims["jsb_test_nll"]["reported"] == 8.10 and claims["nott_test_nll"]["reported"] == 3.07
    assert claims["jsb_test_nll"]["setting"]["ksize"] == 3 and claims["jsb_test_nll_code_defaults"]["setting"] == {
        "data": "JSB"}
    assert {"quick", "jsb", "full"} <= set(paper["profiles"])


def test_reference_adapter_on_the_authors_code(repro_home, shared_data):
    """One epoch of the authors' music_test.py through the adapter, where its commit can be
    fetched (a network, or a mirror through git's insteadOf); skipped offline."""
    fetch_or_skip("tcn")
    result = run_repro("run", "tcn", "--impl", "reference", "--set", "epochs=1", "--json")
    assert result.returncode in (0, 1), result.stderr
    (record,) = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert record["status"] == "ok"
    assert set(record["metrics"]) == {"test_nll", "valid_nll", "final_test_nll", "train_nll"}
    assert record["metrics"]["test_nll"] == record["metrics"]["final_test_nll"]  # one epoch: the best is the last


def test_check_without_a_baseline_runs_the_reference_and_says_a_missing_one_is_not_the_students_code(
        repro_home, shared_data, tmp_path, monkeypatch):
    from repro.authoring.check import check
    from repro.catalog import load_paper

    monkeypatch.setenv("REPRO_BASELINES", str(tmp_path / "no-baselines"))
    copy = tmp_path / "copy.py"
    copy.write_text((PAPER / "reimpl.py").read_text())
    quick = check(load_paper("tcn"), str(copy))[-1]  # no baseline needed: the reference runs now
    assert quick.name == "quick" and quick.passed and "run now on this machine (identical)" in quick.details[0]
    stored = check(load_paper("tcn"), str(copy), stored_baseline=True)[-1]
    assert stored.name == "quick" and not stored.passed
    assert stored.hints and stored.hints[0].startswith("not your code") and "repro baseline tcn --impl reimpl" in stored.hints[0]
