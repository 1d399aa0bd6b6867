"""`repro check` on every downloaded-data paper of the catalog: a copy of the paper's own
re-implementation passes every stage, the quick profile against the committed baseline
included. (MNIST-1D's stages are tested mistake by mistake in test_check.py.)"""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO

STAGES = [("interface", True), ("structure", True), ("forward", True), ("step", True), ("overfit", True),
          ("quick", True)]


@pytest.mark.parametrize("paper_id", ["tcn", "nanogpt"])
def test_check_passes_a_copy_of_the_reimplementation(paper_id, repro_home, shared_data, tmp_path):
    from repro.authoring.check import check
    from repro.catalog import load_paper

    copy = tmp_path / "copy.py"
    copy.write_text((REPO / "papers" / paper_id / "reimpl.py").read_text())
    stages = check(load_paper(paper_id), str(copy))
    assert [(s.name, s.passed) for s in stages] == STAGES, [s.to_dict() for s in stages if not s.passed]


def test_a_stored_number_from_another_machine_is_said_to_be_one(repro_home, shared_data, tmp_path, monkeypatch):
    """--stored-baseline on "another machine" (ATen's kernels capped): the quick stage uses the
    committed baseline instead of running the reference, and says where the number comes from
    and which tolerance that allows (the spread measured across machines)."""
    from repro.authoring.check import check
    from repro.catalog import load_paper

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    copy = tmp_path / "copy.py"
    copy.write_text((REPO / "papers" / "tcn" / "reimpl.py").read_text())
    stages = check(load_paper("tcn"), str(copy), stored_baseline=True)
    assert [(s.name, s.passed) for s in stages] == STAGES, [s.to_dict() for s in stages if not s.passed]
    (line,) = stages[-1].details
    made_on = yaml.safe_load((REPO / "baselines" / "tcn" / "reimpl-quick.yml").read_text())["machine"]
    assert f"stored on another machine ({made_on})" in line, line
