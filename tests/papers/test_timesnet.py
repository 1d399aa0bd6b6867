"""TimesNet (papers/timesnet): the manifest, the data protocol of the re-implementation, the
check's own period stage, and the authors' code through the adapter where it can be fetched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fetch_or_skip, paper_module, run_repro

PAPER = Path(__file__).resolve().parents[2] / "papers" / "timesnet"


def test_manifest_claims_the_four_horizons_at_the_scripts_settings(repro_home):
    shown = run_repro("show", "timesnet", "--json")
    assert shown.returncode == 0, shown.stderr
    paper = json.loads(shown.stdout)
    assert paper["reference"]["commit"] == "5e2e8874a5492a7997a5e0e79d7e5ba997888737"
    claims = {c["id"]: c for c in paper["claims"]}
    assert {claim["setting"]["pred_len"] for claim in claims.values()} == {96, 192, 336, 720}
    assert claims["etth1_96_mse"]["reported"] == 0.384 and claims["etth1_720_mae"]["reported"] == 0.500
    assert all("unverified" in claim["source"] for claim in claims.values())  # read from a copy of the table
    assert paper["config"]["d_model"] == 16 and paper["config"]["top_k"] == 5


def test_the_splits_are_the_librarys(shared_data):
    """12/4/4 months of 30 days, val and test starting seq_len early, scaled by train's statistics."""
    splits = paper_module("timesnet").load_etth1(shared_data / "etth1" / "ETTh1.csv", seq_len=96, label_len=48, pred_len=96)
    assert {name: len(windows) for name, windows in splits.items()} == {"train": 8449, "val": 2785, "test": 2785}
    train = splits["train"].values
    assert abs(train.mean(0)).max() < 1e-9 and abs(train.std(0) - 1).max() < 1e-9
    x, y, x_mark, y_mark = splits["val"][0]
    assert x.shape == (96, 7) and y.shape == (48 + 96, 7) and x_mark.shape == (96, 4)
    assert (y[:48] == x[-48:]).all()  # the label part is the end of the input
    assert (splits["val"].values[:96] == train[-96:]).all()  # val's first input lies in train


def test_a_period_detection_that_keeps_the_mean_fails_the_papers_own_stage(repro_home, tmp_path):
    from repro.authoring.check import check
    from repro.catalog import load_paper

    wrong = tmp_path / "keeps_the_mean.py"
    source = (PAPER / "reimpl.py").read_text()
    assert "    spectrum[0] = 0\n" in source
    wrong.write_text(source.replace("    spectrum[0] = 0\n", ""))
    with pytest.warns(RuntimeWarning):  # frequency 0 wins: a "period" of T // 0
        stages = check(load_paper("timesnet"), str(wrong), claim_ids=["etth1_96_mse"])
    assert [(s.name, s.passed) for s in stages] == [("interface", True), ("structure", True), ("periods", False)]
    failed = stages[-1]
    assert "your periods [0, 48, 24, 12, 64]" in failed.details[0] and "the reference's [48, 24, 12, 64, 32]" in failed.details[0]
    assert "frequency 0 zeroed" in failed.hints[0]


def test_reference_adapter_on_the_authors_code(repro_home, shared_data):
    """The quick profile through the authors' run.py (where its commit can be fetched: a
    network, or a mirror through git's insteadOf; skipped offline) gives the re-implementation's
    numbers: the same weights, batches and dropout draws, up to float rounding."""
    fetch_or_skip("timesnet")
    for impl in ("reference", "reimpl"):
        result = run_repro("run", "timesnet", "--impl", impl, "--threads", "1", "--json")
        assert result.returncode in (0, 1), result.stderr
    records = {r["spec"]["impl"]: r for r in (json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json"))}
    assert {r["status"] for r in records.values()} == {"ok"}
    for metric in ("test_mse", "test_mae", "best_val_loss", "train_loss"):
        ours, theirs = records["reimpl"]["metrics"][metric], records["reference"]["metrics"][metric]
        assert abs(ours - theirs) <= 1e-5 * abs(theirs), (metric, ours, theirs)


def test_the_calendar_variant_folds_by_a_day_and_a_week_and_trains():
    """papers/timesnet/variants/calendar_periods.py: two fixed periods, each sample's weights
    from its own spectrum, the rest of TimesNet unchanged."""
    import torch

    variant = paper_module("timesnet", "variants/calendar_periods.py")
    cfg = {**json.loads(run_repro("show", "timesnet", "--json").stdout)["config"]}
    model = variant.build_model(cfg)
    assert all(isinstance(block, variant.CalendarBlock) for block in model.blocks)
    h = torch.randn(3, cfg["seq_len"] + cfg["pred_len"], cfg["d_model"])
    periods, weights = model.blocks[0].periods(h)
    assert list(periods) == [24, 168] and weights.shape == (3, 2)
    spectrum = torch.fft.rfft(h, dim=1).abs().mean(-1)  # (3, 97): frequencies 8 (a day) and 1 (a week) in 192 steps
    assert torch.equal(weights, spectrum[:, [8, 1]])
    x, marks = torch.randn(4, cfg["seq_len"], 7), torch.randn(4, cfg["seq_len"], 4)
    assert model(x, marks).shape == (4, cfg["seq_len"] + cfg["pred_len"], 7)
    reimpl = paper_module("timesnet")
    loss = reimpl.train_step(model.train(), reimpl.make_optimizer(model, cfg), (x, marks), torch.randn(4, 96, 7))
    assert loss > 0
