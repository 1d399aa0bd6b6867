"""The quick profile is bitwise deterministic on one machine: the premise of the exact mode.

(The GRU is left out for time; tests/test_baselines.py compares all four models with the
committed baseline exactly wherever this machine's numerics fingerprint is the baseline's.)
"""

from __future__ import annotations

import os

from repro.noise import THREADS_PER_RUN
from repro.run import reproduce


def test_two_quick_runs_give_identical_metrics_and_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_HOME", str(tmp_path))
    runs = [
        reproduce("mnist1d", profile="quick", device="cpu", jobs=os.cpu_count() or 1, threads=THREADS_PER_RUN,
                  claim_ids=["logistic_test_acc", "mlp_test_acc", "cnn_test_acc"])
        for _ in range(2)
    ]
    first, second = ([(r.setting, r.metrics, r.curves) for r in o.records] for o in runs)
    assert first == second  # floats compared exactly: same bits, not merely close
    assert len(first) == 3 and all(metrics for _, metrics, _ in first)
    fingerprints = {r.numerics_id for o in runs for r in o.records}
    assert len(fingerprints) == 1 and None not in fingerprints  # the same machine: the same fingerprint
