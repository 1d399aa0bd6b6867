"""TimesNet folded by the calendar: a day (24 h) and a week (168 h), instead of the periods
the FFT finds in each batch.

The idea is the closeness / period / trend arrangement of spatio-temporal models (ST-ResNet
and its successors): an hourly load series repeats with the day and the week, so lay it out
by those known periods rather than by whichever frequencies are strongest in a batch of
32 windows. One thing changes, TimesBlock.periods: the series (96 + horizon steps) is folded
into rows of 24 and of 168 steps, and each sample weighs the two views by its own FFT
amplitude at the calendar frequency (T / period cycles in T steps), softmaxed as TimesNet
does. top_k is ignored (two periods); everything else is the re-implementation's.

    repro compare timesnet --impl reimpl --vs calendar_periods --seeds 5

says whether the change makes a difference, and how sure one can be.
"""

from __future__ import annotations

import numpy as np
import torch

from repro.variants import reimplementation

reimpl = reimplementation(__file__)

CALENDAR_PERIODS = (24, 168)  # hours: a day, a week


class CalendarBlock(reimpl.TimesBlock):
    """A TimesBlock that folds by the calendar periods."""

    def periods(self, x) -> tuple[np.ndarray, torch.Tensor]:  # x: (batch, T, d_model)
        steps = x.shape[1]
        frequencies = [max(1, round(steps / period)) for period in CALENDAR_PERIODS]  # T = 192: 8 and 1
        amplitude = torch.fft.rfft(x, dim=1).abs().mean(-1)  # (batch, T // 2 + 1)
        return np.array(CALENDAR_PERIODS), amplitude[:, frequencies]  # (2,), (batch, 2)


def build_model(cfg: dict):
    return reimpl.build_model(cfg, block=CalendarBlock)


def run(cfg: dict, ctx) -> dict[str, float]:
    return reimpl.run(cfg, ctx, build_model=build_model)
