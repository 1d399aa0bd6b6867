"""What `repro check mnist1d` needs besides the implementation interface: an example batch,
the overfitting target, and the hints for this paper's typical mistakes.
"""

from __future__ import annotations

import torch

LENGTH, CLASSES = 40, 10
OVERFIT = {"examples": 32, "steps": 300, "target_loss": 0.05}

# Per stage, the likely causes when it fails, most frequent first.
HINTS = {
    "interface": [
        "define build_model(cfg), make_optimizer(model, cfg), train_step(model, optimizer, xb, yb) "
        "and run(cfg, ctx) at module level",
        "an import error above: run `python path/to/your_file.py` to see it whole",
    ],
    "structure": [
        ("shape", "wrong padding or stride in a convolution, or a hidden size other than the paper's: the CNN turns "
                  "40 samples into 19, 10, 5 (kernel 5, 3, 3; stride 2; padding 1), so its classifier reads 25 x 5 = "
                  "125 features; MLP 100 units, CNN 25 channels, GRU 6 each way and bidirectional"),
        "a missing or extra layer, or a bias switched off",
    ],
    "forward": [
        ("nonlinearity", "a missing nonlinearity: ReLU after every convolution and hidden layer"),
        ("residual", "a missing residual: the MLP adds its second hidden layer to the first (h + relu(linear2(h)))"),
        ("reshape", "a different flattening order: flatten (batch, channels, length) as it is, channel-major "
                    "(.flatten(1)), not after a transpose"),
        ("shape", "a convolution's padding or stride: the weights fit, but the output length differs "
                  "(40 -> 19 -> 10 -> 5)"),
        ("layer", "the GRU reads (batch, length, 1) with batch_first=True, from a zero state; a convolution's "
                  "stride, padding or dilation"),
        "the GRU reads (batch, length, 1) with batch_first=True and its classifier reads every time step",
    ],
    "step": [
        ("softmax", "softmax before F.cross_entropy, which applies log-softmax itself: pass the raw logits"),
        ("loss_sum", "a loss summed over the batch instead of averaged (reduction='mean', the default)"),
        ("zero_grad", "gradients never zeroed: call optimizer.zero_grad() every step (the first step then matches, "
                      "the second not)"),
        ("lr_scale", "a different learning rate (the paper: Adam, lr 1e-2)"),
        ("weight_decay", "weight decay: the paper's Adam has none (no weight_decay=, not AdamW)"),
        ("optimizer", "a different optimizer (the paper: Adam, default betas and eps, lr 1e-2)"),
        ("loss", "another loss than F.cross_entropy on the raw logits, or a forward pass that differs in "
                 "training mode"),
    ],
    "overfit": [
        "the model cannot fit 32 examples: check the previous stages' hints, and that train_step "
        "really updates the model (optimizer built on model.parameters(), optimizer.step() called)",
    ],
    "quick": [
        ("eval_split", "evaluation on the training split instead of the 1000 test examples (x_test, y_test)"),
        ("labels", "labels shifted or mismatched in training (y[start : start + batch] must go with "
                   "x[start : start + batch])"),
        "evaluation in training mode: call model.eval() (and torch.no_grad()) to evaluate",
        ("data_order", "batches not taken in order through the training set (x[start : start + batch], start "
                       "advancing by the batch size), or another batch size"),
    ],
    "full": [
        "compare with the re-implementation's results in papers/mnist1d/README.md, claim by claim",
    ],
}


def example_batch(cfg: dict, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of signals and labels: (size, 40) floats, (size,) class ids."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, LENGTH, generator=generator)  # (batch, length)
    y = torch.randint(0, CLASSES, (size,), generator=generator)  # (batch,)
    return x, y


def softmax_before_the_loss(reference, cfg: dict, x, y, loss: float) -> dict[str, str]:
    """The step stage's own signature: your step-1 loss is what cross-entropy gives on the
    softmax of the reference's logits (the same weights and batch)."""
    import torch.nn.functional as F

    torch.manual_seed(0)  # the step stage's initial weights
    with torch.no_grad():
        logits = reference.build_model(cfg)(x)  # (batch, classes)
        if_softmaxed = F.cross_entropy(F.softmax(logits, dim=-1), y).item()
    if abs(if_softmaxed - loss) <= 1e-4 * abs(loss):
        return {"softmax": f"your step-1 loss {loss:.6g} is cross_entropy(softmax(logits)) of the same logits"}
    return {}


def labels_or_split(ours: dict, theirs: dict, cfg: dict) -> dict[str, str]:
    """The quick stage's own signatures, from a failed run's metrics."""
    test, train = ours.get("test_acc"), ours.get("train_acc")
    if test is None or train is None:
        return {}
    if test == train:
        return {"eval_split": f"test_acc equals train_acc exactly ({test}): both measured on the same examples?"}
    chance = 100 / CLASSES
    # worse than guessing (chance on 1000 examples is 10 ± 1%): a consistent mapping of the labels
    if train > 2 * chance and test < 0.75 * chance:
        return {"labels": f"train accuracy {train:.1f}% but test accuracy {test:.1f}%, well below chance "
                          f"({chance:.0f}%): the model learned labels mapped to others (shifted or permuted)"}
    return {}


# Signatures this paper adds to the stages' own (repro.authoring.check.SIGNATURE_HINTS).
EVIDENCE = {"step": softmax_before_the_loss, "quick": labels_or_split}

