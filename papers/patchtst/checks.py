"""What `repro check patchtst` needs besides the implementation interface: an example batch,
the overfitting target, a stage of this paper's own (the backbone really frozen during linear
probing), and the hints for this paper's typical mistakes.

A batch is (x, y): x (size, context_points, 7) the input window, y (size, target_points, 7)
the horizon. build_model's model is the forecasting model (backbone + linear head) and
make_optimizer(model, cfg) the linear-probing optimizer: the stages check the probing phase,
the paper's subject; pre-training is checked by the quick stage's numbers.
"""

from __future__ import annotations

import math

import torch

from repro.authoring.check import CheckFailed, paired_models

N_VARS = 7
OVERFIT = {"examples": 4, "steps": 60, "target_loss": 0.1}  # MSE on one batch of 4 windows, head only; 0.0076 measured
FROZEN_STEPS = 3


def example_batch(cfg: dict, size: int = 2, seed: int = 0):
    """Windows of a fixed random mix of daily and half-daily cycles plus noise, 7 variables."""
    generator = torch.Generator().manual_seed(seed)
    seq_len, pred_len = cfg["context_points"], cfg["target_points"]
    steps = torch.arange(seq_len + pred_len + size).float()  # (T + size,)
    phase = torch.rand(2, N_VARS, generator=generator) * 2 * math.pi  # (2, 7)
    series = (torch.sin(2 * math.pi * steps[:, None] / 24 + phase[0])  # (T + size, 7)
              + 0.5 * torch.sin(2 * math.pi * steps[:, None] / 12 + phase[1])
              + 0.1 * torch.randn(len(steps), N_VARS, generator=generator))
    x = torch.stack([series[i:i + seq_len] for i in range(size)])  # (size, seq_len, 7)
    y = torch.stack([series[i + seq_len:i + seq_len + pred_len] for i in range(size)])  # (size, pred_len, 7)
    return x, y


def _norm_buffers(model) -> list[tuple[str, torch.Tensor]]:
    """The BatchNorm layers' running mean and variance, in module order."""
    return [(f"{name}.{kind}", getattr(module, kind).clone()) for name, module in model.named_modules()
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) for kind in ("running_mean", "running_var")]


def _modes(model) -> list[tuple[str, bool]]:
    return [(name, module.training) for name, module in model.named_modules()
            if isinstance(module, (torch.nn.Dropout, torch.nn.modules.batchnorm._BatchNorm))]


def check_frozen(student, reference, cfg: dict) -> list[str]:
    """Linear probing as the authors do it: both models from the same weights, put in training
    mode (as run() does every epoch), the optimizer from make_optimizer, FROZEN_STEPS updates
    on the same batch with the same dropout draws. Then: the optimizer holds the head's
    parameters and nothing else; no backbone parameter asks for gradients or moved; every head
    parameter moved; the losses are the reference's (dropout in the same mode); BatchNorm's
    running statistics moved as the reference's (the authors' model is in training mode while
    probing, so they follow the probing data)."""
    if cfg["finetune_mode"] != "linear_probe":
        return [f"finetune_mode {cfg['finetune_mode']}: not linear probing, nothing is frozen"]
    ours, theirs, pairs = paired_models(student, reference, cfg)
    their_head = {id(p) for p in theirs.head.parameters()}
    head = [(name, p) for name, p, p_r in pairs if id(p_r) in their_head]
    backbone = [(name, p) for name, p, p_r in pairs if id(p_r) not in their_head]
    ours.train(), theirs.train()
    optimizer = student.make_optimizer(ours, cfg)
    their_optimizer = reference.make_optimizer(theirs, cfg)

    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    held_backbone = [name for name, p in backbone if id(p) in held]
    if held_backbone:
        raise CheckFailed(f"the optimizer holds {len(held_backbone)} backbone tensors ({', '.join(held_backbone[:3])}, "
                          "...): linear probing gives it the head's parameters only",
                          evidence={"backbone_in_optimizer": f"{len(held_backbone)} backbone tensors in the optimizer"})
    missing = [name for name, p in head if id(p) not in held]
    if missing:
        raise CheckFailed(f"the optimizer lacks head parameters: {', '.join(missing)}",
                          evidence={"head_not_in_optimizer": f"{len(missing)} head tensors missing from the optimizer"})
    asking = [name for name, p in backbone if p.requires_grad]
    if asking:
        raise CheckFailed(f"{len(asking)} backbone tensors still have requires_grad=True ({', '.join(asking[:3])}, ...): "
                          "backward runs through the whole backbone for nothing, and any optimizer that holds "
                          "them would move them",
                          evidence={"not_frozen": f"{len(asking)} backbone tensors with requires_grad=True"})
    frozen_head = [name for name, p in head if not p.requires_grad]
    if frozen_head:
        raise CheckFailed(f"head parameters with requires_grad=False: {', '.join(frozen_head)}",
                          evidence={"head_frozen": f"{len(frozen_head)} head tensors with requires_grad=False"})

    before = {name: p.detach().clone() for name, p in head + backbone}
    x, y = example_batch(cfg, size=8, seed=3)
    for step in range(1, FROZEN_STEPS + 1):
        torch.manual_seed(step)
        loss = float(student.train_step(ours, optimizer, x, y))
        torch.manual_seed(step)
        their_loss = float(reference.train_step(theirs, their_optimizer, x, y))
        if not math.isclose(loss, their_loss, rel_tol=1e-4, abs_tol=1e-6):
            lines = [f"step {step} in training mode: loss {loss:.6g}, the reference's {their_loss:.6g} (with the same "
                     "weights and the same random draws: dropout or BatchNorm in another mode)"]
            lines += [f"{name}: yours in {'training' if a else 'evaluation'} mode, the reference's in "
                      f"{'training' if b else 'evaluation'} mode" for (name, a), (_, b) in zip(_modes(ours), _modes(theirs))
                      if a != b][:3]
            modes = {"modes": f"{len(lines) - 1} layers in another mode than the reference's"} if len(lines) > 1 else {}
            raise CheckFailed(*lines, evidence=modes)
    moved = [(name, (p.detach() - before[name]).abs().max().item()) for name, p in backbone
             if not torch.equal(p.detach(), before[name])]
    if moved:
        name, change = moved[0]
        raise CheckFailed(f"after {FROZEN_STEPS} steps {len(moved)} backbone tensors moved, first {name} "
                          f"(max |change| {change:.3g}); a frozen backbone stays bit for bit as it was")
    still = [name for name, p in head if torch.equal(p.detach(), before[name])]
    if still:
        raise CheckFailed(f"after {FROZEN_STEPS} steps these head parameters did not move: {', '.join(still)}")
    for (name, ours_stat), (_, their_stat) in zip(_norm_buffers(ours), _norm_buffers(theirs)):
        if not torch.allclose(ours_stat, their_stat, rtol=1e-4, atol=1e-6):
            raise CheckFailed(f"{name} after {FROZEN_STEPS} steps differs from the reference's (max |difference| "
                              f"{(ours_stat - their_stat).abs().max().item():.3g}): the authors' probing keeps the "
                              "model in training mode, so BatchNorm's running statistics follow the probing data")
    return [f"optimizer: the head's {len(head)} tensors only; {len(backbone)} backbone tensors without gradients, "
            f"unchanged after {FROZEN_STEPS} steps; the head moved; losses and BatchNorm running statistics "
            "as the reference's (which updates them while probing)"]


# This paper's own stages: name -> (the built-in stage it follows, what it checks, the function).
STAGES = {
    "frozen": ("forward", "linear probing: only the head in the optimizer and moving, the backbone frozen, "
                       "modes and running statistics as the reference's", check_frozen),
}

# Per stage, the likely causes when it fails, most frequent first.
HINTS = {
    "interface": [
        "define build_model(cfg), make_optimizer(model, cfg), train_step(model, optimizer, xb, yb) and "
        "run(cfg, ctx) at module level",
        "an import error above: run `python path/to/your_file.py` to see it whole",
    ],
    "structure": [
        ("shape", "a layer's output shaped otherwise than the reference's: d_model, d_ff (512 in both phases), "
                  "n_heads or the number of patches, (context_points - patch_len) // stride + 1 = 42"),
        "the number of patches: (context_points - patch_len) // stride + 1 = 42; the first "
        "context_points - (patch_len + stride * 41) steps are dropped, not padded",
        "the head maps all of a variable's patch embeddings, flattened (d_model * num_patch), to the "
        "horizon: Linear(128 * 42, target_points), one shared by the 7 variables",
        "d_ff is 512 in both phases: with 256 the pre-trained feed-forward weights do not fit",
        "BatchNorm1d(d_model) over (batch * n_vars, d_model, num_patch), not LayerNorm",
        "W_pos is a learned (num_patch, d_model) parameter, uniform in [-0.02, 0.02]",
    ],
    "forward": [
        "RevIN: subtract each window's per-variable mean over time, divide by sqrt(var(unbiased=False) + "
        "1e-5) before patching, undo both on the output",
        ("reshape", "channel independence: (batch, num_patch, n_vars, d_model) -> (batch * n_vars, num_patch, "
                    "d_model) after transpose(1, 2); the reshape without the transpose mixes variables"),
        ("residual", "post-norm layers with their residuals: x = norm(x + dropout(attention(x))), then "
                     "x = norm(x + dropout(ff(x)))"),
        ("nonlinearity", "the feed-forward's ReLU missing (or another activation): Linear(d_model, d_ff), ReLU, "
                         "dropout, Linear(d_ff, d_model)"),
        ("layer", "the layer's settings: attention scaled by head_dim ** -0.5 with 16 heads of 8, BatchNorm1d over "
                  "d_model, or RevIN's statistics (mean over time, var(unbiased=False) + 1e-5)"),
        "post-norm layers: x = norm(x + dropout(attention(x))), then x = norm(x + dropout(ff(x)))",
        "attention scaled by head_dim ** -0.5 with 16 heads of 8",
        "build_model must return the model in evaluation mode (`return model.eval()`)",
    ],
    "step": [
        ("loss_sum", "the loss summed: MSE of the de-normalised forecast against y averages (F.mse_loss, mean)"),
        ("loss", "the loss: MSE of the de-normalised forecast against y (F.mse_loss, mean)"),
        ("lr_scale", "a different learning rate: Adam at cfg['lr'] (or the LR range test's suggestion)"),
        ("weight_decay", "weight decay: the authors' Adam has none"),
        ("optimizer", "a different optimizer: Adam, default betas and eps"),
        ("zero_grad", "gradients never zeroed: optimizer.zero_grad() every step (the first step matches, the "
                      "second not)"),
        "train_step switching modes (model.train()): run() does that once per epoch",
    ],
    "frozen": [
        ("backbone_in_optimizer", "the whole model given to the optimizer: build it on model.head.parameters(), "
                                  "not model.parameters()"),
        ("not_frozen", "freeze before building the optimizer: requires_grad_(False) on every parameter, then True "
                       "on the head's"),
        ("head_frozen", "the head left frozen: freeze everything, then unfreeze model.head"),
        ("head_not_in_optimizer", "the head is what linear probing trains: give its parameters to the optimizer"),
        ("modes", "the backbone in evaluation mode while probing: the authors call model.train() on the whole "
                  "model, so dropout is on and BatchNorm keeps updating its running statistics (README: "
                  "Reproduction notes)"),
        "freeze first, then build the optimizer on the head's parameters: requires_grad_(False) on every "
        "parameter, True on model.head's",
    ],
    "overfit": [
        "the head cannot fit four windows: check that train_step really updates it (the optimizer holds "
        "model.head's parameters, optimizer.step() called)",
    ],
    "quick": [
        "seeding: torch.manual_seed(ctx.seed) right before each model is built (pre-training's, then the "
        "forecasting one), so the draws after it are the reference's",
        "the split borders: 12, 16 and 20 months of 30 days, val and test starting context_points early",
        "pre-training: mask 40% of each variable's patches (zeros), the loss on the masked patches only",
        "the one-cycle schedule is stepped after every batch, and cycles Adam's beta1 too (OneCycleLR)",
        ("data_order", "the batches: shuffled batches of batch_size (64) windows from a DataLoader seeded as the "
                       "reference's, the last one kept"),
        "the test uses the weights of the best validation epoch, not the last",
    ],
    "full": [
        "compare with the re-implementation's results in papers/patchtst/README.md, claim by claim",
        "the LR range test (lr_finder) picks both phases' learning rates: check the lr and pretrain_lr metrics",
    ],
}
