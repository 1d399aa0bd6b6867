"""What `repro check timesnet` needs besides the implementation interface: an example batch,
the overfitting target, a stage of this paper's own (the period detection), and the hints
for this paper's typical mistakes.

A batch is ((x, x_mark), y): x (size, seq_len, 7) the input window, x_mark (size, seq_len, 4)
its time features, y (size, pred_len, 7) the horizon. build_model's model takes (x, x_mark)
and returns (size, seq_len + pred_len, 7), whose last pred_len steps are the forecast.
"""

from __future__ import annotations

import math

import torch

from repro.authoring.check import CheckFailed

N_VARS = 7
OVERFIT = {"examples": 2, "steps": 60, "target_loss": 0.4}  # MSE on one batch of 2 windows; 0.22 measured (21 s on 1 thread)


def example_batch(cfg: dict, size: int = 2, seed: int = 0):
    """Windows of a fixed random mix of daily and half-daily cycles (periods 24 and 12 hours)
    plus noise, 7 variables, with the time features of hourly steps from a Monday midnight."""
    generator = torch.Generator().manual_seed(seed)
    seq_len, pred_len = cfg["seq_len"], cfg["pred_len"]
    steps = torch.arange(seq_len + pred_len + size).float()  # (T + size,)
    phase = torch.rand(2, N_VARS, generator=generator) * 2 * math.pi  # (2, 7)
    series = (torch.sin(2 * math.pi * steps[:, None] / 24 + phase[0])  # (T + size, 7)
              + 0.5 * torch.sin(2 * math.pi * steps[:, None] / 12 + phase[1])
              + 0.1 * torch.randn(len(steps), N_VARS, generator=generator))
    hour, day = steps % 24, steps // 24
    marks = torch.stack([hour / 23 - 0.5, day % 7 / 6 - 0.5, day % 30 / 30 - 0.5, day / 365 - 0.5], -1)  # (T + size, 4)
    x = torch.stack([series[i:i + seq_len] for i in range(size)])  # (size, seq_len, 7)
    x_mark = torch.stack([marks[i:i + seq_len] for i in range(size)])  # (size, seq_len, 4)
    y = torch.stack([series[i + seq_len:i + seq_len + pred_len] for i in range(size)])  # (size, pred_len, 7)
    return (x, x_mark), y


def check_periods(student, reference, cfg: dict) -> list[str]:
    """fft_periods(x, k) on a series whose k strongest cycles are known (k sine waves of
    whole cycles per window, of clearly different strengths, on a constant): the same periods,
    in the same order, and the same per-sample amplitudes as the reference's."""
    length, k = cfg["seq_len"] + cfg["pred_len"], cfg["top_k"]
    cycles = [4, 8, 16, 3, 6, 12, 24, 2, 5, 10][:k]  # per window; period = length // cycles
    periods = [length // c for c in cycles]
    steps = torch.arange(length).float()
    waves = torch.stack([torch.sin(2 * math.pi * c * steps / length) for c in cycles], -1)  # (T, k)
    strengths = torch.tensor([[k - i, 0.8 * (k - i) + 0.1 * (i % 2)] for i in range(k)]).T  # (2, k): two samples
    x = (waves[None] * strengths[:, None, :]).sum(-1, keepdim=True).repeat(1, 1, 16) + 5.0  # (2, T, 16), mean 5
    if not callable(getattr(student, "fft_periods", None)):
        raise CheckFailed("no fft_periods(x, k) in your module: the template names it, and this stage calls it")
    ours, ours_weights = student.fft_periods(x, k)
    theirs, their_weights = reference.fft_periods(x, k)
    ours, theirs = [int(p) for p in ours], [int(p) for p in theirs]
    if ours != theirs:
        raise CheckFailed(f"fft_periods(x, {k}) on sine waves of periods {periods} (strongest first, over the "
                          f"batch) plus a constant 5: your periods {ours}, the reference's {theirs}")
    ours_weights, their_weights = torch.as_tensor(ours_weights), torch.as_tensor(their_weights)
    if ours_weights.shape != their_weights.shape or not torch.allclose(ours_weights, their_weights, rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"the same periods {ours}, but the amplitudes (the weights of the k views) differ: yours "
                          f"{tuple(ours_weights.shape)} {ours_weights[0].tolist()}, the reference's "
                          f"{tuple(their_weights.shape)} {their_weights[0].tolist()} (first sample)")
    return [f"fft_periods finds {ours} on waves of periods {periods} and a constant, with the reference's amplitudes"]


# This paper's own stages: name -> (the built-in stage it follows, what it checks, the function).
STAGES = {
    "periods": ("structure", "fft_periods(x, k): the k strongest periods of a known signal and their amplitudes",
                check_periods),
}

# Per stage, the likely causes when it fails, most frequent first.
HINTS = {
    "interface": [
        "define build_model(cfg), make_optimizer(model, cfg), train_step(model, optimizer, xb, yb), "
        "fft_periods(x, k) and run(cfg, ctx) at module level; xb is the pair (x, x_mark)",
        "an import error above: run `python path/to/your_file.py` to see it whole",
    ],
    "structure": [
        ("shape", "a layer's output shaped otherwise than the reference's: d_model, d_ff, top_k, num_kernels or "
                  "e_layers other than cfg's, or the span: Linear(seq_len, seq_len + pred_len) over time"),
        "the output covers seq_len + pred_len steps, not only the horizon: the model stretches the embedded "
        "input with Linear(seq_len, seq_len + pred_len) over time, refines that whole span, and the loss "
        "takes the last pred_len steps",
        "a module missing or extra, which shifts the pairing: e_layers TimesBlocks (each two Inception "
        "blocks of num_kernels Conv2d, kernels 1, 3, ..., with a GELU between), then the embedding (a "
        "Conv1d of kernel 3, circular padding, no bias; a Linear(4, d_model, bias=False) for the time "
        "features; dropout), one LayerNorm shared by all blocks, predict_linear, projection",
        "d_ff and d_model swapped: the first Inception block goes d_model -> d_ff, the second back",
        "the positional encoding as a parameter: it is a fixed sinusoidal buffer (register_buffer)",
    ],
    "periods": [
        "the amplitude spectrum must be averaged over the batch and the channels (mean(0).mean(-1)) and "
        "frequency 0 zeroed before topk: otherwise the mean (here 5) wins",
        "a frequency f is a period of T // f steps (T = the length of x): not f itself, not T / f rounded",
        "the weights are each sample's amplitude at the chosen frequencies, averaged over channels "
        "(abs(rfft).mean(-1)[:, top]): (batch, k), before any softmax",
        "rfft over time (dim=1 of (batch, T, channels)), not over the channels",
    ],
    "forward": [
        "the 1D -> 2D fold: pad the length up to a multiple of the period with zeros at the end, then "
        "reshape(batch, length // period, period, channels).permute(0, 3, 1, 2): rows are cycles, columns "
        "the phase; after the convolutions permute(0, 2, 3, 1).reshape(batch, -1, channels) and cut to "
        "the length (a reshape to (batch, period, rows) mixes cycles and phase)",
        ("residual", "the k views combined with softmax over the k amplitudes per sample, plus the residual "
                     "input; each block's output goes through the shared LayerNorm"),
        ("reshape", "the 1D -> 2D fold: reshape(batch, length // period, period, channels).permute(0, 3, 1, 2) "
                    "(rows are cycles, columns the phase), and back with permute(0, 2, 3, 1).reshape(batch, -1, "
                    "channels); a reshape to (batch, period, rows) mixes cycles and phase"),
        ("nonlinearity", "the GELU between the two Inception blocks missing (or another activation)"),
        ("layer", "the layer's settings: the value embedding's Conv1d (kernel 3, circular padding, no bias), an "
                  "Inception block's kernels (1, 3, ..., 2 * num_kernels - 1, padding keeping the size) averaged, "
                  "not summed"),
        ("after_last_layer", "the output: the projection's (batch, seq_len + pred_len, c_out), de-normalised with "
                             "the window's mean and standard deviation"),
        "the normalisation: subtract the mean over time, divide by sqrt(var(unbiased=False) + 1e-5), per "
        "window and variable, and undo both on the output",
        "the embedding sums value, time features and positions, then dropout; the Inception block averages "
        "(mean, not sum) its convolutions",
        "build_model must return the model in evaluation mode (`return model.eval()`): the check "
        "compares outputs, which dropout would randomise",
    ],
    "step": [
        ("loss_sum", "the loss summed: F.mse_loss averages over the batch, the pred_len steps and the channels"),
        ("loss", "the loss on the whole output instead of its last pred_len steps, or not MSE (F.mse_loss, mean)"),
        ("lr_scale", "a different learning rate: Adam at cfg['learning_rate']"),
        ("weight_decay", "weight decay: the library's Adam has none"),
        ("optimizer", "a different optimizer: Adam, default betas and eps"),
        ("zero_grad", "gradients never zeroed: optimizer.zero_grad() every step (the first step matches, the "
                      "second not)"),
        "train_step switching modes (model.train()): run() does that once per epoch",
    ],
    "overfit": [
        "the model cannot fit two windows: check the previous stages' hints, and that train_step really "
        "updates the model (optimizer built on model.parameters(), optimizer.step() called)",
    ],
    "quick": [
        "the split borders: 12, 16 and 20 months of 30 days (8,640, 11,520, 14,400 hours), val and test "
        "starting seq_len steps before their border; the scaler fit on the training rows only",
        "test windows one at a time (batch size 1): TimesNet takes its periods from the batch, so a batched "
        "test set gives other numbers; val and train in shuffled batches of 32 with the last one dropped",
        ("data_order", "the training batches: shuffled batches of 32 windows, the last one dropped, from a "
                       "DataLoader drawing after torch.manual_seed(2021 + ctx.seed) and build_model, as the "
                       "reference's"),
        "the test metrics of the last epoch instead of the best-validation weights",
        "seeding: torch.manual_seed(2021 + ctx.seed) before build_model, then the data, as the library does; "
        "model, DataLoaders and dropout then draw the same random numbers as the reference",
        "evaluation in training mode: model.eval() (and torch.no_grad()) to evaluate, or dropout is on",
    ],
    "full": [
        "compare with the re-implementation's results in papers/timesnet/README.md, claim by claim",
        "the learning rate halves after every epoch (lradj type1), and early stopping waits 3 epochs",
    ],
}
