"""What `repro check tcn` needs besides the implementation interface: an example batch,
the overfitting target, and the hints for this paper's typical mistakes.

A batch here is one sequence (the authors train with batch size 1): xb holds frames 1..T of
a piano roll and yb frames 2..T+1, each shaped (1, T, 88), so `size` is the number of time
steps T, not a number of sequences.
"""

from __future__ import annotations

import torch

KEYS = 88
OVERFIT = {"examples": 32, "steps": 200, "target_loss": 30.0}  # examples: time steps of one sequence; summed NLL

# Per stage, the likely causes when it fails, most frequent first.
HINTS = {
    "interface": [
        "define build_model(cfg), make_optimizer(model, cfg), train_step(model, optimizer, xb, yb) "
        "and run(cfg, ctx) at module level; extra train_step arguments (the clip) need a default: "
        "train_step(model, optimizer, xb, yb, clip=0.4)",
        "an import error above: run `python path/to/your_file.py` to see it whole",
    ],
    "structure": [
        "a Chomp1d or padding module: the check pairs your leaf modules with the reference's in "
        "order, and the reference pads with F.pad inside forward (no module for it); a Chomp1d "
        "module shifts the pairing (slice inside forward instead: the same numbers)",
        "weight normalisation missing, or the old torch.nn.utils.weight_norm: use "
        "torch.nn.utils.parametrizations.weight_norm on both convolutions of a block (each has a "
        "bias, parametrizations.weight.original0 (g, (out, 1, 1)) and original1 (v))",
        "the 1x1 convolution on the residual path missing (the first block turns 88 channels into "
        "nhid, so its input cannot be added as it is) or present where channels already agree",
        "a module missing or extra, which shifts the pairing: per block conv1 -> relu1 -> "
        "dropout1 -> conv2 -> relu2 -> dropout2, the residual (downsample where channels "
        "differ), and a ReLU after the sum; levels blocks of nhid channels, kernel ksize, then "
        "one Linear(nhid, 88) and no Sigmoid module (the loss takes logits)",
        ("shape", "a layer's output shaped otherwise than the reference's: an output longer than the input (a "
                  "size mismatch at the residual sum) means padding on both sides without cutting the right end "
                  "(pad (kernel - 1) * dilation zeros on the left only); another width means nhid, levels or ksize "
                  "other than cfg's"),
        "an output longer than the input (a size mismatch at the residual sum): pad "
        "(kernel - 1) * dilation zeros on the left only, or pad both sides and cut that many "
        "steps off the right end",
        "the input is (batch, T, 88), time before keys: transpose to (batch, 88, T) for Conv1d "
        "and back before the linear layer",
    ],
    "forward": [
        ("padding", "non-causal padding: pad (kernel - 1) * dilation zeros on the left only (or on both sides "
                    "and cut that many steps off the right end); padding='same' or symmetric padding lets "
                    "step t see the future"),
        ("layer", "a convolution's settings: dilation 2**i at level i (1, 2, 4, ...) in both convolutions of the "
                  "block, kernel ksize, no padding inside Conv1d (the block pads with F.pad)"),
        "dilation not 2**i at level i (1, 2, 4, 8, ...), in both convolutions of the block",
        "build_model must return the model in evaluation mode (`return model.eval()`): the check "
        "compares outputs, which dropout would randomise; run() switches to model.train() per epoch",
        ("nonlinearity", "ReLU after the residual sum missing, or ReLU/dropout in the wrong place: "
                         "conv -> ReLU -> dropout, twice, then relu(out + residual)"),
        ("residual", "the residual missing: each block returns relu(out + x), x through the 1x1 downsample "
                     "convolution where the channels differ"),
        ("reshape", "the input is (batch, T, 88), time before keys: transpose(1, 2) to (batch, 88, T) for Conv1d "
                    "and back before the linear layer (a view or reshape mixes time and keys)"),
        ("after_last_layer", "a sigmoid in forward, or a slice of the output: forward returns the logits of every "
                             "time step, (batch, T, 88)"),
        "a sigmoid in forward: forward returns logits, the loss applies the sigmoid itself",
    ],
    "step": [
        ("loss_sum", "the loss averaged instead of summed: the paper's NLL sums over the 88 keys and the "
                     "time steps of the sequence (reduction='sum')"),
        ("lr_scale", "a different learning rate: Adam with lr=cfg['lr'] (1e-3)"),
        ("weight_decay", "weight decay: the authors' Adam has none (no weight_decay=, not AdamW)"),
        ("optimizer", "a different optimizer: Adam(model.parameters(), lr=cfg['lr']), default betas and eps"),
        ("zero_grad", "gradients never zeroed: optimizer.zero_grad() before loss.backward() every step (the "
                      "first step then matches, the second not)"),
        ("loss", "sigmoid applied twice or not at all: F.binary_cross_entropy_with_logits on the logits (or "
                 "F.binary_cross_entropy on their sigmoid), summed; or a forward pass that differs in training "
                 "mode (dropout)"),
        "gradient clipping before loss.backward() (as in the authors' code, where it never "
        "clips) or a different limit: clip_grad_norm_(model.parameters(), clip) after "
        "backward, before optimizer.step(), with clip=0.4 by default",
        "sigmoid applied twice: F.binary_cross_entropy_with_logits on logits, or "
        "F.binary_cross_entropy on sigmoid(logits), not both",
        "train_step switching modes (model.train()): run() does that once per epoch; the "
        "check's two steps run without dropout",
        "gradients never zeroed (the first step matches, the second not), or a different "
        "optimizer or learning rate (Adam, cfg['lr'])",
    ],
    "overfit": [
        "the model cannot fit one short sequence: check the previous stages' hints, and that "
        "train_step really updates the model (optimizer built on model.parameters(), "
        "optimizer.step() called)",
    ],
    "quick": [
        "evaluation in training mode: call model.eval() (and torch.no_grad()) to evaluate, "
        "otherwise dropout is on",
        "the NLL divided by the number of sequences (or of keys) instead of by the number of "
        "predicted frames: sum the NLL over a split, divide by the sum of (T - 1)",
        "the wrong target: predict frame t + 1 from frames <= t (x = seq[:-1], y = seq[1:])",
        ("data_order", "more than one sequence a step (zero-padded batches), or sequences not reshuffled each "
                       "epoch (a new torch.randperm order every epoch, one sequence a step)"),
        "the test loss of the last epoch instead of the best-validation weights",
        "the wrong data split or file (cfg['data']: JSB -> JSB_Chorales.mat, Nott -> Nottingham.mat)",
    ],
    "full": [
        "compare with the re-implementation's results in papers/tcn/README.md, claim by claim",
        "the learning-rate schedule: after epoch 10, lr / 10 whenever the validation NLL is "
        "above all of the previous three epochs'",
    ],
}


def example_batch(cfg: dict, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One fixed random piano roll of size + 1 frames, about 4 keys down per frame (as in
    the data): xb its first `size` frames, yb the same shifted one step, each (1, size, 88)."""
    generator = torch.Generator().manual_seed(seed)
    roll = (torch.rand(size + 1, KEYS, generator=generator) < 4 / KEYS).float()  # (T + 1, 88) 0/1
    return roll[:-1].unsqueeze(0), roll[1:].unsqueeze(0)  # (1, T, 88) each
