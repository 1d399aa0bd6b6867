"""PatchTST on ETTh1, self-supervised: masked pre-training, then linear probing (or
fine-tuning), re-implemented from the paper (Nie et al., ICLR 2023) and the authors'
PatchTST_self_supervised code, whose protocol it follows step for step.

PatchTST cuts each variable's input window into patches (12 steps, stride 12: 42 patches of
the 512-hour window) and treats each patch as a token; every variable goes through the same
Transformer on its own (channel independence: a batch of 64 windows of 7 variables is 448
sequences). Pre-training hides 40% of the patches (zeros) and learns to reconstruct them (MSE
on the hidden patches only). Linear probing then keeps the pre-trained backbone frozen and
trains only a linear head from all 42 patch embeddings to the horizon; fine-tuning trains
the head first, then everything. Each window is normalised per variable (RevIN without
affine weights) on the way in and de-normalised on the way out.

Data and training are the authors': ETTh1's 7 columns, 12/4/4 months, a scaler fit on
train, windows of 512 in and `target_points` out; Adam under a one-cycle schedule (which
also cycles Adam's beta1), the learning rate from an LR range test ("valley"); the
checkpoint with the best validation loss of each phase is the one kept. The authors set no
seed: here (and in the adapter) torch is seeded with the run's seed each time a model is
built, so the LR range test, which builds its own, does not shift what follows.

Read from top to bottom: data, the model, the phases, and `run`. `build_model`,
`make_optimizer` and `train_step` (the linear-probing model, optimizer and update) are what
`repro check` compares a student's version against.
"""

from __future__ import annotations

import copy
import csv
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HOURS_A_MONTH = 30 * 24  # the split borders are 12, 16 and 20 such months
PRETRAIN_TARGET_POINTS = 96  # patchtst_pretrain.py's default horizon: it only sets how many windows there are

# ---------------------------------------------------------------------------- data


class Windows(torch.utils.data.Dataset):
    """Every (x, y) of one split: x the seq_len steps in, y the pred_len steps after."""

    def __init__(self, values: np.ndarray, seq_len: int, pred_len: int):
        self.values, self.seq_len, self.pred_len = values, seq_len, pred_len  # values: (steps, 7) scaled

    def __len__(self) -> int:
        return len(self.values) - self.seq_len - self.pred_len + 1

    def __getitem__(self, i: int):
        x_end = i + self.seq_len
        return (torch.tensor(self.values[i:x_end], dtype=torch.float32),
                torch.tensor(self.values[x_end:x_end + self.pred_len], dtype=torch.float32))


def load_etth1(path, seq_len: int, pred_len: int) -> dict[str, Windows]:
    """ETTh1.csv as train/val/test windows, with src/data/pred_dataset.py's Dataset_ETT_hour
    borders (train 12 months, val and test 4 each, both starting seq_len steps early) and a
    scaler fit on the training rows."""
    with open(path, newline="") as f:
        values = np.array([[float(v) for v in row[1:]] for row in list(csv.reader(f))[1:]])  # (17420, 7)
    train_end, val_end, test_end = 12 * HOURS_A_MONTH, 16 * HOURS_A_MONTH, 20 * HOURS_A_MONTH
    values = (values - values[:train_end].mean(0)) / values[:train_end].std(0)  # StandardScaler: ddof 0
    borders = {"train": (0, train_end), "val": (train_end - seq_len, val_end), "test": (val_end - seq_len, test_end)}
    return {split: Windows(values[a:b], seq_len, pred_len) for split, (a, b) in borders.items()}


def loaders(splits: dict[str, Windows], batch_size: int) -> dict[str, torch.utils.data.DataLoader]:
    """As src/data/datamodule.py: train shuffled, val and test in order, last batches kept."""
    return {split: torch.utils.data.DataLoader(windows, batch_size=batch_size, shuffle=split == "train")
            for split, windows in splits.items()}


def batches(loader, limit: int = 0):
    """(x, y) per batch, at most `limit` batches (0: all)."""
    for i, batch in enumerate(loader):
        if limit and i == limit:
            return
        yield batch


# --------------------------------------------------------------------------- model


def patchify(x: torch.Tensor, patch_len: int, stride: int) -> torch.Tensor:
    """(batch, seq_len, n_vars) -> (batch, num_patch, n_vars, patch_len). As create_patch:
    the first steps that do not fill a whole patch are dropped (512 = 8 + 42 * 12: the
    first 8 hours of the window are never seen)."""
    num_patch = (max(x.shape[1], patch_len) - patch_len) // stride + 1
    start = x.shape[1] - (patch_len + stride * (num_patch - 1))
    return x[:, start:, :].unfold(1, patch_len, stride)


def random_masking(patches: torch.Tensor, ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero a random `ratio` of each sequence's patches, chosen per sample and variable.
    patches (batch, num_patch, n_vars, patch_len) -> (masked patches, mask (batch, num_patch,
    n_vars), 1 where hidden). The draws are random_masking's: one uniform number per patch, the
    smallest kept."""
    batch, num_patch, n_vars, _ = patches.shape
    keep = int(num_patch * (1 - ratio))
    ranks = torch.argsort(torch.argsort(torch.rand(batch, num_patch, n_vars), dim=1), dim=1)  # each patch's rank
    mask = (ranks >= keep).float()  # (batch, num_patch, n_vars)
    return patches * (1 - mask)[..., None], mask


def normalise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RevIN without affine weights: per window and variable, mean 0 and std 1 over time."""
    mean = x.mean(1, keepdim=True).detach()
    std = torch.sqrt(x.var(1, keepdim=True, unbiased=False) + 1e-5).detach()
    return (x - mean) / std, mean, std


class Transpose(nn.Module):
    """Swap two dimensions: BatchNorm1d normalises dimension 1, the model keeps d_model last."""

    def __init__(self, a: int, b: int):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return x.transpose(self.a, self.b)


class Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.W_Q, self.W_K, self.W_V = (nn.Linear(d_model, d_model) for _ in range(3))
        self.to_out = nn.Sequential(nn.Linear(d_model, d_model), nn.Dropout(dropout))

    def forward(self, x):
        b, t, d = x.shape  # (batch * n_vars, num_patch, d_model)
        q, k, v = (w(x).view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)
                   for w in (self.W_Q, self.W_K, self.W_V))  # (b, heads, t, d_head)
        weights = F.softmax(q @ k.transpose(2, 3) * (d // self.n_heads) ** -0.5, dim=-1)  # (b, heads, t, t)
        out = (weights @ v).transpose(1, 2).reshape(b, t, d)  # (b, t, d_model)
        return self.to_out(out)


class EncoderLayer(nn.Module):
    """Post-norm Transformer layer with BatchNorm (over the batch and the patches) instead of LayerNorm."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.self_attn = Attention(d_model, n_heads, dropout)
        self.dropout_attn = nn.Dropout(dropout)
        self.norm_attn = nn.Sequential(Transpose(1, 2), nn.BatchNorm1d(d_model), Transpose(1, 2))
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.dropout_ffn = nn.Dropout(dropout)
        self.norm_ffn = nn.Sequential(Transpose(1, 2), nn.BatchNorm1d(d_model), Transpose(1, 2))

    def forward(self, x):
        x = self.norm_attn(x + self.dropout_attn(self.self_attn(x)))
        return self.norm_ffn(x + self.dropout_ffn(self.ff(x)))


class Layers(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Backbone(nn.Module):
    """Patches -> one embedding per patch, each variable on its own (channel independence)."""

    def __init__(self, cfg: dict, num_patch: int):
        super().__init__()
        d_model = cfg["d_model"]
        self.W_P = nn.Linear(cfg["patch_len"], d_model)  # one patch embedding shared by all variables
        self.W_pos = nn.Parameter(torch.empty(num_patch, d_model).uniform_(-0.02, 0.02))  # learned positions
        self.dropout = nn.Dropout(cfg["dropout"])
        self.encoder = Layers(d_model, cfg["n_heads"], cfg["d_ff"], cfg["dropout"], cfg["n_layers"])

    def forward(self, patches):
        b, num_patch, n_vars, _ = patches.shape  # (batch, num_patch, n_vars, patch_len)
        u = self.W_P(patches).transpose(1, 2).reshape(b * n_vars, num_patch, -1)  # (batch * n_vars, num_patch, d_model)
        z = self.encoder(self.dropout(u + self.W_pos))  # (batch * n_vars, num_patch, d_model)
        return z.reshape(b, n_vars, num_patch, -1).permute(0, 1, 3, 2)  # (batch, n_vars, d_model, num_patch)


class PredictionHead(nn.Module):
    """The linear head of linear probing: all patch embeddings of a variable -> its horizon."""

    def __init__(self, d_model: int, num_patch: int, target_points: int, dropout: float):
        super().__init__()
        self.flatten = nn.Flatten(start_dim=-2)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(d_model * num_patch, target_points)

    def forward(self, z):
        z = self.linear(self.dropout(self.flatten(z)))  # (batch, n_vars, target_points)
        return z.transpose(1, 2)  # (batch, target_points, n_vars)


class PretrainHead(nn.Module):
    """Each patch embedding -> the patch's 12 values."""

    def __init__(self, d_model: int, patch_len: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(d_model, patch_len)

    def forward(self, z):
        z = self.linear(self.dropout(z.transpose(2, 3)))  # (batch, n_vars, num_patch, patch_len)
        return z.permute(0, 2, 1, 3)  # (batch, num_patch, n_vars, patch_len)


def num_patches(cfg: dict) -> int:
    return (max(cfg["context_points"], cfg["patch_len"]) - cfg["patch_len"]) // cfg["stride"] + 1


class PatchTST(nn.Module):
    """The forecasting model: x (batch, context_points, n_vars) -> (batch, target_points, n_vars)."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.patch_len, self.stride = cfg["patch_len"], cfg["stride"]
        self.backbone = Backbone(cfg, num_patches(cfg))
        self.head = PredictionHead(cfg["d_model"], num_patches(cfg), cfg["target_points"], cfg["head_dropout"])

    def forward(self, x):
        x, mean, std = normalise(x)
        y = self.head(self.backbone(patchify(x, self.patch_len, self.stride)))  # (batch, target_points, n_vars)
        return y * std + mean


class MaskedPretraining(nn.Module):
    """The pre-training model: the same backbone with a reconstruction head."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.patch_len, self.stride, self.mask_ratio = cfg["patch_len"], cfg["stride"], cfg["mask_ratio"]
        self.backbone = Backbone(cfg, num_patches(cfg))
        self.head = PretrainHead(cfg["d_model"], cfg["patch_len"], cfg["head_dropout"])

    def loss(self, x):
        """MSE between the reconstruction and the true patches, on the hidden patches only."""
        patches = patchify(normalise(x)[0], self.patch_len, self.stride)  # (batch, num_patch, n_vars, patch_len)
        masked, mask = random_masking(patches, self.mask_ratio)
        error = ((self.head(self.backbone(masked)) - patches) ** 2).mean(-1)  # (batch, num_patch, n_vars)
        return (error * mask).sum() / mask.sum()


def build_model(cfg: dict) -> nn.Module:
    """The forecasting model for cfg, in evaluation mode (run() switches modes per epoch, as
    the authors' Learner does; `repro check` compares outputs, which need dropout off)."""
    return PatchTST(cfg).eval()


# ------------------------------------------------------------------------ training


def freeze_backbone(model: nn.Module) -> list[nn.Parameter]:
    """Learner.freeze: no gradient for anything but the head. Returns the head's parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    return list(model.head.parameters())


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """Adam for the forecasting phase. Linear probing: the backbone frozen first, only the
    head given to Adam. Fine-tuning: every parameter (run() freezes and unfreezes by phase)."""
    if cfg["finetune_mode"] == "linear_probe":
        return torch.optim.Adam(freeze_backbone(model), lr=cfg["lr"])
    return torch.optim.Adam(model.parameters(), lr=cfg["lr"])


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb, yb) -> float:
    """One forecasting update: xb (batch, context_points, 7), yb (batch, target_points, 7). Returns
    the MSE before the update; leaves the model's mode alone (run() sets it per epoch)."""
    optimizer.zero_grad()
    loss = F.mse_loss(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


def find_lr(model: nn.Module, loss_of, loader, num_iter: int = 100, start: float = 1e-7, end: float = 10.0) -> float:
    """The authors' LR range test (Learner.lr_finder, 'valley'): train (loss_of, a stepper)
    with a learning rate growing from `start` to `end` exponentially over num_iter batches,
    smooth the losses, and take a rate two thirds down the longest stretch over which the
    loss keeps falling. The model is put back as it was; the optimizer is thrown away."""
    saved = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=start)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: (end / start) ** ((i + 1) / (num_iter - 1)))
    lrs, losses, average, best = [], [], 0.0, math.inf
    model.train()
    epochs = num_iter // len(loader) + 1  # as lr_finder: enough epochs for num_iter batches
    for i, batch in enumerate((batch for _ in range(epochs) for batch in loader), start=1):
        loss = loss_of(batch, optimizer, scheduler)
        lrs.append(scheduler.get_last_lr()[0])
        average = 0.98 * average + 0.02 * loss
        losses.append(average / (1 - 0.98 ** i))
        best = min(best, losses[-1])
        if losses[-1] > 4 * best or i > num_iter:
            break
    model.load_state_dict(saved)
    return valley(lrs, losses)


def valley(lrs: list[float], losses: list[float]) -> float:
    """The learning rate a third and a sixth into the longest decreasing subsequence of the losses."""
    run = [1] * len(losses)
    start = end = 0
    for i in range(1, len(losses)):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
            if run[end] < run[i]:
                end, start = i, i - run[i]
    third = (end - start) / 3
    return float(lrs[start + int(third) + int(third / 2)])


class Phases:
    """Learner.fit_one_cycle, phase after phase, with SaveModelCB: the weights of the epoch
    with the best validation loss, over every phase of one script, are the ones kept (the
    model itself goes on from the last epoch). Epochs are numbered across phases."""

    def __init__(self, ctx, data, cfg: dict, first_epoch: int = 0):
        self.ctx, self.data, self.cfg = ctx, data, cfg
        self.epoch, self.best, self.best_state, self.train_loss = first_epoch, math.inf, None, math.nan

    def one_cycle(self, model: nn.Module, optimizer, loss_of, epochs: int, lr_max: float, phase: str) -> None:
        """`epochs` epochs under torch's OneCycleLR (30% warm-up, cosine, beta1 cycled 0.95 ->
        0.85 -> 0.95), the validation loss after each."""
        cfg = self.cfg
        steps = min(len(self.data["train"]), cfg["train_steps"] or len(self.data["train"]))
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr_max, epochs=epochs, steps_per_epoch=steps)
        for _ in range(epochs):
            model.train()
            train = [(loss_of(batch, optimizer, scheduler), len(batch[0])) for batch in batches(self.data["train"], steps)]
            model.eval()
            with torch.no_grad():
                val = [(loss_of(batch).item(), len(batch[0]))
                       for batch in batches(self.data["val"], cfg["eval_windows"] // cfg["batch_size"])]
            self.train_loss, val_loss = (sum(l * n for l, n in pairs) / sum(n for _, n in pairs) for pairs in (train, val))
            self.epoch += 1
            self.ctx.log(self.epoch, **{f"{phase}_train_loss": self.train_loss, f"{phase}_val_loss": val_loss})
            if val_loss < self.best:  # SaveModelCB: strictly better
                self.best, self.best_state = val_loss, copy.deepcopy(model.state_dict())


def stepper(loss_fn):
    """loss_of(batch[, optimizer, scheduler]): the loss; with an optimizer, one update (and a
    scheduler step) and the loss as a float, as the Learner's batch_train."""
    def loss_of(batch, optimizer=None, scheduler=None):
        loss = loss_fn(batch)
        if optimizer is None:
            return loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss.item()
    return loss_of


def seeded(build, cfg: dict, seed: int) -> nn.Module:
    """A model built right after seeding torch with the run's seed (see the module docstring)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    return build(cfg)


def pretrain(cfg: dict, ctx, data_path) -> dict:
    """patchtst_pretrain.py: the LR range test, then n_epochs_pretrain one-cycle epochs of
    masked reconstruction. Returns the backbone weights of the best validation epoch."""
    data = loaders(load_etth1(data_path, cfg["context_points"], PRETRAIN_TARGET_POINTS), cfg["batch_size"])
    loss_fn = lambda model: stepper(lambda batch: model.loss(batch[0]))  # noqa: E731 - the target is x itself
    lr = cfg["lr"]
    if cfg["lr_finder"]:
        probe = seeded(MaskedPretraining, cfg, ctx.seed)
        lr = find_lr(probe, loss_fn(probe), data["train"])
    model = seeded(MaskedPretraining, cfg, ctx.seed)
    phases = Phases(ctx, data, cfg)
    phases.one_cycle(model, torch.optim.Adam(model.parameters(), lr=lr), loss_fn(model), cfg["n_epochs_pretrain"], lr,
                     "pretrain")
    model.load_state_dict(phases.best_state)
    return {"backbone": copy.deepcopy(model.backbone.state_dict()), "pretrain_lr": lr,
            "pretrain_val_loss": phases.best, "pretrain_train_loss": phases.train_loss, "epochs": phases.epoch}


@torch.no_grad()
def test_metrics(model: nn.Module, loader, limit: int = 0) -> dict[str, float]:
    """MSE and MAE over every test window (scaled data), with the model in evaluation mode."""
    model.eval()
    pairs = [(model(x), y) for x, y in batches(loader, limit)]
    predicted, true = torch.cat([p for p, _ in pairs]), torch.cat([t for _, t in pairs])
    return {"test_mse": F.mse_loss(predicted, true).item(), "test_mae": F.l1_loss(predicted, true).item()}


def forecast(cfg: dict, ctx, data_path, backbone: dict, first_epoch: int = 0) -> dict:
    """patchtst_finetune.py --is_linear_probe 1 (or --is_finetune 1): the pre-trained backbone
    under a new prediction head; the LR range test (on the whole model, as the authors'
    find_lr does), then linear probing: n_epochs_finetune epochs of the head alone; or
    fine-tuning: 10 epochs of the head, then n_epochs_finetune of everything at half the rate."""
    data = loaders(load_etth1(data_path, cfg["context_points"], cfg["target_points"]), cfg["batch_size"])
    mse = lambda model: stepper(lambda batch: F.mse_loss(model(batch[0]), batch[1]))  # noqa: E731

    def fresh():
        model = seeded(build_model, cfg, ctx.seed)
        model.backbone.load_state_dict(backbone)  # transfer_weights: everything but the head
        return model

    lr = cfg["lr"]
    if cfg["lr_finder"]:
        probe = fresh()
        lr = find_lr(probe, mse(probe), data["train"])
    model = fresh()
    optimizer = make_optimizer(model, {**cfg, "lr": lr})
    phases = Phases(ctx, data, cfg, first_epoch)
    if cfg["finetune_mode"] == "linear_probe":
        phases.one_cycle(model, optimizer, mse(model), cfg["n_epochs_finetune"], lr, "probe")
    else:
        freeze_backbone(model)
        phases.one_cycle(model, optimizer, mse(model), cfg["freeze_epochs"], lr, "head")
        for p in model.parameters():
            p.requires_grad_(True)
        phases.one_cycle(model, optimizer, mse(model), cfg["n_epochs_finetune"], lr / 2, "finetune")
    model.load_state_dict(phases.best_state)  # test_func loads the best checkpoint
    return {**test_metrics(model, data["test"], cfg["eval_windows"] // cfg["batch_size"]),
            "best_val_loss": phases.best, "train_loss": phases.train_loss, "lr": lr}


def run(cfg: dict, ctx) -> dict[str, float]:
    ctx.expect_steps(cfg["n_epochs_pretrain"] + cfg["n_epochs_finetune"]
                     + (cfg["freeze_epochs"] if cfg["finetune_mode"] == "finetune" else 0))
    pretrained = pretrain(cfg, ctx, ctx.data["ETTh1.csv"])
    results = forecast(cfg, ctx, ctx.data["ETTh1.csv"], pretrained.pop("backbone"), pretrained.pop("epochs"))
    return {**results, **pretrained}
