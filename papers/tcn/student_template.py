"""TCN on polyphonic music, re-implemented by {name}.

Your task: the temporal convolutional network of "An Empirical Evaluation of Generic
Convolutional and Recurrent Networks for Sequence Modeling" (Bai, Kolter & Koltun,
arXiv:1803.01271) on the JSB Chorales and Nottingham piano rolls, and the way it is trained,
from the paper and papers/tcn/README.md ("Protocol"). Do not open reimpl.py or the authors'
code until you are stuck: `repro check tcn --impl {name}` tells you, stage by stage, where
your version differs from the reference and what usually causes it.

Fill in the TODOs from top to bottom, running the check after each function:

    repro check tcn --impl {name}     # interface, structure, forward, step, overfit, quick
    repro run tcn --impl {name}       # your numbers next to the paper's
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm  # noqa: F401 - the current weight-norm API

# ---------------------------------------------------------------------------- data


def load_data(path) -> dict:
    """The train/valid/test splits of one .mat file (path: ctx.data["JSB_Chorales.mat"] or
    ctx.data["Nottingham.mat"]).

    README "Protocol", Data: scipy.io.loadmat(path)["traindata"][0] (and "validdata",
    "testdata") is an array of piano rolls, each (T, 88) of 0/1. Return
    {"train": [...], "valid": [...], "test": [...]}, lists of float32 tensors (T, 88).
    """
    raise NotImplementedError("TODO: load the three splits")


# --------------------------------------------------------------------------- model
# README "Protocol", Model: residual blocks of causal dilated convolutions, then a linear
# read-out to 88 logits per time step. `repro check` compares parameter counts and shapes
# with the reference, then each layer's output: pad inside forward() with F.pad (no padding
# module), and use weight_norm imported above.


def build_model(cfg: dict) -> nn.Module:
    """The TCN for cfg["ksize"], cfg["levels"], cfg["nhid"] and cfg["dropout"], returned in
    evaluation mode (`return model.eval()`): run() switches to training mode for each epoch.

    It maps a (batch, T, 88) piano roll to (batch, T, 88) logits, output step t predicting
    frame t + 1 from frames <= t only. Write the block and the network as small nn.Module
    classes above this function. Comment the shape wherever a tensor changes shape, e.g.
    `# (batch, channels, T)`.
    """
    raise NotImplementedError("TODO: the temporal blocks and the network")


# ------------------------------------------------------------------------ training


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """README "Protocol", Training: which optimizer, with which learning rate (cfg["lr"])."""
    raise NotImplementedError("TODO: the paper's optimizer")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor,
               clip: float = 0.4) -> float:
    """One update on one sequence (xb: (1, T, 88) frames, yb: (1, T, 88) the next frames);
    return the loss before the update. Do not switch the model's mode here.

    README "Protocol", Training: the loss (a negative log-likelihood of 88 independent keys,
    summed how?), and gradient-norm clipping at `clip` (none when clip <= 0; run() passes
    cfg["clip"]).
    """
    raise NotImplementedError("TODO: forward, loss, backward, clipping, update")


def run(cfg: dict, ctx) -> dict[str, float]:
    """Train for cfg["epochs"] epochs on cfg["data"] ("JSB" or "Nott") and return
    {"test_nll": ..., "valid_nll": ..., "final_test_nll": ..., "train_nll": ...}.

    README "Protocol": one sequence per step in a new random order each epoch, validation and
    test NLL per frame after every epoch, the learning-rate rule, and which weights the
    reported test NLL comes from. The harness has already seeded python, numpy and torch
    from ctx.seed; use ctx.device. Call ctx.expect_steps(epochs) once and
    ctx.log(epoch, train_nll=..., valid_nll=..., test_nll=...) every epoch: they draw your
    curves and the progress display.
    """
    raise NotImplementedError("TODO: the training loop and the evaluation")
