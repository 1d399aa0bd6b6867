"""The built-in paper, MNIST-1D: its manifest, its re-implementation's sizes, and the adapter on
the authors' code where it can be fetched (test_catalog.py runs its quick profile)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import REPO, fetch_or_skip, paper_module, run_repro

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


def test_show_names_the_pinned_commit_and_where_each_claim_is_reported():
    listing = run_repro("list", "--json")
    (entry,) = [p for p in json.loads(listing.stdout) if p["id"] == "mnist1d"]
    assert entry["claims"] == 4 and entry["year"] == 2024
    shown = run_repro("show", "mnist1d")
    assert shown.returncode == 0
    for text in ("7878d96082abd200c546a07a4101fa90b30fdf7e", "README table", "quick", "full", "reimpl"):
        assert text in shown.stdout


def test_reference_adapter_on_the_authors_code(repro_home):
    """500 steps of the authors' train_model (notebooks/train.py) through the import-style
    adapter (ctx.import_source, ctx.reference_commit), where the pinned commit can be fetched
    (a network, or a mirror through git's insteadOf); skipped offline."""
    fetch_or_skip("mnist1d")
    result = run_repro("run", "mnist1d", "--impl", "reference", "--claims", "logistic_test_acc",
                       "--set", "total_steps=500", "--json")
    assert result.returncode in (0, 1), result.stderr
    (record,) = [json.loads(p.read_text()) for p in (repro_home / "runs").glob("*/run.json")]
    assert record["status"] == "ok" and set(record["metrics"]) == {"test_acc", "train_acc"}
    assert [step for step, _ in record["curves"]["test_acc"]] == [250, 500]  # the lines train_model prints
    assert 20 < record["metrics"]["test_acc"] < 45
    cached = list((repro_home / "cache" / "mnist1d").glob("mnist1d-authors-7878d96082ab.pkl"))
    assert cached  # the checkout's own data, cached under the pinned commit


def test_output_piped_into_head_is_not_an_error():
    """`repro show mnist1d | head -1`: the reader leaves before repro writes; no traceback, exit 0."""
    import subprocess

    process = subprocess.Popen([sys.executable, "-m", "repro", "show", "mnist1d"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    process.stdout.close()  # the reader is gone before the first write (start-up takes far longer)
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0 and "Traceback" not in stderr, stderr


def test_the_pooling_variant_changes_only_the_cnn():
    import torch

    variant = paper_module("mnist1d", "variants/cnn_pool.py")
    cnn = variant.build_model({"model": "cnn"})
    assert cnn.linear.in_features == 25 and cnn(torch.randn(7, 40)).shape == (7, 10)  # 25 channels, not 25 x 5
    assert type(variant.build_model({"model": "mlp"})).__name__ == "MLP"  # the other models are the reimpl's
