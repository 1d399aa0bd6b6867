"""`repro compare` and `repro sweep` through the CLI and the library: a planted effect is
found, a null (the same implementation under another name) is never called a difference,
an undecided comparison says how many seeds would tell, and the grid's best is tested
against its runner-up. The tiny paper runs in milliseconds; MNIST-1D runs for real."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_repro

# A variant of the tiny paper whose score is lower by SHIFT, plus noise that depends on the seed
# (so the per-seed differences have a spread, as real training gives).
TINY_VARIANT = '''\
import random
from repro.variants import reimplementation

reimpl = reimplementation("tiny")
SHIFT = {shift}


def run(cfg, ctx):
    metrics = reimpl.run(cfg, ctx)
    noise = random.Random(1000 + ctx.seed).gauss(0, {noise})
    return {{**metrics, "score": metrics["score"] - SHIFT + noise}}
'''


def variant(folder: Path, name: str, shift: float, noise: float = 0.05) -> str:
    path = folder / f"{name}.py"
    path.write_text(TINY_VARIANT.format(shift=shift, noise=noise))
    return str(path)


def rows_of(result) -> dict[tuple[str, str], dict]:
    return {(row["setting"], row["metric"]): row for row in json.loads(result.stdout)["rows"]}


def test_a_planted_effect_is_found_and_said_plainly(tiny_papers, tmp_path):
    worse = variant(tmp_path, "worse", shift=0.5)
    result = run_repro("compare", "tiny", "--vs", worse, "--claims", "a_score", "--seeds", "5", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert "reimpl is better than worse by 0.5" in result.stdout
    assert "95% CI" in result.stdout and "paired t" in result.stdout
    as_json = rows_of(run_repro("compare", "tiny", "--vs", worse, "--claims", "a_score", "--seeds", "5", "--jobs", "2",
                                "--json"))
    score = as_json[("variant=a", "score")]
    assert score["primary"] and score["difference"]["decided"] and score["difference"]["a_better"] is True
    assert score["difference"]["mean"] == pytest.approx(0.5, abs=0.1)
    assert score["difference"]["seeds_paired"] == 5


def test_the_same_implementation_under_another_name_is_never_a_difference(tiny_papers, tmp_path):
    copy = tmp_path / "reimpl_copy.py"
    shutil.copy(tiny_papers / "tiny" / "reimpl.py", copy)
    result = run_repro("compare", "tiny", "--vs", str(copy), "--seeds", "5", "--json")
    assert result.returncode == 0, result.stderr
    for row in rows_of(result).values():
        assert row["difference"]["test"] == "identical", row
        assert row["difference"]["a_better"] is None


def test_an_undecided_comparison_says_how_many_seeds_would_tell(tiny_papers, tmp_path):
    # a true difference of 0.01 under noise of sd 0.05: three seeds cannot tell
    close = variant(tmp_path, "close", shift=0.01)
    result = run_repro("compare", "tiny", "--vs", close, "--claims", "a_score", "--seeds", "3", "--effect", "0.05")
    assert result.returncode == 1, result.stderr  # a claim's metric undecided: like INCONCLUSIVE
    assert "no difference detectable with 3 seeds" in result.stdout
    assert "seeds would detect a difference of 0.0500" in result.stdout


def test_until_decided_adds_rounds_of_seeds_and_stops_at_the_maximum(tiny_papers, tmp_path):
    # the noise is the same on every machine (Python's own generator): with a shift of 0.03,
    # seeds 0-1 and 0-3 cannot tell, seeds 0-5 can
    middling = variant(tmp_path, "middling", shift=0.03)
    decided = run_repro("compare", "tiny", "--vs", middling, "--claims", "a_score", "--seeds", "2",
                        "--until-decided", "--max-seeds", "30", "--json")
    report = json.loads(decided.stdout)
    assert decided.returncode == 0, decided.stderr
    assert report["rounds"] == 3 and report["seeds"] == [0, 1, 2, 3, 4, 5]
    assert report["stopped_because"] == "every claim's metric decided after 6 seeds"
    assert "round 2: seeds 2,3" in decided.stderr and "round 3: seeds 4,5" in decided.stderr

    null = variant(tmp_path, "null", shift=0.0)  # the same noise, no shift: undecided at 2, 4 and 5 seeds
    capped = run_repro("compare", "tiny", "--vs", null, "--claims", "a_score", "--seeds", "2", "--until-decided",
                       "--max-seeds", "5", "--json")
    report = json.loads(capped.stdout)
    assert capped.returncode == 1, capped.stderr
    assert report["seeds"] == [0, 1, 2, 3, 4] and report["stopped_because"] == "--max-seeds 5 reached"


@pytest.mark.parametrize("args, message", [
    (["--vs", "reimpl"], "both name 'reimpl'"),
    (["--vs", "nope"], "has no implementation 'nope'"),
    (["--vs", "reimpl", "--impl", "missing.py"], "missing.py: no such file"),
    (["--vs", "x.py", "--effect", "-1"], "x.py: no such file"),
    (["--vs", "{worse}", "--seeds", "5", "--until-decided", "--max-seeds", "3"], "--max-seeds 3 is below the 5 seeds"),
    (["--vs", "{worse}", "--effect", "0"], "--effect must be a positive difference"),
])
def test_bad_comparisons_are_refused_before_anything_runs(tiny_papers, tmp_path, repro_home, args, message):
    worse = variant(tmp_path, "worse", shift=0.5)
    result = run_repro("compare", "tiny", *[a.format(worse=worse) for a in args])
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (repro_home / "runs").exists()


def test_the_library_call_gives_the_rows_and_saves_the_comparison(tiny_papers, tmp_path, repro_home):
    from repro.versus import compare_impls

    result = compare_impls("tiny", "reimpl", variant(tmp_path, "worse", shift=0.5), seeds=[0, 1, 2])
    assert [(row.setting, row.metric) for row in result.rows if row.primary] == [("variant=a", "score"),
                                                                               ("variant=b", "score")]
    assert all(row.difference.a_better for row in result.rows if row.primary)
    assert result.exit_code == 0 and len(result.records) == 12
    saved = json.loads(result.saved.read_text())
    assert saved["impl_b"] == "worse" and len(saved["runs"]["a"]) == len(saved["runs"]["b"]) == 6
    assert {r.spec.threads for r in result.records} == {result.records[0].spec.threads}  # one count for both


def test_a_sweep_ranks_the_grid_and_tests_the_best_against_the_runner_up(tiny_papers, repro_home):
    result = run_repro("sweep", "tiny", "--grid", "score=1.0,3.0,2.0", "--claims", "a_score", "--seeds", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    ranks = [line.split()[:2] for line in lines if line[:1].isdigit()]
    assert ranks == [["1", "3.0"], ["2", "2.0"], ["3", "1.0"]]
    assert "best: score=3.0; score=3.0 is better than score=2.0 by 1.00" in result.stdout
    assert "run 9/9 (variant=a, score=2.0, seed 2)" in result.stderr  # the point in the progress lines
    report = json.loads(run_repro("sweep", "tiny", "--grid", "score=1.0,3.0", "--seeds", "2", "--json").stdout)
    assert [c["claim"] for c in report["claims"]] == ["a_score", "b_score"]
    assert report["claims"][0]["ranked"][0]["point"] == {"score": 3.0}
    runs = json.loads(run_repro("runs", "tiny", "--json").stdout)
    assert {json.dumps(r["overrides"], sort_keys=True) for r in runs} >= {'{"score": 1.0}', '{"score": 3.0}'}


@pytest.mark.parametrize("args, message", [
    (["--grid", "score"], "expected key=value1,value2"),
    (["--grid", "nope=1,2"], "not a config key of tiny"),
    (["--grid", "score=1,x"], "expected a number"),
    (["--grid", "score=1,1.0"], "a value is listed twice"),
    (["--grid", "score=1,2", "--grid", "score=3"], "given twice"),
    (["--grid", "score=1,2", "--set", "score=3"], "also fixed by --set score"),
    (["--grid", "variant=a,b"], "each claim sets"),
])
def test_bad_grids_are_refused_before_anything_runs(tiny_papers, repro_home, args, message):
    result = run_repro("sweep", "tiny", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (repro_home / "runs").exists()


def test_mnist1d_a_planted_worse_variant_is_found_and_a_renamed_copy_is_not(repro_home, tmp_path):
    """The issue's command on the real paper, kept small: logistic regression, 300 steps, 5 seeds."""
    slower = tmp_path / "slow_lr.py"
    slower.write_text('from repro.variants import reimplementation\n'
                      'reimpl = reimplementation("mnist1d")\n\n\n'
                      'def run(cfg, ctx):  # planted: a tenth of the learning rate\n'
                      '    return reimpl.run({**cfg, "learning_rate": cfg["learning_rate"] / 10}, ctx)\n')
    copy = tmp_path / "reimpl_copy.py"
    shutil.copy(REPO / "papers" / "mnist1d" / "reimpl.py", copy)
    small = ["--claims", "logistic_test_acc", "--set", "total_steps=300", "--seeds", "5", "--jobs", "2"]
    planted = run_repro("compare", "mnist1d", "--impl", "reimpl", "--vs", str(slower), *small, "--json")
    assert planted.returncode == 0, planted.stderr
    acc = rows_of(planted)[("model=logistic", "test_acc")]["difference"]
    assert acc["decided"] and acc["a_better"] is True and acc["mean"] > 2, acc
    null = run_repro("compare", "mnist1d", "--vs", str(copy), *small, "--json")
    assert null.returncode == 0, null.stderr
    assert rows_of(null)[("model=logistic", "test_acc")]["difference"]["test"] == "identical"


def test_mnist1d_sweep_through_the_cli(repro_home):
    result = run_repro("sweep", "mnist1d", "--grid", "learning_rate=1e-3,1e-2", "--claims", "logistic_test_acc",
                       "--set", "total_steps=300", "--seeds", "3", "--jobs", "2")
    assert result.returncode in (0, 1), result.stderr
    assert "logistic_test_acc (model=logistic, test_acc, higher is better; the paper reports 32)" in result.stdout
    assert "best: learning_rate=0.01" in result.stdout  # a tenth of the rate is far behind at 300 steps


def test_variants_are_implementations_of_their_paper():
    shown = json.loads(run_repro("show", "mnist1d", "--json").stdout)
    assert "cnn_pool" in shown["implementations"]
    assert "calendar_periods" in json.loads(run_repro("show", "timesnet", "--json").stdout)["implementations"]


def test_reimplementation_finds_the_paper_from_a_file_or_an_id(tmp_path):
    from repro.errors import UsageError
    from repro.variants import reimplementation

    by_file = reimplementation(REPO / "papers" / "mnist1d" / "variants" / "cnn_pool.py")
    assert by_file is reimplementation("mnist1d") and callable(by_file.run)
    with pytest.raises(UsageError, match="not inside a paper folder"):
        reimplementation(tmp_path / "elsewhere.py")
    with pytest.raises(UsageError, match="has no reimpl.py"):
        reimplementation("no_such_paper")


def test_numbers_without_a_dot_are_numbers_in_grids_and_overrides():
    """YAML 1.1 reads 1e-3 as a string; a float config key takes it as 0.001."""
    from repro.catalog import load_paper
    from repro.plan import parse_overrides
    from repro.sweep import parse_grid

    paper = load_paper("mnist1d")
    assert parse_overrides(["learning_rate=1e-3"], paper) == {"learning_rate": 0.001}
    assert parse_grid(["learning_rate=1e-3,3E-3,0.01"], paper) == {"learning_rate": [0.001, 0.003, 0.01]}
