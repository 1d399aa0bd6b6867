"""The built-in paper, MNIST-1D: its manifest, its re-implementation and a real quick run."""

from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import REPO, run_repro

PAPER = REPO / "papers" / "mnist1d"


@pytest.fixture(scope="module")
def reimpl():
    from repro.worker.imports import import_file

    return import_file(PAPER / "reimpl.py", "mnist1d_reimpl")  # a name of its own: every paper has a reimpl.py


# Parameter counts printed by the authors' notebooks/models.py at the pinned commit
# ("Initialized ConvBase model with 5210 parameters", ...): the same architectures.
@pytest.mark.parametrize("model, params", [("logistic", 410), ("mlp", 15210), ("cnn", 5210), ("gru", 5134)])
def test_reimpl_models_have_the_papers_sizes(reimpl, model, params):
    import torch

    net = reimpl.build_model({"model": model})
    assert sum(p.numel() for p in net.parameters()) == params
    assert net(torch.zeros(7, 40)).shape == (7, 10)  # (batch, length) -> (batch, classes)


def test_list_and_show():
    listing = run_repro("list", "--json")
    assert listing.returncode == 0
    (entry,) = [p for p in json.loads(listing.stdout) if p["id"] == "mnist1d"]
    assert entry["claims"] == 4 and "reimpl" in entry["implementations"] and entry["year"] == 2024
    shown = run_repro("show", "mnist1d")
    assert shown.returncode == 0
    for text in ("7878d96082abd200c546a07a4101fa90b30fdf7e", "README table", "quick", "full", "reimpl"):
        assert text in shown.stdout


def test_quick_profile_through_the_cli(repro_home):
    """The README's main command, for real: four models, 2000 steps, one seed each."""
    result = run_repro("run", "mnist1d", "--jobs", "2", "--json")
    assert result.returncode in (0, 1), result.stderr  # verdicts vary; no run may fail
    out = json.loads(result.stdout)
    assert out["profile"] == "quick" and out["paper_protocol"] is False
    assert [c["claim_id"] for c in out["claims"]] == ["logistic_test_acc", "mlp_test_acc", "cnn_test_acc", "gru_test_acc"]
    accuracies = {c["claim_id"]: c["stats"]["mean"] for c in out["claims"]}
    # Loose sanity bands (not the paper's claims): the models learned, in the paper's order.
    assert 20 < accuracies["logistic_test_acc"] < 45
    assert accuracies["logistic_test_acc"] < accuracies["mlp_test_acc"] < accuracies["cnn_test_acc"]
    assert accuracies["cnn_test_acc"] > 80 and accuracies["gru_test_acc"] > 70
    for claim in out["claims"]:
        delta, band = claim["stats"]["mean"] - claim["reported"], claim["band"]
        expected = "REPRODUCED" if abs(delta) <= band else ("BETTER" if delta > 0 else "WORSE")
        assert claim["verdict"] == expected  # n = 1: the mean alone decides
    assert result.returncode == (1 if any(c["verdict"] == "WORSE" for c in out["claims"]) else 0)

    records = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    for r in records:
        steps = [step for step, _ in r["curves"]["test_acc"]]
        assert steps == list(range(250, 2001, 250))
        assert r["environment"]["torch_threads"] == max(1, (os.cpu_count() or 1) // 2)  # 2 jobs share the cores

    table = run_repro("runs", "mnist1d")
    assert table.returncode == 0 and table.stdout.count("mnist1d") >= 4


def test_output_piped_into_head_is_not_an_error():
    """`repro show mnist1d | head -1`: the reader leaves before repro writes; no traceback, exit 0."""
    import subprocess

    process = subprocess.Popen([sys.executable, "-m", "repro", "show", "mnist1d"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    process.stdout.close()  # the reader is gone before the first write (start-up takes far longer)
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0 and "Traceback" not in stderr, stderr
