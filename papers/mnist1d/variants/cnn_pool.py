"""MNIST-1D's CNN with global max pooling over positions instead of flattening them.

The idea: MNIST-1D's digits are shifted at random along the signal, so a feature should
count wherever it occurs. The re-implementation's CNN flattens its last feature map (25
channels x 5 positions) into the classifier, which must learn each position apart; here
each channel's largest value over the positions goes in (25 inputs), so the classifier
sees what was found, not where. One thing changes (the classifier's input); the other
models, the data and the training are the re-implementation's.

    repro compare mnist1d --impl reimpl --vs cnn_pool --claims cnn_test_acc --seeds 5

says whether it helps, and how sure one can be.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from repro.variants import reimplementation

reimpl = reimplementation(__file__)


class PooledCNN(reimpl.CNN):
    """The CNN's three convolutions, then the largest value of each channel over positions."""

    def __init__(self, length: int = 40, classes: int = 10, channels: int = 25):
        super().__init__(length, classes, channels)
        self.linear = nn.Linear(channels, classes)  # 25 inputs instead of 25 * 5

    def forward(self, x):  # x: (batch, length)
        h = x.unsqueeze(1)  # (batch, 1, 40)
        h = F.relu(self.conv1(h))  # (batch, 25, 19)
        h = F.relu(self.conv2(h))  # (batch, 25, 10)
        h = F.relu(self.conv3(h))  # (batch, 25, 5)
        h = h.amax(dim=-1)  # (batch, 25): each channel's strongest response, wherever it is
        return self.linear(h)  # (batch, classes)


def build_model(cfg: dict):
    return PooledCNN() if cfg["model"] == "cnn" else reimpl.build_model(cfg)


def run(cfg: dict, ctx) -> dict[str, float]:
    return reimpl.run(cfg, ctx, build_model=build_model)


def run_seeds(cfg: dict, contexts: list) -> list[dict[str, float]]:  # --vectorize-seeds
    return reimpl.run_seeds(cfg, contexts, build_model=build_model)
