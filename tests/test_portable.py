"""Numbers that hold on every machine: MNIST-1D's committed baseline, checked from "another
machine" emulated on this one.

The workers get ATEN_CPU_CAPABILITY=avx2 (ATen's AVX2 kernels instead of AVX-512; on a CPU
without AVX-512, its baseline kernels), which changes the quick MLP's test accuracy: its
numerics fingerprint is not the baseline's, so `repro regress` compares portably, within the
spread `repro baseline` measured. Unchanged code must pass, and planted regressions must
still fail. (`repro check` on another machine: tests/test_check.py; the exact mode's
one-ulp sensitivity: tests/test_regress.py.)
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from conftest import REPO, run_repro

QUICK_WITHOUT_GRU = ["logistic_test_acc", "mlp_test_acc", "cnn_test_acc"]  # the GRU is 3/4 of the time


@pytest.fixture
def another_machine(monkeypatch, repro_home):
    from repro.worker.numerics import cpu_info

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2" if "avx512f" in cpu_info()["isa"] else "default")


def regress_rows(*args: str) -> tuple[int, dict]:
    checked = run_repro("regress", *args, "--json")
    assert checked.returncode in (0, 1), checked.stderr[-2000:]
    return checked.returncode, json.loads(checked.stdout)


def test_unchanged_code_passes_portably_on_another_machine(another_machine):
    code, result = regress_rows("mnist1d")
    rows = [row for row in result["rows"] if row["impl"] == "reimpl"]  # (the authors' code: SKIPPED offline)
    assert {row["mode"] for row in rows} == {"portable"}
    assert code == 0, "\n".join(f"{r['setting']} {r['metric']}: {r['baseline']} -> {r['measured']} (±{r['tolerance']}) "
                                f"{r['status']}" for r in rows)
    assert len(rows) == 4 * 4  # 4 models x (test_acc, train_acc, test_acc@250, train_loss@250)
    made_on = yaml.safe_load((REPO / "baselines" / "mnist1d" / "reimpl-quick.yml").read_text())["machine"]
    assert result["notes"][0].startswith(f"mnist1d reimpl: portable: the baseline is from {made_on}; this machine is")
    assert "ATEN_CPU_CAPABILITY" in result["notes"][0]


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """A copy of the catalog's MNIST-1D whose quick profile leaves out the GRU, and the
    committed baseline without it; returns a function that plants a change in reimpl.py."""
    papers = tmp_path / "papers"
    shutil.copytree(REPO / "papers" / "mnist1d", papers / "mnist1d", ignore=shutil.ignore_patterns("students"))
    manifest = papers / "mnist1d" / "paper.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["profiles"]["quick"]["claims"] = QUICK_WITHOUT_GRU
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    baseline = yaml.safe_load((REPO / "baselines" / "mnist1d" / "reimpl-quick.yml").read_text())
    baseline["runs"] = [run for run in baseline["runs"] if run["setting"] != "model=gru"]
    (tmp_path / "baselines" / "mnist1d").mkdir(parents=True)
    (tmp_path / "baselines" / "mnist1d" / "reimpl-quick.yml").write_text(yaml.safe_dump(baseline))
    monkeypatch.setenv("REPRO_PAPERS", str(papers))
    monkeypatch.setenv("REPRO_BASELINES", str(tmp_path / "baselines"))

    def plant(old: str, new: str) -> None:
        reimpl = papers / "mnist1d" / "reimpl.py"
        text = reimpl.read_text()
        assert text.count(old) == 1, f"reimpl.py changed: expected one {old!r}"
        reimpl.write_text(text.replace(old, new))

    return plant


@pytest.mark.parametrize("old, new, caught_in", [
    pytest.param('Adam(model.parameters(), lr=cfg["learning_rate"])', 'Adam(model.parameters(), lr=cfg["learning_rate"] * 0.5)',
                 "model=logistic", id="learning-rate-halved"),
    # the MLP without its second hidden layer: its final accuracy stays inside what another
    # machine moves it by, but its loss at step 250 does not
    pytest.param("        h = h + F.relu(self.linear2(h))  # (batch, hidden)\n", "", "model=mlp",
                 id="mlp-second-layer-dropped"),
])
def test_a_planted_regression_still_fails_portably(another_machine, planted, old, new, caught_in):
    planted(old, new)  # (the same code passes: the test above)
    code, result = regress_rows("mnist1d")
    assert code == 1
    failed = [row for row in result["rows"] if row["status"] not in ("PASS", "SKIPPED")]
    assert failed and all(row["mode"] == "portable" for row in failed)
    assert any(row["setting"] == caught_in for row in failed), failed
