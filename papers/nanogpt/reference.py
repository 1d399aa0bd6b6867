"""Adapter: the authors' nanoGPT train.py with config/train_shakespeare_char.py, from the pinned checkout.

A script-style adapter. It runs what the README says, with every config value passed as an
override, e.g. for the cpu profile:

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000
        --lr_decay_iters=2000 --dropout=0.0 ...

and parses the lines train.py prints:

    step 2000: train loss 1.7615, val loss 1.8860
    iter 1990: loss 1.8121, time 52.11ms, mfu 0.03%

Nothing in the checkout is edited or written to. Pitfalls worked around (README.md,
Reproduction notes):
- train.py reads data/<dataset>/*.bin and execs configurator.py relative to the working
  directory, and writes checkpoints to out_dir. The adapter runs it in the run's own folder,
  with the data prepared there and configurator.py linked from the checkout.
- data/shakespeare_char/prepare.py downloads input.txt from char-rnn's master branch when
  the file is missing beside it. The adapter puts the pinned, checksummed file there first
  and runs the authors' prepare.py on it (a copy in the run's folder, since it writes beside
  itself).
- train.py always seeds torch with 1337: the run's seed cannot change the authors' run, so
  every seed of the reference gives the same numbers on a CPU (the adapter says so in the log).
"""

from __future__ import annotations

import shutil
import statistics

from repro.worker import NUMBER

EVAL_LINE = rf"step (?P<step>\d+): train loss (?P<train_loss>{NUMBER}), val loss (?P<val_loss>{NUMBER})"
ITER_LINE = rf"iter (?P<step>\d+): loss (?P<batch_loss>{NUMBER}), time (?P<iter_ms>{NUMBER})ms"

LOG_INTERVAL = 10  # the config file's own value: a progress line every 10 iterations


def prepare_data(ctx) -> None:
    """data/shakespeare_char/{train,val}.bin and meta.pkl in the run's folder, made by the
    authors' prepare.py from the pinned input.txt."""
    data_dir = ctx.work_dir / "data" / "shakespeare_char"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ctx.data["input.txt"], data_dir / "input.txt")
    shutil.copyfile(ctx.source_dir / "data" / "shakespeare_char" / "prepare.py", data_dir / "prepare.py")
    ctx.run_script([ctx.python, "prepare.py"], cwd=data_dir, patterns=[r"vocab size: (?P<vocab_size>\d+)"])


def run(cfg: dict, ctx) -> dict[str, float]:
    prepare_data(ctx)
    (ctx.work_dir / "configurator.py").symlink_to(ctx.source_dir / "configurator.py")
    if ctx.seed != 0:
        print(f"note: train.py seeds torch with 1337 whatever the run's seed ({ctx.seed}); "
              "this run repeats seed 0's on the same hardware", flush=True)

    overrides = [f"--{key}={value}" for key, value in cfg.items()]
    args = [
        ctx.python, str(ctx.source_dir / "train.py"), str(ctx.source_dir / "config" / "train_shakespeare_char.py"),
        f"--device={ctx.device}", f"--out_dir={ctx.work_dir / 'out'}", f"--log_interval={LOG_INTERVAL}",
        *overrides,
    ]
    ctx.expect_steps(cfg["max_iters"])
    metrics = ctx.run_script(args, cwd=ctx.work_dir, patterns=[EVAL_LINE, ITER_LINE])

    best = metrics.best("val_loss")
    # Per-iteration times, without the iterations that include an evaluation (every
    # eval_interval) or compilation (the first few): the median is the training speed.
    iter_ms = [r.value for r in metrics.history["iter_ms"] if r.step > LOG_INTERVAL and r.step % cfg["eval_interval"]]
    results = {
        "val_loss": metrics["val_loss"],
        "train_loss": metrics["train_loss"],
        "best_val_loss": best.value,
        "seconds_to_best_val": best.seconds,
    }
    if iter_ms:  # runs of a few iterations have none left
        results["tokens_per_s"] = cfg["batch_size"] * cfg["block_size"] / (statistics.median(iter_ms) / 1000)
    return results
