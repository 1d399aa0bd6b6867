"""PatchTST (self-supervised) on ETTh1, re-implemented by {name}.

Your task: PatchTST from "A Time Series is Worth 64 Words: Long-term Forecasting with
Transformers" (Nie et al., ICLR 2023, arXiv:2211.14730), its self-supervised recipe:
pre-train the patch Transformer by masked reconstruction, then freeze the backbone and train
only a linear head (linear probing), the way the authors' PatchTST_self_supervised scripts
do, from the paper and papers/patchtst/paper.yaml (the config is the scripts' flags). Do not
open reimpl.py or the authors' code until you are stuck: `repro check patchtst --impl {name}`
tells you, stage by stage, where your version differs from the reference and what usually
causes it. Its `frozen` stage checks that your backbone really is frozen while probing.

Fill in the TODOs from top to bottom, running the check after each function:

    repro check patchtst --impl {name} --claims etth1_24_mse   # one horizon: faster
    repro run patchtst --impl {name}                           # your numbers next to the paper's
"""

from __future__ import annotations

import numpy as np  # noqa: F401
import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: F401

# ---------------------------------------------------------------------------- data


def load_etth1(path, seq_len: int, pred_len: int) -> dict:
    """ETTh1.csv (path: ctx.data["ETTh1.csv"]; a date column and 7 variables) as
    {"train": ..., "val": ..., "test": ...} datasets of windows (x (seq_len, 7), y (pred_len, 7)).

    The split is 12/4/4 "months" of 30 days, val and test starting seq_len hours before their
    border; scale each variable with the mean and std of the training rows.
    """
    raise NotImplementedError("TODO: the three splits of windows")


# --------------------------------------------------------------------------- model


def build_model(cfg: dict) -> nn.Module:
    """The forecasting PatchTST for cfg, returned in evaluation mode (`return model.eval()`):
    x (batch, context_points, 7) -> (batch, target_points, 7). It needs two attributes,
    `model.backbone` (patch embedding, positions, the Transformer layers: what pre-training
    trains) and `model.head` (the linear head: what linear probing trains).

    Write RevIN (per-window normalisation), patching, the encoder layer (BatchNorm, post-norm)
    and the heads as small nn.Module classes above this function; pre-training needs a second
    model with the same backbone and a reconstruction head. Comment the shape wherever a
    tensor changes shape, e.g. `# (batch * n_vars, num_patch, d_model)`.
    """
    raise NotImplementedError("TODO: PatchTST")


# ------------------------------------------------------------------------ training


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """The optimizer of linear probing (cfg["finetune_mode"] == "linear_probe"): which
    parameters are frozen, which are given to the optimizer, with which learning rate (cfg["lr"])."""
    raise NotImplementedError("TODO: freeze, then the optimizer")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb, yb) -> float:
    """One forecasting update. xb: (batch, context_points, 7); yb: (batch, target_points, 7).
    Return the loss before the update; do not switch the model's mode here."""
    raise NotImplementedError("TODO: forward, loss, backward, update")


def run(cfg: dict, ctx) -> dict[str, float]:
    """Pre-train, then probe, and return {"test_mse": ..., "test_mae": ..., "best_val_loss":
    ..., "train_loss": ...}.

    The scripts' protocol: pre-training for cfg["n_epochs_pretrain"] epochs (40% of the
    patches hidden, MSE on those), then cfg["n_epochs_finetune"] epochs of linear probing,
    each under a one-cycle schedule, batches of cfg["batch_size"] (train shuffled); the
    weights of the best validation epoch of each phase are the ones kept; test MSE/MAE on the
    scaled data. With cfg["lr_finder"] the learning rate of each phase comes from an LR range
    test. cfg["train_steps"] and cfg["eval_windows"] (0: all) cut the short profiles. Seed
    torch with ctx.seed right before building each model. Call ctx.expect_steps(epochs) once
    and ctx.log(epoch, ...) every epoch.
    """
    raise NotImplementedError("TODO: pre-training, probing and the evaluation")
