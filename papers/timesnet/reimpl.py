"""TimesNet on ETTh1, re-implemented from the paper (Wu et al., ICLR 2023) and the authors'
Time-Series-Library, whose training protocol it follows step for step.

TimesNet turns a 1D series into 2D to convolve over it: the FFT of the (embedded) input
finds its k strongest periods; for each period p the series of length T is cut into T/p
rows of p steps (rows = cycles, columns = the phase within a cycle), so that a 2D
convolution sees both how a value varies within a cycle and across neighbouring cycles. Two
Inception blocks (six parallel 2D convolutions, kernels 1x1 .. 11x11, averaged) process each
2D view, which is flattened back to 1D; the k results are summed with softmax weights from
the periods' FFT amplitudes, plus a residual. For forecasting, a linear layer first stretches
the input's 96 steps to 96 + horizon, the TimesBlocks refine that whole span, and a linear
projection gives the 7 variables; the input is normalised per window (mean and std over
time) and the output de-normalised with the same numbers.

Data and training are the library's (data_provider/data_loader.py, exp/exp_long_term_forecasting.py):
ETTh1's 7 columns, 12/4/4 months train/val/test, a standard scaler fit on train, windows of
96 steps in and `pred_len` out, MSE, Adam, the learning rate halved every epoch, early
stopping on the validation loss (patience 3), and the test MSE/MAE of the best-validation
weights, evaluated one window at a time. Modules are built in the library's order and
batches drawn through the same DataLoaders, so a seed gives the authors' run (seed s is their
fixed seed 2021 + s): same weights, same batches, the same numbers up to float rounding.

Read from top to bottom: data, the model, training, and `run` (the entry point the harness
calls with the merged config and a RunContext). `build_model`, `make_optimizer` and
`train_step` are also what `repro check` compares a student's version against.
"""

from __future__ import annotations

import copy
import csv
import math
from datetime import datetime

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

AUTHORS_SEED = 2021  # run.py's fixed seed; the harness's seed s runs as 2021 + s
HOURS_A_MONTH = 30 * 24  # the library's "month": the split borders are 12, 16 and 20 of them

# ---------------------------------------------------------------------------- data


def time_features(stamp: datetime) -> list[float]:
    """The library's 'timeF' encoding for hourly data: hour of day, day of week, day of month,
    day of year, each scaled to [-0.5, 0.5] (utils/timefeatures.py)."""
    return [stamp.hour / 23.0 - 0.5, stamp.weekday() / 6.0 - 0.5, (stamp.day - 1) / 30.0 - 0.5,
            (stamp.timetuple().tm_yday - 1) / 365.0 - 0.5]


class Windows(torch.utils.data.Dataset):
    """Every window of one split: (x, y, x_mark, y_mark), x the seq_len steps in, y the
    label_len steps before the horizon and the pred_len steps of it (the library's layout:
    models with a decoder start from the label part; TimesNet uses only the horizon)."""

    def __init__(self, values: np.ndarray, marks: np.ndarray, seq_len: int, label_len: int, pred_len: int):
        self.values, self.marks = values, marks  # (steps, 7) scaled, (steps, 4) time features
        self.seq_len, self.label_len, self.pred_len = seq_len, label_len, pred_len

    def __len__(self) -> int:
        return len(self.values) - self.seq_len - self.pred_len + 1

    def __getitem__(self, i: int):
        x_end = i + self.seq_len
        y_start, y_end = x_end - self.label_len, x_end + self.pred_len
        return self.values[i:x_end], self.values[y_start:y_end], self.marks[i:x_end], self.marks[y_start:y_end]


def load_etth1(path, seq_len: int, label_len: int, pred_len: int) -> dict[str, Windows]:
    """ETTh1.csv (date + 7 variables, 17,420 hours) as train/val/test windows.

    Borders as data_loader.py's Dataset_ETT_hour: train the first 12 "months" (8,640 h), val
    the next 4, test the 4 after (the last 4 months of the file are never used); val and test
    start seq_len steps early, so their first window's input lies in the split before. The
    scaler (mean and standard deviation per variable) is fit on the training rows only.
    """
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    values = np.array([[float(v) for v in row[1:]] for row in rows])  # (17420, 7) float64
    marks = np.array([time_features(datetime.fromisoformat(row[0])) for row in rows])  # (17420, 4)
    train_end, val_end, test_end = 12 * HOURS_A_MONTH, 16 * HOURS_A_MONTH, 20 * HOURS_A_MONTH
    mean, std = values[:train_end].mean(0), values[:train_end].std(0)  # sklearn's StandardScaler: ddof 0
    values = (values - mean) / std
    borders = {"train": (0, train_end), "val": (train_end - seq_len, val_end), "test": (val_end - seq_len, test_end)}
    return {split: Windows(values[a:b], marks[a:b], seq_len, label_len, pred_len) for split, (a, b) in borders.items()}


def loaders(splits: dict[str, Windows], batch_size: int) -> dict[str, torch.utils.data.DataLoader]:
    """As data_factory.py: train and val shuffled in batches (the last incomplete one
    dropped), test in order one window at a time. The batch size matters beyond speed here:
    TimesNet picks its periods from the amplitudes averaged over the batch."""
    def loader(split, size, shuffle):
        return torch.utils.data.DataLoader(splits[split], batch_size=size, shuffle=shuffle, drop_last=True)
    return {"train": loader("train", batch_size, True), "val": loader("val", batch_size, True),
            "test": loader("test", 1, False)}


# --------------------------------------------------------------------------- model


def fft_periods(x: torch.Tensor, k: int) -> tuple[np.ndarray, torch.Tensor]:
    """The k strongest periods of x (batch, T, channels) and each sample's amplitude at them.

    The amplitude spectrum is averaged over the batch and the channels; frequency 0 (the
    mean) is ignored; a frequency f (cycles per T steps) is a period of T // f steps. The
    periods are the batch's, the weights (batch, k) each sample's own.
    """
    amplitude = torch.fft.rfft(x, dim=1).abs()  # (batch, T // 2 + 1, channels)
    spectrum = amplitude.mean(0).mean(-1)  # (T // 2 + 1,)
    spectrum[0] = 0
    _, top = torch.topk(spectrum, k)  # (k,) frequencies
    top = top.detach().cpu().numpy()
    return x.shape[1] // top, amplitude.mean(-1)[:, top]  # (k,) periods, (batch, k) weights


class InceptionBlock(nn.Module):
    """num_kernels parallel 2D convolutions (kernel 1, 3, 5, ..., same padding), averaged."""

    def __init__(self, n_in: int, n_out: int, num_kernels: int):
        super().__init__()
        self.kernels = nn.ModuleList(nn.Conv2d(n_in, n_out, kernel_size=2 * i + 1, padding=i)
                                     for i in range(num_kernels))
        for conv in self.kernels:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(conv.bias, 0)

    def forward(self, x):  # x: (batch, n_in, rows, period)
        return torch.stack([conv(x) for conv in self.kernels], dim=-1).mean(-1)  # (batch, n_out, rows, period)


class TimesBlock(nn.Module):
    """For each of the k periods: 1D -> 2D (rows = cycles, columns = phase), two Inception
    blocks, 2D -> 1D; then the k results weighted by softmax(amplitude), plus the input."""

    def __init__(self, length: int, d_model: int, d_ff: int, top_k: int, num_kernels: int):
        super().__init__()
        self.length, self.k = length, top_k  # length: seq_len + pred_len
        self.conv = nn.Sequential(InceptionBlock(d_model, d_ff, num_kernels), nn.GELU(),
                                  InceptionBlock(d_ff, d_model, num_kernels))

    def periods(self, x) -> tuple[np.ndarray, torch.Tensor]:
        """The periods to fold by and each sample's weights for them: the FFT's k strongest."""
        return fft_periods(x, self.k)

    def forward(self, x):  # x: (batch, T, d_model), T = seq_len + pred_len
        batch, T, channels = x.shape
        periods, weights = self.periods(x)  # (k,), (batch, k)
        outputs = []
        for period in periods:
            rows = math.ceil(self.length / period)
            padded = F.pad(x, (0, 0, 0, rows * period - self.length))  # (batch, rows * period, d_model): zeros at the end
            grid = padded.reshape(batch, rows, period, channels).permute(0, 3, 1, 2)  # (batch, d_model, rows, period)
            out = self.conv(grid.contiguous())  # (batch, d_model, rows, period)
            out = out.permute(0, 2, 3, 1).reshape(batch, -1, channels)  # (batch, rows * period, d_model)
            outputs.append(out[:, :self.length, :])  # (batch, T, d_model)
        stacked = torch.stack(outputs, dim=-1)  # (batch, T, d_model, k)
        weights = F.softmax(weights, dim=1)[:, None, None, :]  # (batch, 1, 1, k)
        return (stacked * weights).sum(-1) + x  # (batch, T, d_model)


class DataEmbedding(nn.Module):
    """Values (a circular 1D convolution, kernel 3, no bias) + time features (linear, no bias)
    + fixed sinusoidal positions, then dropout: (batch, T, 7) -> (batch, T, d_model)."""

    def __init__(self, n_vars: int, d_model: int, n_marks: int, dropout: float, max_len: int = 5000):
        super().__init__()
        self.value = nn.Conv1d(n_vars, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.value.weight, mode="fan_in", nonlinearity="leaky_relu")
        position = torch.arange(max_len).float().unsqueeze(1)  # (max_len, 1)
        frequency = (torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model)).exp()  # (d_model / 2,)
        positions = torch.zeros(max_len, d_model)
        positions[:, 0::2], positions[:, 1::2] = torch.sin(position * frequency), torch.cos(position * frequency)
        self.register_buffer("positions", positions.unsqueeze(0))  # (1, max_len, d_model)
        self.time = nn.Linear(n_marks, d_model, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, marks):  # x: (batch, T, 7), marks: (batch, T, 4)
        values = self.value(x.permute(0, 2, 1)).transpose(1, 2)  # (batch, 7, T) -> (batch, T, d_model)
        return self.dropout(values + self.time(marks) + self.positions[:, :x.shape[1]])  # (batch, T, d_model)


class TimesNet(nn.Module):
    """Normalise each window, embed, stretch 96 steps to 96 + horizon, e_layers TimesBlocks
    (each followed by the same LayerNorm), project to the variables, de-normalise."""

    def __init__(self, seq_len: int, pred_len: int, n_vars: int, d_model: int, d_ff: int, e_layers: int,
                 top_k: int, num_kernels: int, dropout: float, n_marks: int = 4, block: type = None):
        super().__init__()
        self.seq_len, self.pred_len = seq_len, pred_len
        block = block or TimesBlock  # a variant's own block (papers/timesnet/variants/)
        # (the library builds the blocks first: the same order draws the same initial weights)
        self.blocks = nn.ModuleList(block(seq_len + pred_len, d_model, d_ff, top_k, num_kernels)
                                    for _ in range(e_layers))
        self.embedding = DataEmbedding(n_vars, d_model, n_marks, dropout)
        self.layer_norm = nn.LayerNorm(d_model)
        self.predict_linear = nn.Linear(seq_len, seq_len + pred_len)
        self.projection = nn.Linear(d_model, n_vars)

    def forward(self, x, marks):  # x: (batch, seq_len, 7), marks: (batch, seq_len, 4)
        mean = x.mean(1, keepdim=True).detach()  # (batch, 1, 7)
        std = torch.sqrt(torch.var(x - mean, dim=1, keepdim=True, unbiased=False) + 1e-5)  # (batch, 1, 7)
        h = self.embedding((x - mean) / std, marks)  # (batch, seq_len, d_model)
        h = self.predict_linear(h.permute(0, 2, 1)).permute(0, 2, 1)  # (batch, seq_len + pred_len, d_model)
        for block in self.blocks:
            h = self.layer_norm(block(h))  # (batch, seq_len + pred_len, d_model)
        out = self.projection(h)  # (batch, seq_len + pred_len, 7)
        return out * std + mean  # de-normalised; the last pred_len steps are the forecast


def build_model(cfg: dict, block: type = None) -> nn.Module:
    """TimesNet for cfg, in evaluation mode: run() switches to training mode for each epoch,
    and `repro check` compares outputs and single steps, which only match with dropout off.
    `block`: another TimesBlock class (a variant's), built with the same arguments."""
    model = TimesNet(cfg["seq_len"], cfg["pred_len"], cfg["enc_in"], cfg["d_model"], cfg["d_ff"], cfg["e_layers"],
                     cfg["top_k"], cfg["num_kernels"], cfg["dropout"], block=block)
    return model.eval()


# ------------------------------------------------------------------------ training


def forecast(model: nn.Module, x: torch.Tensor, x_mark: torch.Tensor) -> torch.Tensor:
    """The horizon part of the model's output: (batch, pred_len, 7)."""
    return model(x, x_mark)[:, -model.pred_len:, :]


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"])


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb, yb) -> float:
    """One update. xb: (x, x_mark), the inputs (batch, seq_len, 7) and their time features
    (batch, seq_len, 4); yb: (batch, pred_len, 7), the horizon. Returns the MSE before the
    update; leaves the model's mode alone (run() sets it per epoch)."""
    x, x_mark = xb
    optimizer.zero_grad()
    loss = F.mse_loss(forecast(model, x, x_mark), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


def batches(loader, pred_len: int, limit: int = 0):
    """(x, x_mark), y per batch as float32, y the horizon only; at most `limit` batches (0: all)."""
    for i, (x, y, x_mark, _) in enumerate(loader):
        if limit and i == limit:
            return
        yield (x.float(), x_mark.float()), y[:, -pred_len:, :].float()


@torch.no_grad()
def mean_loss(model: nn.Module, loader, pred_len: int, limit: int = 0) -> float:
    """The library's vali(): the MSE of each batch, averaged over the batches, in eval mode."""
    model.eval()
    losses = [F.mse_loss(forecast(model, *xb), yb).item() for xb, yb in batches(loader, pred_len, limit)]
    model.train()
    return float(np.average(losses))


@torch.no_grad()
def test_metrics(model: nn.Module, loader, pred_len: int, limit: int = 0) -> dict[str, float]:
    """MSE and MAE over every test window (on the scaled data), as the library's test()."""
    model.eval()
    pairs = [(forecast(model, *xb).numpy(), yb.numpy()) for xb, yb in batches(loader, pred_len, limit)]
    predicted, true = np.concatenate([p for p, _ in pairs]), np.concatenate([t for _, t in pairs])
    return {"test_mse": float(np.mean((predicted - true) ** 2)), "test_mae": float(np.mean(np.abs(predicted - true)))}


def run(cfg: dict, ctx, build_model=build_model) -> dict[str, float]:
    """Train with early stopping, test the best weights. A variant (papers/timesnet/variants/)
    passes its own build_model."""
    torch.manual_seed(AUTHORS_SEED + ctx.seed)  # as the adapter seeds the authors' run.py
    np.random.seed(AUTHORS_SEED + ctx.seed)
    model = build_model(cfg).float()  # first: the library builds the model before the data
    splits = load_etth1(ctx.data["ETTh1.csv"], cfg["seq_len"], cfg["label_len"], cfg["pred_len"])
    data = loaders(splits, cfg["batch_size"])
    optimizer = make_optimizer(model, cfg)
    pred_len, steps = cfg["pred_len"], cfg["train_steps"]  # train_steps: batches an epoch, 0 = all (quick: fewer)
    ctx.expect_steps(cfg["train_epochs"])

    best_val, best_state, waited = float("inf"), None, 0
    for epoch in range(1, cfg["train_epochs"] + 1):
        model.train()
        losses = [train_step(model, optimizer, xb, yb) for xb, yb in batches(data["train"], pred_len, steps)]
        val_loss = mean_loss(model, data["val"], pred_len, cfg["eval_windows"] // cfg["batch_size"])
        test_loss = mean_loss(model, data["test"], pred_len, cfg["eval_windows"])  # every epoch, as the library does
        ctx.log(epoch, train_loss=float(np.average(losses)), val_loss=val_loss, test_loss=test_loss)
        if val_loss <= best_val:  # EarlyStopping: not worse than the best saves the weights
            best_val, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= cfg["patience"]:
                break
        for group in optimizer.param_groups:  # lradj type1: halve the learning rate after every epoch
            group["lr"] = cfg["learning_rate"] * 0.5 ** epoch

    model.load_state_dict(best_state)
    return {**test_metrics(model, data["test"], pred_len, cfg["eval_windows"]), "best_val_loss": best_val,
            "train_loss": float(np.average(losses))}
