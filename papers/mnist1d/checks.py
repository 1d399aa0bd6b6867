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
        "wrong padding or stride in a convolution: the CNN turns 40 samples into 19, 10, 5 "
        "(kernel 5, 3, 3; stride 2; padding 1), so its classifier reads 25 x 5 = 125 features",
        "a hidden size other than the paper's (MLP 100, CNN 25 channels, GRU 6 each way, bidirectional)",
        "a missing or extra layer, or a bias switched off",
    ],
    "forward": [
        "a convolution's padding or stride: the weights fit, but the output length differs (40 -> 19 -> 10 -> 5)",
        "a missing nonlinearity: ReLU after every convolution and hidden layer",
        "a missing residual: the MLP adds its second hidden layer to the first (h + relu(linear2(h)))",
        "a different flattening order: flatten (batch, channels, length) as it is, channel-major "
        "(.flatten(1)), not after a transpose",
        "the GRU reads (batch, length, 1) with batch_first=True and its classifier reads every time step",
    ],
    "step": [
        "softmax or log_softmax before F.cross_entropy, which applies log-softmax itself",
        "a loss summed over the batch instead of averaged (reduction='mean', the default)",
        "gradients never zeroed: call optimizer.zero_grad() every step (the first step then matches, the second not)",
        "a different optimizer or learning rate (the paper: Adam, lr 1e-2)",
    ],
    "overfit": [
        "the model cannot fit 32 examples: check the previous stages' hints, and that train_step "
        "really updates the model (optimizer built on model.parameters(), optimizer.step() called)",
    ],
    "quick": [
        "evaluation on the training split instead of the 1000 test examples (x_test, y_test)",
        "evaluation in training mode: call model.eval() (and torch.no_grad()) to evaluate",
        "batches not taken in order through the training set, or a different number of steps",
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

