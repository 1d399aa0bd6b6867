"""nanoGPT on Shakespeare characters: the manifest, the re-implementation's size, the GPU
profile end to end on a CPU with a tiny override, and the adapter on the authors' code where
it can be fetched."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, fetch_or_skip, run_repro

PAPER = REPO / "papers" / "nanogpt"

# The README's GPU profile, shrunk to seconds on a CPU: 3 optimizer steps, tiny batches.
TINY = ["--set", "max_iters=2", "--set", "lr_decay_iters=2", "--set", "warmup_iters=1", "--set", "eval_interval=1",
        "--set", "eval_iters=1", "--set", "batch_size=2", "--set", "block_size=32", "--set", "compile=false"]


@pytest.fixture(scope="module")
def reimpl():
    from repro.worker.imports import import_file

    return import_file(PAPER / "reimpl.py", "nanogpt_reimpl")  # a name of its own: every paper has a reimpl.py


def config(profile: str) -> dict:
    from repro.catalog import load_paper

    paper = load_paper("nanogpt")
    return {**paper.config, **paper.profiles[profile].config}


# train.py prints "number of parameters: 10.65M" (gpu) and "0.80M" (cpu): model.py's count,
# which leaves out the position embeddings (block_size x n_embd).
@pytest.mark.parametrize("profile, millions", [("gpu", 10.65), ("cpu", 0.80)])
def test_reimpl_has_the_authors_sizes(reimpl, profile, millions):
    cfg = config(profile)
    model = reimpl.build_model(cfg)
    count = sum(p.numel() for p in model.parameters()) - cfg["block_size"] * cfg["n_embd"]
    assert round(count / 1e6, 2) == millions


def test_show_lists_the_three_profiles():
    shown = run_repro("show", "nanogpt")
    assert shown.returncode == 0, shown.stderr
    for text in ("3adf61e154c3fe3fca428ad6bc3818b27a3b8291", "quick", "cpu", "gpu", "not measured", "1.4697"):
        assert text in shown.stdout


def test_gpu_profile_runs_end_to_end_on_a_cpu_with_a_tiny_override(repro_home, shared_data):
    result = run_repro("run", "nanogpt", "--profile", "gpu", "--device", "cpu", *TINY, "--json")
    assert result.returncode in (0, 1), result.stderr
    out = json.loads(result.stdout)
    assert [c["claim_id"] for c in out["claims"]] == ["gpu_best_val_loss"]
    (record,) = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert record["status"] == "ok" and record["spec"]["config"]["n_layer"] == 6
    assert {"best_val_loss", "seconds_to_best_val", "tokens_per_s"} <= set(record["metrics"])


def test_reference_adapter_on_the_authors_code(repro_home, shared_data):
    """40 iterations of the authors' train.py through the adapter, where its commit can be
    fetched (a network, or a mirror through git's insteadOf); skipped offline."""
    fetch_or_skip("nanogpt")
    result = run_repro("run", "nanogpt", "--impl", "reference", "--set", "max_iters=40", "--set", "lr_decay_iters=40",
                       "--set", "eval_interval=20", "--set", "eval_iters=2", "--json")
    assert result.returncode in (0, 1), result.stderr
    (record,) = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert record["status"] == "ok"
    assert [step for step, _ in record["curves"]["val_loss"]] == [0, 20, 40]
    assert record["metrics"]["best_val_loss"] == min(value for _, value in record["curves"]["val_loss"])
    assert record["metrics"]["tokens_per_s"] > 0  # from iteration 30's time: 10 and 20, 40 hold compile or eval
