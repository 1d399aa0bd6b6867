"""The regression gate: quick profiles against their stored baselines. Each paper's main
implementation is gated by the catalog's quick run through the CLI (tests/papers/
test_catalog.py calls conftest's check_against_baseline with its records: one quick run
serves both);
this file runs the other implementations that have a baseline (a reference's).

This test's data directory is baselines/. Where this machine's numerics fingerprint is the
one a stored file was made with, pytest-regressions' data_regression compares the fresh
runs with that file exactly (bit for bit: any change is a change) and `pytest --force-regen`
rewrites its runs. On any other machine the same code and seed give other last bits, so the
runs are compared portably instead: each metric within the tolerance `repro baseline`
measured (5 x the spread over seeds and numerics perturbations), as `repro regress` does.
"""

from __future__ import annotations

import os

import pytest

from conftest import check_against_baseline
from repro.baselines import baseline_path, offline_implementations
from repro.errors import ManifestError
from repro.catalog import load_paper, paper_ids
from repro.noise import THREADS_PER_RUN
from repro.run import reproduce


def catalog() -> list[tuple[str, str]]:
    """Every implementation with a stored baseline that the catalog's quick-run test
    (tests/papers/test_catalog.py, which gates each paper's main implementation through the
    CLI with conftest's check_against_baseline) does not already run: e.g. a reference's."""
    targets = []
    for paper_id in paper_ids():
        try:
            paper = load_paper(paper_id)
        except ManifestError:  # a paper still being written (`repro new`): `repro show` lists its TODOs
            continue
        main = "reimpl" if "reimpl" in paper.implementations() else "reference"
        for impl in paper.implementations():
            if impl != main and baseline_path(paper_id, impl).exists():
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
    check_against_baseline(paper, impl, outcome.records, data_regression, request)
