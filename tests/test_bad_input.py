"""Bad command-line input: one `error:` line naming the flag and the reason, exit 2, no
traceback, nothing run (issue 15's cases; the property-based fuzzing is in test_fuzz.py)."""

from __future__ import annotations

import pytest

from conftest import run_repro


@pytest.mark.parametrize("args, message", [
    (["--seeds", "99999999999999999999"], "at most 10000 seeds"),
    (["--seeds", ",".join(map(str, range(10_001)))], "more than 10000 seeds"),
    (["--seeds", "5000000000,1"], "from 0 to 4294967295"),
    (["--seeds", ""], "give a count (3) or a comma-separated list"),
    (["--seeds=-1,"], "all distinct, from 0"),
    (["--claims", ","], "--claims ',': name at least one claim id"),
    (["--timeout", "nan"], "--timeout must be a positive number of seconds"),
    (["--timeout", "inf"], "--timeout must be a positive number of seconds"),
    (["--set", "score=nan"], "expected a number"),
    (["--set", "score=.inf"], "a finite number"),
    (["--partition", "gpu"], "--partition: for --executor slurm, but the runs go to local"),
    (["--executor", "slurm", "--device", "cpu", "--gpus-per-run", "2"], "--gpus-per-run 2 with --device cpu"),
    (["--device", "cuda"], "--device cuda: no GPU is visible here"),
])
def test_bad_run_options_are_refused_up_front(tiny_papers, repro_home, monkeypatch, args, message):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, whatever the machine has
    result = run_repro("run", "tiny", "--dry-run", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr) < 1000  # a bounded message, whatever the input's size
    assert not (repro_home / "runs").exists()


@pytest.mark.parametrize("claims, message", [(",", "name at least one claim id"),
                                             ("nope", "--claims: nope not a claim of tiny")])
def test_check_refuses_unknown_or_empty_claims(tiny_papers, repro_home, tmp_path, claims, message):
    student = tmp_path / "student.py"
    student.write_text((tiny_papers / "tiny" / "reimpl.py").read_text())
    result = run_repro("check", "tiny", "--impl", str(student), f"--claims={claims}")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_report_onto_a_file_is_refused(tiny_papers, repro_home, tmp_path):
    existing = tmp_path / "report.html"
    existing.write_text("someone's file\n")
    result = run_repro("report", "-o", str(existing))
    assert result.returncode == 2 and "a file, not a folder" in result.stderr and "Traceback" not in result.stderr
    assert existing.read_text() == "someone's file\n"


@pytest.mark.parametrize("mode, error", [
    ("inf", "run() returned metric 'score' = inf (did training diverge"),
    ("text_number", "run() returned metric 'score' = '0.9', which is not a number"),
    ("boolean", "run() returned metric 'score' = True, which is not a number"),
    ("exit", "run() called sys.exit(0) instead of returning its metrics"),
])
def test_what_run_returns_must_be_finite_numbers(tiny_papers, repro_home, mode, error):
    result = run_repro("run", "tiny", "--set", f"mode={mode}", "--claims", "a_score")
    assert result.returncode == 3, result.stdout + result.stderr
    assert error in result.stdout and "BETTER" not in result.stdout


def test_a_claim_metric_run_never_returned_is_named(tiny_papers, repro_home):
    result = run_repro("run", "tiny", "--set", "mode=other_metric", "--claims", "a_score")
    assert "NO RESULT" in result.stdout
    assert "a_score: its runs finished but returned no 'score' (they returned accuracy)" in result.stdout


def test_an_implementation_that_fails_to_import_is_named(tiny_papers, repro_home, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import a_module_nobody_has\n\ndef run(cfg, ctx):\n    return {}\n")
    result = run_repro("run", "tiny", "--impl", str(broken), "--claims", "a_score")
    assert result.returncode == 3
    assert f"ModuleNotFoundError while importing {broken}: No module named 'a_module_nobody_has'" in result.stdout


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "/etc/passwd", "..", ".hidden", "a/b"])
def test_runs_show_reads_nothing_outside_the_runs_folder(tiny_papers, repro_home, tmp_path, run_id):
    outside = tmp_path / "outside" / "run.json"
    outside.parent.mkdir()
    outside.write_text('{"run_id": "planted", "status": "ok"}')
    result = run_repro("runs", "show", run_id)
    assert result.returncode == 2 and "is not a run id" in result.stderr and "planted" not in result.stdout
