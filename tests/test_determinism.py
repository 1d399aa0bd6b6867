"""The quick profile is bitwise deterministic on one CPU: the premise of exact baselines."""

from __future__ import annotations

import os

from repro.baselines import THREADS_PER_RUN
from repro.run import reproduce


def test_two_quick_runs_give_identical_metrics_and_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_HOME", str(tmp_path))
    runs = [
        reproduce("mnist1d", profile="quick", device="cpu", jobs=os.cpu_count() or 1, threads=THREADS_PER_RUN)
        for _ in range(2)
    ]
    first, second = ([(r["spec"]["setting_label"], r["metrics"], r["curves"]) for r in o.records] for o in runs)
    assert first == second  # floats compared exactly: same bits, not merely close
    assert len(first) == 4 and all(metrics for _, metrics, _ in first)
