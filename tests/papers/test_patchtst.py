"""PatchTST (papers/patchtst): the manifest, the data protocol of the re-implementation, the
check's own `frozen` stage against the usual linear-probing mistakes, and the authors' code
through the adapter where it can be fetched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fetch_or_skip, paper_module, run_repro

PAPER = Path(__file__).resolve().parents[2] / "papers" / "patchtst"
PROBING = '        return torch.optim.Adam(freeze_backbone(model), lr=cfg["lr"])\n'


def test_manifest_claims_the_five_horizons_of_table_6(repro_home):
    shown = run_repro("show", "patchtst", "--json")
    assert shown.returncode == 0, shown.stderr
    paper = json.loads(shown.stdout)
    assert paper["reference"]["commit"] == "204c21efe0b39603ad6e2ca640ef5896646ab1a9"
    claims = {c["id"]: c for c in paper["claims"]}
    assert {claim["setting"]["target_points"] for claim in claims.values()} == {24, 48, 168, 336, 720}
    assert claims["etth1_24_mse"]["reported"] == 0.322 and claims["etth1_720_mae"]["reported"] == 0.478
    assert all("pic/table6.png" in claim["source"] for claim in claims.values())
    config = paper["config"]
    assert config["d_ff"] == 512 and config["finetune_mode"] == "linear_probe" and config["context_points"] == 512


def test_the_splits_and_patches_are_the_authors(shared_data):
    """12/4/4 months of 30 days, val and test starting 512 steps early; 42 patches of 12, the
    first 8 steps of the window dropped."""
    module = paper_module("patchtst")
    splits = module.load_etth1(shared_data / "etth1" / "ETTh1.csv", seq_len=512, pred_len=24)
    assert {name: len(windows) for name, windows in splits.items()} == {"train": 8105, "val": 2857, "test": 2857}
    x, y = splits["val"][0]
    assert x.shape == (512, 7) and y.shape == (24, 7)
    assert (splits["val"].values[:512] == splits["train"].values[-512:]).all()  # val's first input lies in train
    import torch

    series = torch.arange(512.0)[None, :, None].repeat(2, 1, 7)  # (2, 512, 7)
    patches = module.patchify(series, 12, 12)
    assert patches.shape == (2, 42, 7, 12) and patches[0, 0, 0, 0] == 8 and patches[0, -1, 0, -1] == 511


def _check(tmp_path, name: str, replacement: str):
    from repro.authoring.check import check
    from repro.catalog import load_paper

    source = (PAPER / "reimpl.py").read_text()
    assert source.count(PROBING) == 1
    path = tmp_path / f"{name}.py"
    path.write_text(source.replace(PROBING, replacement))
    return check(load_paper("patchtst"), str(path), claim_ids=["etth1_24_mse"])


BEFORE_FROZEN = [("interface", True), ("structure", True), ("forward", True)]
WHOLE_MODEL = '        freeze_backbone(model)\n        return torch.optim.Adam(model.parameters(), lr=cfg["lr"])\n'
FROZEN_TOO_LATE = ('        optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])\n'
                   '        freeze_backbone(model)\n        return optimizer\n')
NEVER_FROZEN = '        return torch.optim.Adam(model.head.parameters(), lr=cfg["lr"])\n'
HEAD_FROZEN = ('        freeze_backbone(model)\n        model.head.requires_grad_(False)\n'
               '        return torch.optim.Adam(model.head.parameters(), lr=cfg["lr"])\n')
BACKBONE_IN_EVAL = '        model.backbone.eval()\n' + PROBING


@pytest.mark.parametrize("name, replacement, detail, first_hint", [
    ("whole_model", WHOLE_MODEL, "the optimizer holds 51 backbone tensors", "model.head.parameters()"),
    ("frozen_too_late", FROZEN_TOO_LATE, "the optimizer holds 51 backbone tensors", "model.head.parameters()"),
    ("never_frozen", NEVER_FROZEN, "51 backbone tensors still have requires_grad=True", "freeze before building"),
    ("head_frozen", HEAD_FROZEN, "head parameters with requires_grad=False", "the head left frozen"),
    ("backbone_in_eval", BACKBONE_IN_EVAL, "in evaluation mode, the reference's in training mode",
     "the backbone in evaluation mode while probing"),
], ids=["whole_model", "frozen_too_late", "never_frozen", "head_frozen", "backbone_in_eval"])
def test_a_linear_probing_mistake_fails_the_frozen_stage(repro_home, tmp_path, name, replacement, detail, first_hint):
    """Each of the usual mistakes passes the stages before (the forward pass is right) and is
    stopped at `frozen`, with what was found and the hint that names it first."""
    stages = _check(tmp_path, name, replacement)
    assert [(s.name, s.passed) for s in stages] == [*BEFORE_FROZEN, ("frozen", False)], [s.to_dict() for s in stages]
    failed = stages[-1]
    assert any(detail in line for line in failed.details), failed.details
    assert first_hint in failed.hints[0], failed.hints


def test_the_backbone_in_evaluation_mode_names_the_layers(repro_home, tmp_path):
    failed = _check(tmp_path, "backbone_in_eval", BACKBONE_IN_EVAL)[-1]
    assert "step 1 in training mode" in failed.details[0]
    assert any("backbone.dropout: yours in evaluation mode" in line for line in failed.details), failed.details
    assert any("model.train() on the whole model" in hint for hint in failed.hints)


def test_reference_adapter_on_the_authors_code(repro_home, shared_data):
    """The quick profile through the authors' two scripts (where their commit can be fetched:
    a network, or a mirror through git's insteadOf; skipped offline) gives the
    re-implementation's numbers: the same weights, batches, masks and dropout draws."""
    fetch_or_skip("patchtst")
    for impl in ("reference", "reimpl"):
        result = run_repro("run", "patchtst", "--impl", impl, "--threads", "1", "--json")
        assert result.returncode in (0, 1), result.stderr
    records = {r["spec"]["impl"]: r for r in (json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json"))}
    assert {r["status"] for r in records.values()} == {"ok"}
    for metric in ("test_mse", "test_mae", "best_val_loss", "train_loss", "pretrain_val_loss"):
        ours, theirs = records["reimpl"]["metrics"][metric], records["reference"]["metrics"][metric]
        assert abs(ours - theirs) <= 1e-5 * abs(theirs), (metric, ours, theirs)
