"""`repro.diff` (what differs between two runs) and `repro.render.export` (model-card model-index),
on real records made through the CLI on the tiny paper of conftest.py.

The runs are made once for the module (three `repro run`s, ~8 s): a full-profile batch
(claims a and b, seeds 0 and 1), then seed 1 of claim a with --set steps=4, then a quick batch.
"""

from __future__ import annotations

import copy
from dataclasses import replace
import json

import pytest
import yaml
from conftest import TINY_IMPL, TINY_MANIFEST, run_repro

from repro.diff import MISSING, data_hash, diff_runs
from repro.render.diff import diff_json, diff_text
from repro.render.export import model_index, round_sensibly, to_yaml
from repro.catalog import load_paper
from repro.records import list_records, load_record

ARXIV = "2011.14439"
TITLE = "A tiny paper for testing the harness"


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> dict:
    """The tiny paper (with an arXiv id) and its records; REPRO_HOME and REPRO_PAPERS stay
    set for the module's tests, like conftest's repro_home and tiny_papers."""
    root = tmp_path_factory.mktemp("diff_export")
    folder = root / "papers" / "tiny"
    folder.mkdir(parents=True)
    (folder / "paper.yaml").write_text(TINY_MANIFEST.replace("venue: Tests\n", f'venue: Tests\narxiv: "{ARXIV}"\n'))
    (folder / "reimpl.py").write_text(TINY_IMPL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPRO_HOME", str(root / "home"))
        mp.setenv("REPRO_PAPERS", str(folder.parent))
        batches = []
        for args in (
            ["--profile", "full"],
            ["--profile", "full", "--seeds", "1,", "--set", "steps=4", "--claims", "a_score"],
            [],  # quick: seed 0, steps 3
        ):
            result = run_repro("run", "tiny", *args, "--json")
            assert result.returncode == 0, result.stderr
            batches.append([run["run_id"] for run in json.loads(result.stdout)["runs"]])
        yield {"paper": load_paper("tiny"), "records": list_records("tiny"), "batches": batches}


def by_id(tiny_runs: dict, run_id: str) -> dict:
    """The record as its run.json holds it (a dict, which diff_runs compares)."""
    return next(r for r in tiny_runs["records"] if r.run_id == run_id).to_dict()


# ------------------------------------------------------------------------ diff


def test_diff_of_two_runs_shows_seed_override_config_and_metric_deltas(tiny_runs):
    full, override, _ = tiny_runs["batches"]
    a = load_record(full[0]).to_dict()  # claim a, seed 0, steps 5
    b = load_record(override[0][:-3]).to_dict()  # a unique prefix is enough: claim a, seed 1, --set steps=4

    d = diff_runs(a, b)
    assert d.differences() == {
        "metrics": ["score", "first_random"],  # threads is the same
        "spec": ["seed", "overrides"],
        "config": ["steps"],
    }
    assert d.missing() == {} and not d.identical
    assert [(c.name, c.kind, c.a, c.b) for c in d.config] == [("steps", "changed", 5, 4)]
    assert [(c.name, c.a, c.b) for c in d.spec] == [("seed", 0, 1), ("overrides", {}, {"steps": 4})]
    score = next(m for m in d.metrics if m.name == "score")
    assert (score.a, score.b) == (1.0, 1.01)
    assert score.delta == pytest.approx(0.01) and score.relative == pytest.approx(0.01)
    assert d.environment == []  # same machine, same tree, same threads

    text = diff_text(d)
    assert "differs in: metrics (score, first_random), spec (seed, overrides), config (1 key: steps)" in text
    assert "environment: same" in text and "status: same (ok)" in text
    assert text.index("metrics") < text.index("config") < text.index("environment")  # the most telling first
    assert "+0.01" in text and "+1.00%" in text and "steps=4" in text

    data = json.loads(json.dumps(diff_json(d)))  # plain JSON
    assert data["differs_in"]["config"] == ["steps"]
    assert data["config"] == [{"name": "steps", "kind": "changed", "a": 5, "b": 4}]
    assert data["environment"] == [] and data["status"]["same"] is True
    assert {m["name"]: m["same"] for m in data["metrics"]} == {"score": False, "first_random": False, "threads": True}


def test_diff_lists_environment_differences(tiny_runs):
    a = by_id(tiny_runs, tiny_runs["batches"][0][0])
    sha1, sha2, sha3 = "1" * 64, "2" * 64, "3" * 64
    a = copy.deepcopy(a)
    a["spec"]["data"] = {"x.bin": f"/h/data/files/{sha1}/x.bin", "archive.zip": f"/h/data/extracted/{sha2}"}
    b = copy.deepcopy(a)
    b["environment"]["torch"] = "2.5.1+cu121"
    b["environment"]["torch_threads"] = a["environment"]["torch_threads"] + 6
    b["environment"]["env"]["OMP_NUM_THREADS"] = "8"
    b["spec"]["data"]["x.bin"] = f"/h/data/files/{sha3}/x.bin"

    d = diff_runs(a, b)
    assert d.differences() == {"environment": ["torch", "torch_threads", "env:OMP_NUM_THREADS", "data:x.bin"]}
    torch_row = d.environment[0]
    assert (torch_row.a, torch_row.b) == (a["environment"]["torch"], "2.5.1+cu121")
    assert (d.environment[-1].a, d.environment[-1].b) == (sha1, sha3)

    text = diff_text(d)
    assert "differs in: environment (torch, torch_threads, env:OMP_NUM_THREADS, data:x.bin)" in text
    assert "2.5.1+cu121" in text and "333333333333" in text and sha3 not in text  # hashes shortened in text
    for section in ("status: same", "metrics: same", "spec: same", "config: same"):
        assert section in text
    assert diff_json(d)["environment"][-1] == {"name": "data:x.bin", "kind": "changed", "a": sha1, "b": sha3}

    same = diff_runs(a, copy.deepcopy(a))
    assert same.identical and "no differences" in diff_text(same) and "environment: same" in diff_text(same)


def test_data_hash_from_cache_paths():
    sha = "ab" * 32
    assert data_hash(f"/home/u/.cache/repro/data/files/{sha}/mnist.pkl") == sha
    assert data_hash(f"/home/u/.cache/repro/data/extracted/{sha}") == sha
    assert data_hash("/elsewhere/mnist.pkl") == "/elsewhere/mnist.pkl"


# the numerics fingerprint of a CPU run (a baseline made before it existed does not have it)
NUMERICS_FIELDS = ["numerics_id", "numerics.cpu.vendor", "numerics.cpu.model", "numerics.cpu.family_model_stepping",
                   "numerics.cpu.isa", "numerics.cpu_capability", "numerics.mkl", "numerics.onednn",
                   "numerics.torch_threads", "numerics.deterministic_algorithms"]


def test_missing_keys_are_reported_not_fatal(tiny_runs):
    record = by_id(tiny_runs, tiny_runs["batches"][0][0])
    # What a stored baseline run could become: no config, threads, data or environment variables.
    recorded = ("device", "python", "torch", "cuda", "gpus", "cpu", "numpy", "repro", "repro_git", "reference_commit")
    baseline = {
        "run_id": "baseline:tiny/reimpl-full",
        "status": "ok",
        "spec": {"paper": "tiny", "impl": "reimpl", "profile": "full", "setting_label": "variant=a", "seed": 0},
        "metrics": {"score": 1.0},
        "environment": {k: record["environment"][k] for k in recorded},
    }
    d = diff_runs(record, baseline)
    assert d.differences() == {"metrics": ["first_random", "threads"]}  # only in the record
    assert d.missing() == {"b": {
        "spec": ["device", "threads", "overrides"],
        "config": ["config"],
        "environment": ["cpu_count", "torch_threads", "platform", *NUMERICS_FIELDS, "env", "data"],
    }}
    del baseline["environment"]["reference_commit"]
    baseline["spec"]["reference_commit"] = record["spec"]["reference_commit"]
    assert diff_runs(record, baseline).missing() == d.missing()  # the spec's reference commit stands in
    text = diff_text(d)
    assert "; not recorded in b: spec (device, threads, overrides), config, environment (cpu_count," in text
    assert "config: same" not in text  # a missing config is not "same"
    assert next(m for m in d.metrics if m.name == "threads").b is MISSING
    json.dumps(diff_json(d))

    broken = {"run_id": "x", "spec": None, "environment": None, "metrics": None, "status": "crashed", "error": "boom"}
    for a, b in ((record, broken), (broken, record), ({}, {}), (broken, broken)):
        d = diff_runs(a, b)
        json.dumps(diff_json(d))
        assert diff_text(d)
    assert diff_runs({}, {}).identical
    assert "status: ok -> crashed" in diff_text(diff_runs(record, broken))
    assert "b: boom" in diff_text(diff_runs(record, broken))
    assert "metrics: none in either run" in diff_text(diff_runs({}, {}))


# ---------------------------------------------------------------------- export


def check_model_index(data: dict) -> None:
    """What huggingface_hub's model_index_to_eval_results and EvalResult require."""
    assert list(data) == ["model-index"] and isinstance(data["model-index"], list)
    for entry in data["model-index"]:
        assert isinstance(entry["name"], str) and entry["results"]
        for result in entry["results"]:
            assert set(result) <= {"task", "dataset", "metrics", "source"}
            assert isinstance(result["task"]["type"], str)
            assert isinstance(result["dataset"]["type"], str) and isinstance(result["dataset"]["name"], str)
            assert result["metrics"]
            for metric in result["metrics"]:
                assert isinstance(metric["type"], str) and isinstance(metric["value"], (int, float))
                assert isinstance(metric.get("name", ""), str) and isinstance(metric.get("verified", False), bool)
            if "source" in result:
                assert result["source"]["url"].startswith("https://")  # a name needs a url


def test_model_index_of_the_tiny_paper(tiny_runs):
    paper, records = tiny_runs["paper"], tiny_runs["records"]
    data = model_index(paper, records)
    check_model_index(data)
    source = {"name": TITLE, "url": f"https://arxiv.org/abs/{ARXIV}"}

    def entry(setting: str, claim: str, reported: str, value: float) -> dict:
        return {
            "name": f"tiny/{setting} (reimpl)",
            "results": [{
                "task": {"type": "other", "name": TITLE},
                "dataset": {"type": "tiny", "name": "tiny"},
                "metrics": [{"type": "score", "value": value, "verified": False,
                             "name": f"{claim} (reported {reported}; mean of 2 seeds, full profile)"}],
                "source": source,
            }],
        }

    # The full batch (seeds 0 and 1) wins over the later --set batch and the later quick batch.
    assert data == {"model-index": [entry("a", "a_score", "1", 1.005), entry("b", "b_score", "2", 2.005)]}

    text = to_yaml(data)
    assert text.startswith("model-index:\n- name: tiny/a (reimpl)\n  results:\n  - task:")
    assert yaml.safe_load(text) == data


def test_model_index_choices_and_left_out_claims(tiny_runs):
    paper, records = tiny_runs["paper"], tiny_runs["records"]
    full, override, quick = tiny_runs["batches"]

    only_override = [r for r in records if r.run_id in override]
    (entry,) = model_index(paper, only_override)["model-index"]  # claim b has no runs: left out
    (metric,) = entry["results"][0]["metrics"]
    assert entry["name"] == "tiny/a (reimpl)" and metric["value"] == 1.01
    assert metric["name"] == "a_score (reported 1; mean of 1 seed, full profile, --set steps=4)"

    without_full = [r for r in records if r.run_id not in full]  # the protocol without --set beats quick
    assert [e["results"][0]["metrics"][0]["value"] for e in model_index(paper, without_full)["model-index"]] == [1.01, 2.0]

    # the latest protocol batch crashed: it judges (as in the report, NO RESULT), so its claims are
    # left out rather than filled in from the older quick batch
    crashed = [replace(r, status="crashed") if r.run_id in full else r for r in records if r.run_id not in override]
    assert model_index(paper, crashed) == {"model-index": []}
    assert model_index(paper, [r for r in crashed if r.run_id not in full])["model-index"]  # the quick batch alone

    assert model_index(paper, []) == {"model-index": []}
    assert yaml.safe_load(to_yaml(model_index(paper, []))) == {"model-index": []}


def test_round_sensibly():
    assert [round_sensibly(v) for v in (91.93333, 0.0123456, 12345.6, -3.14159, 0.0)] == [91.93, 0.01235, 12346.0, -3.142, 0.0]


def test_model_index_reads_back_with_huggingface_hub(tiny_runs):
    """Where huggingface_hub is installed (it is not a dependency): its own reader and writer
    give the same model-index back. It keeps one model name per card, so one entry here."""
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import ModelCardData
    from huggingface_hub.repocard_data import model_index_to_eval_results

    one_model = model_index(tiny_runs["paper"], tiny_runs["records"])["model-index"][:1]
    name, results = model_index_to_eval_results(one_model)
    assert name == "tiny/a (reimpl)" and results[0].metric_value == 1.005
    assert ModelCardData(**{"model-index": one_model}).to_dict()["model-index"] == one_model
