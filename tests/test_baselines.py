"""The regression gate: every paper's quick profile against its stored baseline.

This test's data directory is baselines/: pytest-regressions' data_regression compares the
metrics of a fresh quick run with baselines/<paper>/<impl>-quick.yml, and
`pytest --force-regen` rewrites the files. Who made a baseline, when and where (its
`created` and `environment`) is kept from the stored file, not compared; every metric is.
"""

from __future__ import annotations

import os

import pytest

from repro.baselines import (
    THREADS_PER_RUN,
    baseline_from_records,
    baseline_path,
    load_baseline,
    offline_implementations,
)
from repro.errors import ManifestError
from repro.manifest import load_paper, paper_ids
from repro.run import reproduce


def catalog() -> list[tuple[str, str]]:
    """Every paper's re-implementation, and any other implementation with a stored baseline."""
    targets = []
    for paper_id in paper_ids():
        try:
            paper = load_paper(paper_id)
        except ManifestError:  # a paper still being written (`repro new`): `repro show` lists its TODOs
            continue
        for impl in paper.implementations():
            if impl == "reimpl" or baseline_path(paper_id, impl).exists():
                targets.append((paper_id, impl))
    return targets


@pytest.mark.parametrize("paper_id, impl", catalog(), ids=lambda value: value)
def test_quick_profile_matches_its_baseline(paper_id, impl, data_regression, request, tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_HOME", str(tmp_path))
    paper = load_paper(paper_id)
    if impl not in offline_implementations(paper):
        pytest.skip(f"{impl} needs its code fetched first (`repro fetch {paper_id}`); CI runs offline")
    if paper.data and not os.environ.get("REPRO_DATA_DIR"):
        request.getfixturevalue("shared_data")  # the checksummed copies in ../shared/data, or a skip
    outcome = reproduce(paper, impl=impl, profile="quick", device="cpu", jobs=os.cpu_count() or 1,
                        threads=THREADS_PER_RUN)
    obtained = baseline_from_records(paper, impl, "quick", outcome.records)
    path = baseline_path(paper_id, impl)
    if path.exists() and not request.config.getoption("force_regen"):
        stored = load_baseline(path)
        obtained["created"], obtained["environment"] = stored["created"], stored["environment"]
    data_regression.check(obtained, fullpath=path)
