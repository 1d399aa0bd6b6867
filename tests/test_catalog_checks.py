"""`repro check` on every downloaded-data paper of the catalog: a copy of the paper's own
re-implementation passes every stage, the quick profile against the committed baseline
included. (MNIST-1D's stages are tested mistake by mistake in test_check.py.)"""

from __future__ import annotations

import pytest

from conftest import REPO

STAGES = [("interface", True), ("structure", True), ("forward", True), ("step", True), ("overfit", True),
          ("quick", True)]


@pytest.mark.parametrize("paper_id", ["tcn", "nanogpt"])
def test_check_passes_a_copy_of_the_reimplementation(paper_id, repro_home, shared_data, tmp_path):
    from repro.check import check
    from repro.manifest import load_paper

    copy = tmp_path / "copy.py"
    copy.write_text((REPO / "papers" / paper_id / "reimpl.py").read_text())
    stages = check(load_paper(paper_id), str(copy))
    assert [(s.name, s.passed) for s in stages] == STAGES, [s.to_dict() for s in stages if not s.passed]
