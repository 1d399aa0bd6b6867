"""`repro run --impl reference` end to end on an authors'-style repository built here.

The "authors" have a git repository with an argparse training script that prints its
metrics and a module with a function that prints them; the paper declares a data file
served by a local HTTP server. git reaches the repository through an insteadOf rewrite of
its https URL, as a user with a mirror would.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import commit_files, git, reach_through_insteadof, run_repro

URL = "https://example.org/authors/toy"

TRAIN_SCRIPT = '''\
import argparse, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--data", required=True)
parser.add_argument("--fail", action="store_true")
parser.add_argument("--sleep", type=float, default=0)
args = parser.parse_args()
words = open(args.data).read().split()
for epoch in range(1, args.epochs + 1):
    print(f"| epoch {epoch} | loss {1.0 / epoch:.4f} | acc {0.5 + 0.1 * epoch:.2f}", flush=True)
    time.sleep(args.sleep)
if args.fail:
    sys.exit("error: the authors' script gave up")
print(f"Test set: accuracy {len(words) / 10:.2f}")
'''

AUTHORS_MODULE = '''\
def train(epochs):
    for epoch in range(1, epochs + 1):
        print(f"epoch {epoch} acc {0.5 + 0.1 * epoch:.2f}")
    return 0.5 + 0.1 * epochs
'''

ADAPTER = '''\
import sys

SCRIPT_LINES = [
    r"\\| epoch (?P<step>\\d+) \\| loss (?P<loss>[\\d.]+) \\| acc (?P<acc>[\\d.]+)",
    r"Test set: accuracy (?P<test_acc>[\\d.]+)",
]


def run(cfg, ctx):
    if cfg["style"] == "import":
        sys.path.insert(0, str(ctx.source_dir))
        import authors
        with ctx.watch_output([r"epoch (?P<step>\\d+) acc (?P<acc>[\\d.]+)"]) as parsed:
            authors.train(cfg["epochs"])
        return {"test_acc": parsed.last["acc"]}
    args = [ctx.python, "train.py", "--epochs", str(cfg["epochs"]), "--data", str(ctx.data["words.txt"])]
    if cfg["fail"]:
        args.append("--fail")
    if cfg["sleep"]:
        args += ["--sleep", str(cfg["sleep"])]
    metrics = ctx.run_script(args, cwd=ctx.source_dir, patterns=SCRIPT_LINES, timeout=cfg["script_timeout"])
    return {"test_acc": metrics["test_acc"], "acc": metrics["acc"]}
'''

WORDS = " ".join(["word"] * 9) + "\n"  # 9 words: the script reports accuracy 0.90


@pytest.fixture
def toy(tmp_path, monkeypatch, repro_home):
    """The authors' repository, a data server, and a paper folder pointing at both."""
    authors = tmp_path / "authors"
    commit = commit_files(authors, {"train.py": TRAIN_SCRIPT, "authors.py": AUTHORS_MODULE})
    commit_files(authors, {"train.py": "raise SystemExit('a later commit broke everything')\n"}, "later")
    gitconfig = tmp_path / "gitconfig"
    reach_through_insteadof(monkeypatch, gitconfig, authors, URL)

    served = tmp_path / "served"
    served.mkdir()
    (served / "words.txt").write_text(WORDS)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()

    paper = tmp_path / "papers" / "toy"
    paper.mkdir(parents=True)
    (paper / "reference.py").write_text(ADAPTER)
    (paper / "paper.yaml").write_text(textwrap.dedent(f"""\
        id: toy
        title: A toy paper with an authors' repository
        authors: [A. Author]
        year: 2023
        venue: Tests
        reference: {{repo: "{URL}", commit: {commit}}}
        data:
          - name: words.txt
            urls: ["http://127.0.0.1:{server.server_port}/missing.txt",
                   "http://127.0.0.1:{server.server_port}/words.txt"]
            sha256: {hashlib.sha256(WORDS.encode()).hexdigest()}
            size: {len(WORDS)}
        config: {{style: script, epochs: 3, fail: false, sleep: 0.0, script_timeout: 60.0}}
        profiles:
          quick: {{seeds: [0], expected_seconds: 5, paper_protocol: false}}
          full: {{seeds: 2, expected_seconds: 10, paper_protocol: true}}
        claims:
          - id: toy_acc
            metric: test_acc
            reported: 0.9
            direction: higher
            tolerance: {{abs: 0.01}}
            source: Table 1
        """))
    monkeypatch.setenv("REPRO_PAPERS", str(paper.parent))
    yield {"commit": commit, "authors": authors, "gitconfig": gitconfig}
    server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def only_record(home: Path) -> dict:
    (path,) = (home / "runs").glob("*/run.json")
    return json.loads(path.read_text())


def test_script_style_reference_end_to_end(toy, repro_home):
    result = run_repro("run", "toy", "--impl", "reference", "--json")
    assert result.returncode == 0, result.stderr
    (claim,) = json.loads(result.stdout)["claims"]
    assert claim["verdict"] == "REPRODUCED" and claim["values"] == [0.9]

    record = only_record(repro_home)
    spec = record["spec"]
    checkout = Path(spec["source_dir"])
    assert git("rev-parse", "HEAD", cwd=checkout) == toy["commit"]  # the pinned commit, not the tip
    assert Path(spec["data"]["words.txt"]).read_text() == WORDS
    assert record["curves"]["loss"] == [[1, 1.0], [2, 0.5], [3, 0.3333]]  # step from the line's group
    assert record["metrics"] == {"test_acc": 0.9, "acc": 0.8}
    log = Path(record["log_path"]).read_text()
    assert "| epoch 3 | loss 0.3333 | acc 0.80" in log and "train.py --epochs 3" in log
    assert "missing.txt: HTTP 404" not in result.stdout  # the first mirror's 404 is not a failure


def test_import_style_output_is_parsed(toy, repro_home):
    result = run_repro("run", "toy", "--impl", "reference", "--set", "style=import", "--set", "epochs=4", "--json")
    assert result.returncode == 0, result.stderr  # after 4 epochs the module reports 0.5 + 0.4 = 0.9
    record = only_record(repro_home)
    assert record["curves"]["acc"] == [[1, 0.6], [2, 0.7], [3, 0.8], [4, 0.9]]
    assert "epoch 4 acc 0.90" in Path(record["log_path"]).read_text()  # prints still reach the log


def test_failing_script_is_a_crashed_run_with_its_output(toy, repro_home):
    result = run_repro("run", "toy", "--impl", "reference", "--set", "fail=true")
    assert result.returncode == 3
    record = only_record(repro_home)
    assert record["status"] == "crashed"
    assert "ScriptFailed" in record["error"] and "exited with code 1" in record["error"]
    assert "the authors' script gave up" in record["log_tail"]
    # The console says why, not only that it failed: the script's last words, and the log.
    assert "train.py exited with code 1: error: the authors' script gave up" in result.stdout
    assert f"full log: {record['log_path']}" in result.stdout


def test_script_timeout(toy, repro_home):
    result = run_repro("run", "toy", "--impl", "reference", "--set", "sleep=5", "--set", "script_timeout=1")
    assert result.returncode == 3
    assert "ran past its 1 s timeout" in only_record(repro_home)["error"]


def test_fetch_command_and_offline_error(toy, repro_home):
    fetched = run_repro("fetch", "toy", "--json")
    assert fetched.returncode == 0, fetched.stderr
    out = json.loads(fetched.stdout)
    assert out["reference"]["commit"] == toy["commit"]
    assert Path(out["data"]["words.txt"]).read_text() == WORDS

    toy["gitconfig"].write_text("")  # no mirror any more: the https URL is unreachable here
    (repro_home / "git").rename(repro_home / "git-old")
    offline = run_repro("fetch", "toy")
    assert offline.returncode == 3
    assert URL in offline.stderr and "insteadOf" in offline.stderr
    assert "Traceback" not in offline.stderr


def test_reimpl_runs_do_not_fetch_the_reference(toy, repro_home):
    (toy["authors"] / ".git").rename(toy["authors"] / "git-moved")  # the mirror is gone
    adapter = Path(toy["authors"]).parent / "papers" / "toy" / "reimpl.py"
    adapter.write_text("def run(cfg, ctx):\n    return {'test_acc': 0.9}\n")
    result = run_repro("run", "toy", "--json")
    assert result.returncode == 0, result.stderr
    assert not (repro_home / "git").exists()


def test_a_tampered_checkout_stops_the_run_until_refetched(toy, repro_home):
    assert run_repro("fetch", "toy").returncode == 0
    record = json.loads(run_repro("fetch", "toy", "--json").stdout)["reference"]
    checkout = Path(record["checkout"])
    assert record["tree"] == git("rev-parse", "HEAD^{tree}", cwd=checkout)
    (checkout / "train.py").write_text("print('Test set: accuracy 0.90')\n")  # a "better" result, by hand

    result = run_repro("run", "toy", "--impl", "reference")
    assert result.returncode == 3
    assert "files differ from commit" in result.stderr and "train.py" in result.stderr
    assert "repro fetch toy --refetch" in result.stderr and "Traceback" not in result.stderr
    assert not (repro_home / "runs").exists() or not list((repro_home / "runs").glob("*/run.json"))

    assert run_repro("fetch", "toy", "--refetch").returncode == 0
    assert run_repro("run", "toy", "--impl", "reference").returncode == 0
