"""TimesNet on ETTh1, re-implemented by {name}.

Your task: TimesNet from "TimesNet: Temporal 2D-Variation Modeling for General Time Series
Analysis" (Wu et al., ICLR 2023, arXiv:2210.02186) for long-term forecasting on ETTh1, and
the way Time-Series-Library trains it, from the paper and papers/timesnet/paper.yaml (the
config is the authors' script's). Do not open reimpl.py or the authors' code until you are
stuck: `repro check timesnet --impl {name}` tells you, stage by stage, where your version
differs from the reference and what usually causes it.

Fill in the TODOs from top to bottom, running the check after each function:

    repro check timesnet --impl {name} --claims etth1_96_mse   # one horizon: faster
    repro run timesnet --impl {name}                           # your numbers next to the paper's
"""

from __future__ import annotations

import numpy as np  # noqa: F401
import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: F401

# ---------------------------------------------------------------------------- data


def load_etth1(path, seq_len: int, label_len: int, pred_len: int) -> dict:
    """ETTh1.csv (path: ctx.data["ETTh1.csv"]; a date column and 7 variables) as
    {"train": ..., "val": ..., "test": ...} datasets of windows (x, y, x_mark, y_mark).

    The split is 12/4/4 "months" of 30 days, val and test starting seq_len hours before their
    border; scale each variable with the mean and std of the training rows; x_mark is the
    library's 'timeF' encoding of the hour (hour of day, day of week, day of month, day of
    year, each scaled to [-0.5, 0.5]).
    """
    raise NotImplementedError("TODO: the three splits of windows")


# --------------------------------------------------------------------------- model


def fft_periods(x: torch.Tensor, k: int):
    """The k strongest periods of x (batch, T, channels), from its FFT amplitudes averaged over
    the batch and the channels, and each sample's amplitude at them: (periods (k,), weights
    (batch, k)). `repro check` calls it on a signal of known periods."""
    raise NotImplementedError("TODO: period detection")


def build_model(cfg: dict) -> nn.Module:
    """TimesNet for cfg (seq_len, pred_len, enc_in, d_model, d_ff, e_layers, top_k,
    num_kernels, dropout), returned in evaluation mode (`return model.eval()`).

    It maps (x (batch, seq_len, 7), x_mark (batch, seq_len, 4)) to (batch, seq_len +
    pred_len, 7), the last pred_len steps being the forecast. Write the Inception block, the
    TimesBlock (1D -> 2D per period, convolutions, 2D -> 1D, weighted sum, residual), the
    embedding and the network as small nn.Module classes above this function. Comment the
    shape wherever a tensor changes shape, e.g. `# (batch, d_model, rows, period)`.
    """
    raise NotImplementedError("TODO: TimesNet")


# ------------------------------------------------------------------------ training


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """Which optimizer, with which learning rate (cfg["learning_rate"])."""
    raise NotImplementedError("TODO: the optimizer")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb, yb) -> float:
    """One update. xb: (x, x_mark); yb: (batch, pred_len, 7), the horizon. Return the loss
    before the update; do not switch the model's mode here."""
    raise NotImplementedError("TODO: forward, loss on the horizon, backward, update")


def run(cfg: dict, ctx) -> dict[str, float]:
    """Train up to cfg["train_epochs"] epochs and return {"test_mse": ..., "test_mae": ...,
    "best_val_loss": ..., "train_loss": ...}.

    The library's protocol: shuffled batches of cfg["batch_size"] (last incomplete dropped)
    for train and val, the test windows one at a time; early stopping on the validation MSE
    (cfg["patience"]); the learning rate halved after every epoch; the test metrics of the
    best-validation weights. cfg["train_steps"] and cfg["eval_windows"] (0: all) cut the
    short profiles. Call ctx.expect_steps(epochs) once and ctx.log(epoch, train_loss=...,
    val_loss=..., test_loss=...) every epoch.
    """
    raise NotImplementedError("TODO: the training loop and the evaluation")
