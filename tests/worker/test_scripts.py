"""Metrics parsed from an authors' script: steps carried to lines without one, the history
of every value, the best one, and the thread cap the script inherits."""

from __future__ import annotations

import sys

import pytest

from repro.worker.scripts import OutputParser, ScriptFailed, run_script

EPOCH = r"Epoch\s+(?P<step>\d+) \| loss (?P<train_loss>[\d.]+)"
VALID = r"^Validation loss: (?P<valid_loss>[\d.]+)"


def parser_and_log():
    logged = []
    return OutputParser([EPOCH, VALID], lambda step, **metrics: logged.append((step, metrics))), logged


def test_a_line_without_a_step_belongs_to_the_last_step_seen():
    parser, logged = parser_and_log()
    for line in ["Validation loss: 9.0", "Epoch  1 | loss 8.5", "Validation loss: 8.0", "noise",
                 "Epoch  2 | loss 7.5", "Validation loss: 8.2"]:
        parser.feed(line)
    # Before any step was printed, the count of matches stands in for it.
    assert logged == [(1, {"valid_loss": 9.0}), (1, {"train_loss": 8.5}), (1, {"valid_loss": 8.0}),
                      (2, {"train_loss": 7.5}), (2, {"valid_loss": 8.2})]
    assert parser.last == {"valid_loss": 8.2, "train_loss": 7.5}
    assert [(r.step, r.value) for r in parser.history["valid_loss"]] == [(1, 9.0), (1, 8.0), (2, 8.2)]


def test_run_script_returns_last_values_history_and_best(tmp_path):
    script = "\n".join([
        "import os",
        "print('threads', os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])",
        "for epoch, loss in [(1, 3.0), (2, 2.0), (3, 2.5)]:",
        "    print(f'Epoch {epoch} | loss {loss + 1}')",
        "    print(f'Validation loss: {loss}')",
    ])
    parser = OutputParser([EPOCH, VALID, r"threads (?P<omp>\d+) (?P<mkl>\d+)"], lambda step, **m: None)
    metrics = run_script([sys.executable, "-c", script], cwd=tmp_path, parser=parser, threads=3)
    assert metrics == {"omp": 3.0, "mkl": 3.0, "train_loss": 3.5, "valid_loss": 2.5}
    best = metrics.best("valid_loss")
    assert (best.step, best.value) == (2, 2.0) and best.seconds >= 0
    assert metrics.best("valid_loss", direction="higher").value == 3.0
    assert [r.step for r in metrics.history["train_loss"]] == [1, 2, 3]
    with pytest.raises(KeyError, match="never gave 'test_loss'"):
        metrics.best("test_loss")


def test_env_overrides_the_thread_cap_and_failures_raise(tmp_path):
    parser = OutputParser([r"omp (?P<omp>\d+)"], lambda step, **m: None)
    script = "import os, sys; print('omp', os.environ['OMP_NUM_THREADS']); sys.exit(4)"
    with pytest.raises(ScriptFailed, match="exited with code 4"):
        run_script([sys.executable, "-c", script], cwd=tmp_path, parser=parser, threads=2,
                   env={"OMP_NUM_THREADS": "7"})
    assert parser.last == {"omp": 7.0}


@pytest.mark.parametrize("printed, value", [
    ("8.52", 8.52), ("-0.3", -0.3), ("3.6e-02", 0.036), ("1e+03", 1000.0), ("+2", 2.0), (".5", 0.5),
    ("inf", float("inf")),
])
def test_number_reads_every_way_a_number_is_printed(printed, value):
    from repro.worker import NUMBER

    logged = []
    parser = OutputParser([rf"mse (?P<mse>{NUMBER}), mae (?P<mae>{NUMBER})"], lambda step, **m: logged.append(m))
    parser.feed(f"test mse {printed}, mae 0.25")
    assert parser.last == {"mse": value, "mae": 0.25}


def test_nan_is_read_as_nan():
    from repro.worker import NUMBER

    parser = OutputParser([rf"loss (?P<loss>{NUMBER})"], lambda step, **m: None)
    parser.feed("step 3 loss nan")
    assert parser.last["loss"] != parser.last["loss"]


def test_a_failed_script_says_the_exception_it_ended_with(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('epoch 1')\nimport json\njson.loads('{')\n")
    parser = OutputParser([r"loss (?P<loss>\S+)"], lambda step, **m: None)
    with pytest.raises(ScriptFailed) as caught:
        run_script([sys.executable, str(script)], cwd=tmp_path, parser=parser)
    assert "train.py exited with code 1: json.decoder.JSONDecodeError: Expecting property name" in str(caught.value)
