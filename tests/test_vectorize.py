"""--vectorize-seeds: one worker trains a setting's seeds at once through the implementation's
run_seeds(cfg, contexts), and each seed still ends as an ordinary record of its own."""

from __future__ import annotations

import json

from conftest import run_repro

BATCHED = '''\
"""The tiny paper's reimpl, plus run_seeds: every seed's run in one call."""
import os
from repro.variants import reimplementation

reimpl = reimplementation("tiny")


def run(cfg, ctx):
    return {**reimpl.run(cfg, ctx), "pid": os.getpid()}


def run_seeds(cfg, contexts):
    results = []
    for ctx in contexts:
        ctx.reseed()  # as the worker seeds before run()
        results.append(run(cfg, ctx))
    return results
'''


def batched_impl(tiny_papers) -> None:
    variants = tiny_papers / "tiny" / "variants"
    variants.mkdir()
    (variants / "batched.py").write_text(BATCHED)


def runs(result) -> list[dict]:
    return json.loads(result.stdout)["runs"]


def test_each_seed_of_a_group_is_its_own_record_with_the_numbers_of_one_seed_runs(tiny_papers, repro_home):
    batched_impl(tiny_papers)
    together = run_repro("run", "tiny", "--impl", "batched", "--profile", "full", "--vectorize-seeds", "--json")
    assert together.returncode == 0, together.stderr
    assert "--vectorize-seeds: 2 worker(s) train 4 runs" in together.stderr
    apart = run_repro("run", "tiny", "--impl", "batched", "--profile", "full", "--json")
    assert [r["metrics"]["score"] for r in runs(together)] == [r["metrics"]["score"] for r in runs(apart)]
    assert [r["metrics"]["first_random"] for r in runs(together)] == [r["metrics"]["first_random"] for r in runs(apart)]
    by_setting: dict[str, list[dict]] = {}
    for run in runs(together):
        by_setting.setdefault(run["setting"], []).append(run)
    for group in by_setting.values():
        assert [r["seed"] for r in group] == [0, 1] and {r["status"] for r in group} == {"ok"}
        assert len({r["metrics"]["pid"] for r in group}) == 1  # one worker for the setting's seeds
        assert len({r["log_path"] for r in group}) == 1  # and one log
        for run in group:
            record = json.loads(run_repro("runs", "show", run["run_id"], "--json").stdout)
            assert [step for step, _ in record["curves"]["loss"]] == [1, 2, 3, 4, 5]  # its own events, not the group's
            assert record["vectorized_seeds"] == [0, 1]
    assert len({r["metrics"]["pid"] for r in runs(apart)}) == 4  # without the flag, one worker a run


def test_jobs_above_the_settings_split_each_settings_seeds_into_groups_of_two_at_least(tiny_papers):
    from repro.catalog import load_paper
    from repro.execute.local import LocalExecutor
    from repro.plan import usable_cores
    from repro.run import plan_for, vectorize_note

    batched_impl(tiny_papers)
    paper = load_paper("tiny")  # two settings in the full profile

    def groups(jobs: int, seeds: int) -> list[list[int]]:
        specs = plan_for(paper, runner=LocalExecutor(), impl="batched", profile="full", seeds=list(range(seeds)),
                         vectorize_seeds=True, jobs=jobs)
        by_id = {spec.run_id: spec for spec in specs}
        assert all(spec.vectorized_by in by_id and not spec.vectorized_with for spec in specs if spec.vectorized_by)
        return [[spec.seed, *(by_id[i].seed for i in spec.vectorized_with)] for spec in specs if not spec.vectorized_by]

    assert groups(jobs=1, seeds=5) == [[0, 1, 2, 3, 4]] * 2
    assert groups(jobs=4, seeds=5) == [[0, 1, 2], [3, 4]] * 2
    assert groups(jobs=4, seeds=3) == [[0, 1, 2]] * 2  # never a group of one seed
    assert groups(jobs=20, seeds=10) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]] * 2
    specs = plan_for(paper, runner=LocalExecutor(), impl="batched", profile="full", seeds=list(range(4)),
                     vectorize_seeds=True, jobs=4)
    assert {spec.threads for spec in specs} == {max(1, usable_cores() // 4)}  # four workers at once
    assert vectorize_note(specs, LocalExecutor()).startswith("--vectorize-seeds: 4 worker(s) train 8 runs")


def test_a_group_split_by_jobs_gives_the_numbers_of_one_group(tiny_papers, repro_home):
    batched_impl(tiny_papers)
    common = ["run", "tiny", "--impl", "batched", "--profile", "full", "--claims", "a_score", "--seeds", "4",
              "--vectorize-seeds", "--json"]
    one, split = run_repro(*common), run_repro(*common, "--jobs", "2")
    assert one.returncode == split.returncode == 0, one.stderr + split.stderr
    assert "--vectorize-seeds: 2 worker(s) train 4 runs" in split.stderr
    assert [r["metrics"]["score"] for r in runs(one)] == [r["metrics"]["score"] for r in runs(split)]
    assert len({r["metrics"]["pid"] for r in runs(one)}) == 1 and len({r["metrics"]["pid"] for r in runs(split)}) == 2


def test_a_crash_in_run_seeds_fails_every_run_of_the_group(tiny_papers, repro_home):
    batched_impl(tiny_papers)
    result = run_repro("run", "tiny", "--impl", "batched", "--profile", "full", "--claims", "a_score",
                       "--vectorize-seeds", "--set", "mode=crash", "--json")
    assert result.returncode == 3
    crashed = runs(result)
    assert [r["status"] for r in crashed] == ["crashed", "crashed"]
    assert all(r["error"].startswith("ZeroDivisionError") for r in crashed)


def test_without_run_seeds_it_says_so_and_runs_one_worker_a_seed(tiny_papers, repro_home):
    result = run_repro("run", "tiny", "--profile", "full", "--vectorize-seeds", "--json")
    assert result.returncode == 0, result.stderr
    assert "--vectorize-seeds: reimpl has no run_seeds(cfg, contexts), so one worker per seed" in result.stderr
    assert len(runs(result)) == 4


def test_slurm_runs_one_task_a_seed(tiny_papers):
    from repro.catalog import load_paper
    from repro.execute.slurm import SlurmExecutor
    from repro.run import plan_for, vectorize_note

    batched_impl(tiny_papers)
    specs = plan_for(load_paper("tiny"), runner=SlurmExecutor(), impl="batched", profile="full", vectorize_seeds=True)
    assert not any(spec.vectorized_with or spec.vectorized_by for spec in specs)
    assert vectorize_note(specs, SlurmExecutor()) == ("--vectorize-seeds: the slurm executor starts one task per run, "
                                                      "so one worker per seed")


def test_mnist1d_vectorised_seeds_start_from_their_own_weights_and_end_near_their_one_seed_runs(repro_home):
    """Logistic, MLP and CNN, 3 seeds, 300 steps: the first logged loss (step 50) shows that
    each seed started from its own initial weights and saw the same batches; the final
    accuracies agree within seed noise (batched kernels round differently)."""
    common = ["--claims", "logistic_test_acc,mlp_test_acc,cnn_test_acc", "--seeds", "3",
              "--set", "total_steps=300", "--set", "eval_every=50", "--threads", "1", "--json"]
    together = run_repro("run", "mnist1d", "--vectorize-seeds", *common)
    apart = run_repro("run", "mnist1d", "--jobs", "2", *common)
    assert together.returncode in (0, 1) and apart.returncode in (0, 1), together.stderr + apart.stderr
    for a, b in zip(runs(together), runs(apart)):
        assert (a["setting"], a["seed"]) == (b["setting"], b["seed"]) and a["status"] == b["status"] == "ok"
        assert abs(a["metrics"]["test_acc"] - b["metrics"]["test_acc"]) <= 3.0, (a, b)
        first = [json.loads(run_repro("runs", "show", r["run_id"], "--json").stdout)["curves"]["train_loss"][0]
                 for r in (a, b)]
        assert first[0][0] == first[1][0] == 50
        assert abs(first[0][1] - first[1][1]) <= 1e-3 * abs(first[1][1]), (a["setting"], a["seed"], first)


def test_a_group_past_its_timeout_stops_every_run_of_it(tiny_papers, repro_home):
    batched_impl(tiny_papers)
    result = run_repro("run", "tiny", "--impl", "batched", "--profile", "full", "--claims", "a_score",
                       "--vectorize-seeds", "--set", "mode=sleep", "--timeout", "2", "--json")
    assert result.returncode == 3
    assert [(r["status"], r["error"]) for r in runs(result)] == [("timeout", "stopped after the 2 s timeout")] * 2


def test_a_comparison_vectorises_both_sides_or_neither(tiny_papers, repro_home, tmp_path):
    import shutil

    batched_impl(tiny_papers)
    result = run_repro("compare", "tiny", "--impl", "batched", "--vs", "reimpl", "--seeds", "2", "--vectorize-seeds")
    assert "only one side has run_seeds" in result.stderr and "--vectorize-seeds: 2 worker(s)" not in result.stderr
    shutil.copy(tiny_papers / "tiny" / "variants" / "batched.py", tmp_path / "batched_copy.py")
    both = run_repro("compare", "tiny", "--impl", "batched", "--vs", str(tmp_path / "batched_copy.py"), "--seeds", "2",
                     "--vectorize-seeds", "--json")
    assert both.returncode == 0, both.stderr
    assert "--vectorize-seeds: 4 worker(s) train 8 runs" in both.stderr  # 2 settings x 2 sides
    assert {row["difference"]["test"] for row in json.loads(both.stdout)["rows"] if row["metric"] == "score"} == {"identical"}
