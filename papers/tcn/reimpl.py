"""TCN on polyphonic music, re-implemented from the paper (Bai, Kolter & Koltun, arXiv 2018).

A temporal convolutional network reads a piano roll (one 88-key 0/1 vector per time step)
and predicts, for every key, the probability that it sounds at the next step. It is a stack
of residual blocks of causal, dilated 1D convolutions (dilation 1, 2, 4, ... per level) with
weight normalisation, dropout and ReLU; a linear layer maps each step's channels to 88
logits. Training follows the authors' music_test.py: one whole sequence per update (batch
size 1), sequences in a new random order every epoch, Adam, gradient-norm clipping, the
learning rate divided by 10 when validation stops improving (after epoch 10), and the test
loss of the weights with the best validation loss. The loss is the negative log-likelihood
of the 88 independent Bernoulli keys, summed over keys and time; the number the paper reports
is that NLL per predicted frame (nats), over a whole split.

Read from top to bottom: data, the model, training, and `run` (the entry point the harness
calls with the merged config and a RunContext). `build_model`, `make_optimizer` and
`train_step` are also what `repro check` compares a student's version against.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm

KEYS = 88  # piano keys A0..C8: the width of a piano-roll frame
FILES = {"JSB": "JSB_Chorales.mat", "Nott": "Nottingham.mat"}

# ---------------------------------------------------------------------------- data


def load_data(path) -> dict[str, list[torch.Tensor]]:
    """The train/valid/test splits of one .mat file: lists of (T, 88) float 0/1 piano rolls.

    The files are the authors' (Boulanger-Lewandowski et al.'s sets as MATLAB cell arrays):
    JSB Chorales 229/76/77 sequences of 25-160 steps, Nottingham 694/173/170 of 40-1793.
    """
    from scipy.io import loadmat

    mat = loadmat(str(path))
    return {
        split: [torch.tensor(seq, dtype=torch.float32) for seq in mat[f"{split}data"][0]]  # each (T, 88)
        for split in ("train", "valid", "test")
    }


# --------------------------------------------------------------------------- model


class TemporalBlock(nn.Module):
    """Two causal dilated convolutions (each: weight norm, ReLU, dropout) and a residual.

    Causal: the input is padded with (kernel - 1) * dilation zeros on the left only, so
    output step t sees input steps <= t and the length is unchanged. (The authors pad both
    sides and cut the right end off again, "Chomp1d": the same numbers.)

    Initialisation: PyTorch's defaults for the two convolutions (so g = ||v|| per output
    channel), N(0, 0.01) for the 1x1 residual convolution. That is the authors' *effective*
    initialisation, measured with their tcn.py and torch 2.13: their init_weights() calls
    conv.weight.data.normal_(0, 0.01) on convolutions wrapped by the old
    torch.nn.utils.weight_norm, where `weight` is a plain tensor that the pre-forward hook
    recomputes from weight_g and weight_v (copied from the default init before the call).
    After one forward the weight is the default one again (first block: std 0.0354, the
    default's 0.0355, not 0.01), so the call only draws random numbers. The 1x1 downsample
    convolution is not weight-normed, and its N(0, 0.01) does take effect (std 0.0100).
    """

    def __init__(self, n_in: int, n_out: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.pad = (kernel - 1) * dilation  # left padding that keeps the length and causality
        # weight = g * v / ||v|| per output channel, g and v trained (parametrizations API)
        self.conv1 = weight_norm(nn.Conv1d(n_in, n_out, kernel, dilation=dilation))
        self.conv2 = weight_norm(nn.Conv1d(n_out, n_out, kernel, dilation=dilation))
        self.relu1, self.relu2, self.relu = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.downsample = nn.Conv1d(n_in, n_out, 1) if n_in != n_out else None  # 1x1 on the residual
        if self.downsample is not None:
            self.downsample.weight.data.normal_(0, 0.01)

    def forward(self, x):  # x: (batch, n_in, T)
        h = self.conv1(F.pad(x, (self.pad, 0)))  # (batch, n_in, pad + T) -> (batch, n_out, T)
        h = self.dropout1(self.relu1(h))
        h = self.conv2(F.pad(h, (self.pad, 0)))  # (batch, n_out, pad + T) -> (batch, n_out, T)
        h = self.dropout2(self.relu2(h))
        res = x if self.downsample is None else self.downsample(x)  # (batch, n_out, T)
        return self.relu(h + res)  # (batch, n_out, T)


class TCN(nn.Module):
    """`levels` temporal blocks of `nhid` channels (dilation 2**i at level i) and a linear
    read-out to 88 logits per step. Receptive field: 1 + 2 (kernel - 1)(2**levels - 1) steps."""

    def __init__(self, ksize: int, levels: int, nhid: int, dropout: float, keys: int = KEYS):
        super().__init__()
        self.blocks = nn.Sequential(*[
            TemporalBlock(keys if i == 0 else nhid, nhid, ksize, dilation=2**i, dropout=dropout)
            for i in range(levels)
        ])
        self.linear = nn.Linear(nhid, keys)

    def forward(self, x):  # x: (batch, T, 88), frames 1..T
        h = self.blocks(x.transpose(1, 2))  # (batch, 88, T) -> (batch, nhid, T): Conv1d wants channels first
        return self.linear(h.transpose(1, 2))  # (batch, T, nhid) -> (batch, T, 88) logits for frames 2..T+1

    def probabilities(self, x):  # x: (batch, T, 88)
        return torch.sigmoid(self(x))  # (batch, T, 88): P(key sounds at the next step)


def build_model(cfg: dict) -> nn.Module:
    """The TCN for cfg, in evaluation mode: run() switches to training mode for each epoch (as
    the authors' train() does), and `repro check` compares outputs and single steps, which can
    only match with dropout off."""
    model = TCN(cfg["ksize"], cfg["levels"], cfg["nhid"], cfg["dropout"])
    return model.eval()


# ------------------------------------------------------------------------ training


def nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-sum over steps and keys of [y log p + (1 - y) log(1 - p)], p = sigmoid(logits).

    The authors' -trace(y @ log(p).T + (1 - y) @ log(1 - p).T) for one sequence, computed
    from the logits, which is stable where p rounds to 0 or 1.
    """
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum")


@torch.no_grad()
def evaluate(model: nn.Module, sequences: list[torch.Tensor]) -> float:
    """NLL per predicted frame over a split (the paper's number), in evaluation mode."""
    was_training = model.training
    model.eval()  # no dropout
    total, frames = 0.0, 0
    for seq in sequences:  # seq: (T, 88)
        x, y = seq[:-1].unsqueeze(0), seq[1:].unsqueeze(0)  # (1, T-1, 88) each: y is x one step later
        total += nll(model(x), y).item()
        frames += y.shape[1]
    model.train(was_training)
    return total / frames  # divided by frames, not by sequences


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=cfg["lr"])


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor,
               clip: float = 0.4) -> float:
    """One update on one sequence (xb, yb: (1, T, 88), yb = xb one step later); returns its
    summed NLL before the update. Leaves the model's mode alone: run() sets it per epoch.

    clip: the gradient-norm limit, <= 0 for none; run() passes cfg["clip"] (the default is the
    paper's 0.4). Clipped after backward, as the paper says: the authors' code calls
    clip_grad_norm_ before loss.backward(), on gradients just zeroed, so it never clips.
    """
    loss = nll(model(xb), yb)  # summed over the T steps and 88 keys, not averaged
    optimizer.zero_grad()
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item()


def run(cfg: dict, ctx) -> dict[str, float]:
    data = load_data(ctx.data[FILES[cfg["data"]]])
    train, valid, test = ([s.to(ctx.device) for s in data[k]] for k in ("train", "valid", "test"))

    model = build_model(cfg).to(ctx.device)  # initialised from the seed the worker set
    optimizer = make_optimizer(model, cfg)
    lr, epochs = cfg["lr"], cfg["epochs"]
    ctx.expect_steps(epochs)

    valid_history, best_valid, best_state = [], float("inf"), None
    for epoch in range(1, epochs + 1):
        model.train()  # dropout on
        total, frames = 0.0, 0
        for i in torch.randperm(len(train)).tolist():  # a new order every epoch, one sequence a step
            seq = train[i]  # (T, 88)
            xb, yb = seq[:-1].unsqueeze(0), seq[1:].unsqueeze(0)  # (1, T-1, 88) each
            total += train_step(model, optimizer, xb, yb, clip=cfg["clip"])
            frames += yb.shape[1]
        valid_nll, test_nll = evaluate(model, valid), evaluate(model, test)
        ctx.log(epoch, train_nll=total / frames, valid_nll=valid_nll, test_nll=test_nll)

        if valid_nll < best_valid:
            best_valid, best_state = valid_nll, copy.deepcopy(model.state_dict())
        # the authors' schedule: after epoch 10, lr / 10 whenever validation is worse than
        # each of the previous three epochs
        if epoch > 10 and valid_nll > max(valid_history[-3:]):
            lr /= 10
            for group in optimizer.param_groups:
                group["lr"] = lr
        valid_history.append(valid_nll)

    final_test = test_nll
    model.load_state_dict(best_state)
    return {
        "test_nll": evaluate(model, test),  # the best-validation weights, as the paper reports
        "valid_nll": best_valid,
        "final_test_nll": final_test,
        "train_nll": total / frames,  # last epoch, with dropout, before each update
    }
