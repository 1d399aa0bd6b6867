"""MNIST-1D benchmark models, re-implemented from the paper (Greydanus & Kobak, ICML 2024).

Four classifiers of 40-sample 1D signals into 10 digit classes, trained the same way:
Adam, lr 1e-2, batch 100, batches taken in order through the 4000 training examples,
test accuracy on the 1000 held-out examples at the end. Model sizes follow the paper's
benchmark (about 5k-15k parameters each). The data comes from the official generator,
`mnist1d.data.make_dataset`, with the default arguments.

Read from top to bottom: data, the four models, training, and `run` (the entry point
the harness calls with the merged config and a RunContext). `build_model`, `make_optimizer`
and `train_step` are also what `repro check` compares a student's version against.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------- data


def load_data(cache_dir) -> dict[str, np.ndarray]:
    """The default MNIST-1D split (4000 train / 1000 test), generated once and cached.

    Generating takes ~2.4 s; the cached .npz loads in milliseconds. The generator seeds
    numpy's global RNG itself (seed 42), so the result never depends on the run's seed.
    """
    import os

    path = cache_dir / "mnist1d-default.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset

        data = make_dataset(get_dataset_args())
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, x=data["x"], y=data["y"], x_test=data["x_test"], y_test=data["y_test"])
        os.replace(tmp, path)  # atomic: a parallel run never sees half a file
    with np.load(path) as f:
        return {k: f[k] for k in ("x", "y", "x_test", "y_test")}


# -------------------------------------------------------------------------- models


class Logistic(nn.Module):
    """Multinomial logistic regression: one linear layer on the raw signal."""

    def __init__(self, length: int = 40, classes: int = 10):
        super().__init__()
        self.linear = nn.Linear(length, classes)

    def forward(self, x):  # x: (batch, length)
        return self.linear(x)  # (batch, classes)


class MLP(nn.Module):
    """Two hidden layers of 100 ReLU units; the second is added to the first (a residual)."""

    def __init__(self, length: int = 40, classes: int = 10, hidden: int = 100):
        super().__init__()
        self.linear1 = nn.Linear(length, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, classes)

    def forward(self, x):  # x: (batch, length)
        h = F.relu(self.linear1(x))  # (batch, hidden)
        h = h + F.relu(self.linear2(h))  # (batch, hidden)
        return self.linear3(h)  # (batch, classes)


class CNN(nn.Module):
    """Three strided 1D convolutions (25 channels) and a linear classifier on top."""

    def __init__(self, length: int = 40, classes: int = 10, channels: int = 25):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, kernel_size=5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)
        for kernel in (5, 3, 3):  # each conv: L -> (L + 2 * padding - kernel) // stride + 1
            length = (length + 2 * 1 - kernel) // 2 + 1
        self.linear = nn.Linear(channels * length, classes)  # 25 * 5 = 125 inputs for L = 40

    def forward(self, x):  # x: (batch, length)
        h = x.unsqueeze(1)  # (batch, 1, 40)
        h = F.relu(self.conv1(h))  # (batch, 25, 19)
        h = F.relu(self.conv2(h))  # (batch, 25, 10)
        h = F.relu(self.conv3(h))  # (batch, 25, 5)
        h = h.flatten(1)  # (batch, 125), channel-major: all positions of channel 0 first
        return self.linear(h)  # (batch, classes)


class GRU(nn.Module):
    """A bidirectional GRU (6 units each way) reading the signal one sample at a time;
    a linear classifier reads the hidden states of every time step."""

    def __init__(self, length: int = 40, classes: int = 10, hidden: int = 6):
        super().__init__()
        self.gru = nn.GRU(input_size=1, hidden_size=hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * length, classes)

    def forward(self, x):  # x: (batch, length)
        h, _ = self.gru(x.unsqueeze(-1))  # (batch, length, 2 * hidden), zero initial state
        return self.linear(h.flatten(1))  # (batch, length * 2 * hidden) -> (batch, classes)


MODELS = {"logistic": Logistic, "mlp": MLP, "cnn": CNN, "gru": GRU}


def build_model(cfg: dict) -> nn.Module:
    return MODELS[cfg["model"]]()


# ------------------------------------------------------------------------ training


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Percentage of correct predictions, in evaluation mode."""
    was_training = model.training
    model.eval()
    correct = (model(x).argmax(dim=-1) == y).sum().item()  # an exact integer count
    model.train(was_training)
    return 100.0 * correct / len(y)


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"])


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor) -> float:
    """One update on a batch; returns the batch's loss before the update."""
    loss = F.cross_entropy(model(xb), yb)  # mean over the batch, on raw logits
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def run(cfg: dict, ctx, build_model=build_model) -> dict[str, float]:
    """Train and test one model. A variant (papers/mnist1d/variants/) passes its own build_model."""
    data = load_data(ctx.cache_dir)
    x = torch.tensor(data["x"], dtype=torch.float32, device=ctx.device)  # (4000, 40)
    y = torch.tensor(data["y"], dtype=torch.long, device=ctx.device)  # (4000,)
    x_test = torch.tensor(data["x_test"], dtype=torch.float32, device=ctx.device)  # (1000, 40)
    y_test = torch.tensor(data["y_test"], dtype=torch.long, device=ctx.device)  # (1000,)

    model = build_model(cfg).to(ctx.device)  # initialised from the seed the worker set
    optimizer = make_optimizer(model, cfg)
    steps, batch, eval_every = cfg["total_steps"], cfg["batch_size"], cfg["eval_every"]
    ctx.expect_steps(steps)

    for step in range(1, steps + 1):
        start = ((step - 1) * batch) % len(x)  # batches in order, wrapping around the set
        xb, yb = x[start : start + batch], y[start : start + batch]  # (batch, 40), (batch,)
        loss = train_step(model, optimizer, xb, yb)
        if step % eval_every == 0 or step == steps:
            ctx.log(step, train_loss=loss, test_acc=accuracy(model, x_test, y_test))

    return {
        "test_acc": accuracy(model, x_test, y_test),
        "train_acc": accuracy(model, x, y),
    }


# ------------------------------------------------- several seeds at once (--vectorize-seeds)


def run_seeds(cfg: dict, contexts: list, build_model=build_model) -> list[dict[str, float]]:
    """Train one model per context (each its own seed) at once, for `repro run --vectorize-seeds`.

    A model this small leaves the CPU mostly idle, so the seeds' weights are stacked along a
    new first dimension (torch.func.stack_module_state) and one training step is vmapped over
    it: every matrix product becomes one batched product. Each model starts from its seed's
    own weights (ctx.reseed(), then build_model, as run() does); MNIST-1D's batches come in a
    fixed order, the same for every seed; and Adam's update is element by element, so one Adam
    over the stacked weights is each seed's own Adam. The numbers agree with one-seed runs up
    to float rounding (batched kernels add in another order), which training amplifies the way
    another machine does: within the portable tolerance, not bit for bit.

    The GRU is not vectorised this way: vmap has no batching rule for torch's fused GRU
    (aten::gru.input), so its seeds run one after another in this one worker.
    """
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    if cfg["model"] == "gru":
        results = []
        for ctx in contexts:
            ctx.reseed()
            results.append(run(cfg, ctx, build_model))
        return results

    device = contexts[0].device
    data = load_data(contexts[0].cache_dir)
    x = torch.tensor(data["x"], dtype=torch.float32, device=device)  # (4000, 40)
    y = torch.tensor(data["y"], dtype=torch.long, device=device)
    x_test = torch.tensor(data["x_test"], dtype=torch.float32, device=device)  # (1000, 40)
    y_test = torch.tensor(data["y_test"], dtype=torch.long, device=device)

    models = []
    for ctx in contexts:
        ctx.reseed()
        models.append(build_model(cfg).to(device))
    params, buffers = stack_module_state(models)  # {name: (seeds, *shape)}, leaves that require grad
    skeleton = copy.deepcopy(models[0]).to("meta")  # the architecture, without weights of its own

    def logits(p, b, xb):  # one seed's weights: (batch, 40) -> (batch, classes)
        return functional_call(skeleton, (p, b), (xb,))

    def loss(p, b, xb, yb):
        return F.cross_entropy(logits(p, b, xb), yb)

    batch_loss = vmap(loss, in_dims=(0, 0, None, None))  # every seed on the same batch: (seeds,)
    batch_logits = vmap(logits, in_dims=(0, 0, None))  # (seeds, batch, classes)

    @torch.no_grad()
    def accuracies(xs, ys) -> list[float]:
        correct = (batch_logits(params, buffers, xs).argmax(dim=-1) == ys).sum(dim=-1)  # (seeds,)
        return [100.0 * int(c) / len(ys) for c in correct]

    optimizer = torch.optim.Adam(params.values(), lr=cfg["learning_rate"])
    steps, batch, eval_every = cfg["total_steps"], cfg["batch_size"], cfg["eval_every"]
    for ctx in contexts:
        ctx.expect_steps(steps)
    for step in range(1, steps + 1):
        start = ((step - 1) * batch) % len(x)
        xb, yb = x[start : start + batch], y[start : start + batch]
        losses = batch_loss(params, buffers, xb, yb)  # (seeds,)
        optimizer.zero_grad()
        losses.sum().backward()  # each seed's gradient is its own loss's
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            for ctx, value, acc in zip(contexts, losses.tolist(), accuracies(x_test, y_test)):
                ctx.log(step, train_loss=value, test_acc=acc)

    return [{"test_acc": test, "train_acc": train}
            for test, train in zip(accuracies(x_test, y_test), accuracies(x, y))]

