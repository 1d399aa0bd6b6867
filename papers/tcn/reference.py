"""Adapter: the authors' TCN/poly_music/music_test.py, from the pinned checkout.

A script-style adapter. It runs the authors' argparse script with the run's config as flags,

    python music_test.py --data JSB --ksize 3 --levels 2 --nhid 150 --dropout 0.5 --clip 0.4
        --lr 0.001 --epochs 100 --seed 0 --cuda

and parses the lines it prints:

    Epoch  3 | lr 0.00100 | loss 8.52013      (twice an epoch on JSB: at sequences 100 and 200)
    Validation loss: 8.61942                  (after every epoch)
    Test loss: 8.56170
    Eval loss: 8.51234                        (at the end: the test loss of the best-validation model)

Nothing in the checkout is edited or written to. Pitfalls worked around (README.md,
Reproduction notes):
- `--cuda` is `store_false`: CUDA is on unless the flag is given, so a CPU run passes it.
- music_test.py reads ./mdata/*.mat and saves its best model to ./poly_music_<data>.pt, both
  relative to the working directory. The adapter runs it in the run's own folder (parallel
  runs would overwrite each other's model in the checkout), with mdata/ holding the
  checksummed data files, and the checkout on PYTHONPATH for its `TCN.` imports.
- The final `torch.load` of that model fails on torch >= 2.6 (weights_only defaults to True);
  torch's TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 restores the old behaviour for this one script.
- numpy, which shuffles the training sequences, is never seeded, so two runs with the same
  --seed differ. The adapter seeds numpy's global generator with the run's seed before the
  script starts (a three-line launcher, below), which makes a seed repeatable.
- Gradient clipping is called before backward(), so it never clips: `--clip` has no effect
  in the authors' code. The adapter passes it anyway, as the paper's setting.
"""

from __future__ import annotations

import os

from repro.worker import NUMBER

PATTERNS = [
    rf"Epoch\s+(?P<step>\d+) \| lr (?P<lr>{NUMBER}) \| loss (?P<train_nll>{NUMBER})",
    rf"^Validation loss: (?P<valid_nll>{NUMBER})",
    rf"^Test loss: (?P<epoch_test_nll>{NUMBER})",
    rf"^Eval loss: (?P<test_nll>{NUMBER})",
]

DATA_FILES = {"JSB": "JSB_Chorales.mat", "Nott": "Nottingham.mat"}

# python -c SEEDED_LAUNCH SEED script.py ARGS...: seed numpy, then run the script as __main__.
SEEDED_LAUNCH = (
    "import runpy, sys, numpy; numpy.random.seed(int(sys.argv[1])); "
    "sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run(cfg: dict, ctx) -> dict[str, float]:
    mdata = ctx.work_dir / "mdata"
    mdata.mkdir(exist_ok=True)
    for name in DATA_FILES.values():
        os.symlink(ctx.data[name], mdata / name)

    script = ctx.source_dir / "TCN" / "poly_music" / "music_test.py"
    flags = ["data", "ksize", "levels", "nhid", "dropout", "clip", "lr", "epochs"]
    args = [ctx.python, "-c", SEEDED_LAUNCH, str(ctx.seed), str(script), "--seed", str(ctx.seed)]
    args += [item for flag in flags for item in (f"--{flag}", str(cfg[flag]))]
    if ctx.device == "cpu":
        args.append("--cuda")  # store_false: giving the flag turns CUDA off
    env = {"PYTHONPATH": str(ctx.source_dir), "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}

    ctx.expect_steps(cfg["epochs"])
    metrics = ctx.run_script(args, cwd=ctx.work_dir, patterns=PATTERNS, env=env)
    return {
        "test_nll": metrics["test_nll"],  # the test NLL of the best-validation model
        "valid_nll": metrics.best("valid_nll").value,
        "final_test_nll": metrics["epoch_test_nll"],
        "train_nll": metrics["train_nll"],
    }
