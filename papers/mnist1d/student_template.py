"""MNIST-1D, re-implemented by {name}.

Your task: the four benchmark models of "Scaling Down Deep Learning with MNIST-1D"
(Greydanus & Kobak, arXiv:2011.14439) and the way they are trained, from the paper and
papers/mnist1d/README.md ("Protocol"). Do not open reimpl.py or the authors' code until
you are stuck: `repro check mnist1d --impl {name}` tells you, stage by stage, where your
version differs from the reference and what usually causes it.

Fill in the TODOs from top to bottom, running the check after each function:

    repro check mnist1d --impl {name}     # interface, structure, forward, step, overfit, quick
    repro run mnist1d --impl {name}       # your numbers next to the paper's
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------- data


def load_data(cache_dir) -> dict:
    """The default MNIST-1D split: 4000 training and 1000 test signals of length 40.

    README "Protocol", Data: the official generator, `mnist1d.data.make_dataset` with
    `get_dataset_args()`. Return numpy arrays x, y, x_test, y_test. (Generating takes ~2 s;
    you may cache the arrays in cache_dir.)
    """
    raise NotImplementedError("TODO: generate (or load) the dataset")


# -------------------------------------------------------------------------- models
# README "Protocol", Models: four classifiers of a (batch, 40) signal into 10 classes.
# Their sizes are given there; `repro check` compares parameter counts and shapes.


def build_model(cfg: dict) -> nn.Module:
    """The model named by cfg["model"]: "logistic", "mlp", "cnn" or "gru".

    Write one small nn.Module class per model above this function. Comment the shape
    wherever a tensor changes shape, e.g. `# (batch, channels, length)`.
    """
    raise NotImplementedError("TODO: build the four models")


# ------------------------------------------------------------------------ training


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """README "Protocol", Training: which optimizer, with which learning rate (cfg holds it)."""
    raise NotImplementedError("TODO: the paper's optimizer")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor) -> float:
    """One update on the batch (xb: (batch, 40), yb: (batch,)); return the loss before the update.

    README "Protocol", Training: the loss of a classifier that outputs raw scores (logits).
    """
    raise NotImplementedError("TODO: forward, loss, backward, update")


def run(cfg: dict, ctx) -> dict[str, float]:
    """Train one model for cfg["total_steps"] steps and return {"test_acc": ..., "train_acc": ...}.

    README "Protocol": batches of cfg["batch_size"] taken in order through the training set,
    test accuracy (in %) of the final model on the test split. The harness has already
    seeded python, numpy and torch from ctx.seed. Call ctx.expect_steps(total) once and
    ctx.log(step, test_acc=...) every cfg["eval_every"] steps: they draw your curves and the
    progress display.
    """
    raise NotImplementedError("TODO: the training loop and the evaluation")
