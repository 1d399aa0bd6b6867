"""A character-level GPT on tiny Shakespeare (nanoGPT), re-implemented by {name}.

Your task: the "baby GPT" of karpathy/nanoGPT's README and the way train.py trains it, from
papers/nanogpt/README.md ("Protocol"). Do not open reimpl.py or the authors' code until you
are stuck: `repro check nanogpt --impl {name}` tells you, stage by stage, where your version
differs from the reference and what usually causes it.

Fill in the TODOs from top to bottom, running the check after each function:

    repro check nanogpt --impl {name}     # interface, structure, forward, step, overfit, quick
    repro run nanogpt --impl {name}       # your numbers next to the README's
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# build_model(cfg) sees no data, so the vocabulary size is fixed: tiny Shakespeare has 65
# distinct characters.
VOCAB_SIZE = 65

# ---------------------------------------------------------------------------- data


def load_data(path) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiny Shakespeare (the file at `path`, which run() gets as ctx.data["input.txt"]) as
    character ids: (train, val) long tensors.

    README "Protocol", Data: the vocabulary, and how the text is split (1,003,854 training and
    111,540 validation characters).
    """
    raise NotImplementedError("TODO: read, encode and split the text")


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, device: str):
    """A batch of random windows of the text: inputs and targets, each (batch_size, block_size).

    README "Protocol", Data: where the windows start (torch's global generator, which the harness
    has seeded) and how the targets relate to the inputs.
    """
    raise NotImplementedError("TODO: random windows, inputs and targets")


# --------------------------------------------------------------------------- model
# README "Protocol", Model: a GPT of n_layer blocks, n_head heads and n_embd channels (cfg holds
# them, named as nanoGPT names them). Write small nn.Module classes from small to large above
# build_model: CausalSelfAttention, MLP, Block, GPT. `repro check` compares parameter counts,
# shapes and each layer's output with the reference. Comment the shape wherever a tensor
# changes shape, e.g. `# (B, T, C)`.


def build_model(cfg: dict) -> nn.Module:
    """The GPT for cfg; its forward takes (batch, T) character ids, T <= cfg["block_size"], and
    returns the logits of the next character at every position: (batch, T, VOCAB_SIZE).

    README "Protocol", Model: the layers, the weight tying, biases (cfg["bias"]) and the
    initialisation.
    """
    raise NotImplementedError("TODO: build the GPT")


# ------------------------------------------------------------------------ training


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """README "Protocol", Training: the optimizer, its betas, and which parameters get weight decay."""
    raise NotImplementedError("TODO: nanoGPT's optimizer")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor,
               grad_clip: float = 1.0) -> float:
    """One update on the batch (xb, yb: (batch, T) character ids); return the loss before the update.

    README "Protocol", Training: the loss over every position, and gradient clipping at
    grad_clip. (The learning rate is run()'s business: it sets it before each step.) Extra
    arguments you add (e.g. for mixed precision on a GPU) need defaults.
    """
    raise NotImplementedError("TODO: forward, loss, backward, clip, update")


def run(cfg: dict, ctx) -> dict[str, float]:
    """Train for cfg["max_iters"] iterations as train.py does and return {"val_loss": ...,
    "train_loss": ..., "best_val_loss": ...} (and what else you like, e.g. "tokens_per_s").

    README "Protocol", Training and Evaluation: the learning-rate schedule (warmup_iters,
    lr_decay_iters, min_lr), when the losses are estimated (eval_interval) and over how many
    batches (eval_iters), and how many updates there are in all. The harness has already seeded
    python, numpy and torch from ctx.seed; ctx.device is "cpu" or "cuda". Call
    ctx.expect_steps(cfg["max_iters"]) once and ctx.log(iter_num, train_loss=..., val_loss=...)
    at each evaluation: they draw your curves and the progress display.
    """
    raise NotImplementedError("TODO: the training loop and the evaluations")
