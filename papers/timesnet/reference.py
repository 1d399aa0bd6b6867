"""Adapter: TimesNet through Time-Series-Library's run.py, from the pinned checkout.

A script-style adapter. It runs what scripts/long_term_forecast/ETT_script/TimesNet_ETTh1.sh
runs for one horizon, with the run's config as flags:

    python run.py --task_name long_term_forecast --is_training 1 --model TimesNet --data ETTh1
        --root_path ./dataset/ETT-small/ --data_path ETTh1.csv --features M --seq_len 96
        --label_len 48 --pred_len 96 --e_layers 2 --d_layers 1 --factor 3 --enc_in 7
        --dec_in 7 --c_out 7 --d_model 16 --d_ff 32 --top_k 5 --des Exp --itr 1 ...

and parses the lines it prints:

    Epoch: 1, Steps: 264 | Train Loss: 0.4340855 Vali Loss: 0.7190101 Test Loss: 0.4356575
    mse:0.43565744161605835, mae:0.4401308596134186   (at the end: test set, best-validation weights)

Nothing in the checkout is edited or written to. Pitfalls worked around (README.md,
Reproduction notes):
- run.py reads ./dataset/ETT-small/ETTh1.csv and writes ./checkpoints/, ./test_results/,
  ./results/ and result_long_term_forecast.txt where it starts: it runs in the run's own
  folder, with the checksummed ETTh1.csv linked into dataset/ETT-small/.
- run.py seeds random, numpy and torch with a fixed 2021 and takes no --seed: the launcher
  makes that 2021 + the run's seed, so seed 0 is exactly the authors' run.
- utils/tools.py uses np.Inf, removed in numpy 2: the launcher restores it as np.inf.
- test() draws a PDF for every 20th test window: the launcher replaces utils.tools.visual
  with a no-op. The numbers are not affected.
- --num_workers defaults to 10 data-loader processes; 0 loads in the process (same order).
- --use_gpu is `type=bool` (any non-empty string is True) and on whenever CUDA is
  available: a CPU run hides the GPUs with CUDA_VISIBLE_DEVICES="".
- The short profiles' train_steps and eval_windows (ours, not run.py's) cut the authors'
  DataLoaders: the launcher wraps exp_long_term_forecasting's data_provider so that each
  loader stops after that many batches (the random draws are the same as a whole epoch's
  start, so a cut run is the start of the full one).
"""

from __future__ import annotations

from repro.worker import NUMBER

PATTERNS = [
    rf"Epoch: (?P<step>\d+), Steps: \d+ \| Train Loss: (?P<train_loss>{NUMBER}) "
    rf"Vali Loss: (?P<val_loss>{NUMBER}) Test Loss: (?P<test_loss>{NUMBER})",
    rf"^mse:(?P<test_mse>{NUMBER}), mae:(?P<test_mae>{NUMBER})",
]

# python -c LAUNCH SEED TRAIN_STEPS EVAL_WINDOWS run.py ARGS...: the numpy-2 shim, the seed
# offset, no test plots, the loaders cut where asked, then run.py as __main__ (with the
# checkout first on sys.path, as `python run.py` would have it).
LAUNCH = """
import itertools, random, runpy, sys
import numpy, torch
numpy.Inf = numpy.inf
offset, train_steps, eval_windows = map(int, sys.argv[1:4])
def shifted(fn):
    return lambda s, *a, **k: fn(s + offset if s == 2021 else s, *a, **k)
random.seed, numpy.random.seed, torch.manual_seed = map(shifted, (random.seed, numpy.random.seed, torch.manual_seed))
sys.argv = sys.argv[4:]
sys.path.insert(0, sys.argv[0].rsplit('/', 1)[0])
import utils.tools
utils.tools.visual = lambda *args, **kwargs: None
import exp.exp_long_term_forecasting as forecasting
class Cut:
    def __init__(self, loader, batches):
        self.loader, self.batches = loader, batches
    def __iter__(self):
        return itertools.islice(iter(self.loader), self.batches)
    def __len__(self):
        return min(len(self.loader), self.batches)
def cut(data_provider):
    def provide(args, flag):
        data_set, loader = data_provider(args, flag)
        batches = train_steps if flag == 'train' else eval_windows // loader.batch_size
        return data_set, (Cut(loader, batches) if batches else loader)
    return provide
forecasting.data_provider = cut(forecasting.data_provider)
runpy.run_path(sys.argv[0], run_name='__main__')
"""

# The script's fixed flags (TimesNet_ETTh1.sh); those that vary are in paper.yaml's config.
FIXED = ["--task_name", "long_term_forecast", "--is_training", "1", "--model", "TimesNet",
         "--model_id", "ETTh1", "--data", "ETTh1", "--root_path", "./dataset/ETT-small/",
         "--data_path", "ETTh1.csv", "--features", "M", "--d_layers", "1", "--factor", "3",
         "--des", "Exp", "--itr", "1", "--num_workers", "0"]
FLAGS = ["seq_len", "label_len", "pred_len", "enc_in", "c_out", "e_layers", "d_model", "d_ff", "top_k",
         "num_kernels", "dropout", "train_epochs", "patience", "batch_size", "learning_rate", "lradj"]


def run(cfg: dict, ctx) -> dict[str, float]:
    data_dir = ctx.work_dir / "dataset" / "ETT-small"
    data_dir.mkdir(parents=True)
    (data_dir / "ETTh1.csv").symlink_to(ctx.data["ETTh1.csv"])

    args = [ctx.python, "-c", LAUNCH, str(ctx.seed), str(cfg["train_steps"]), str(cfg["eval_windows"]),
            str(ctx.source_dir / "run.py"), *FIXED, "--dec_in", str(cfg["enc_in"])]
    args += [item for flag in FLAGS for item in (f"--{flag}", str(cfg[flag]))]
    env = {"CUDA_VISIBLE_DEVICES": ""} if ctx.device == "cpu" else {}

    ctx.expect_steps(cfg["train_epochs"])
    metrics = ctx.run_script(args, cwd=ctx.work_dir, patterns=PATTERNS, env=env)
    return {
        "test_mse": metrics["test_mse"],  # the test MSE of the best-validation weights
        "test_mae": metrics["test_mae"],
        "best_val_loss": metrics.best("val_loss").value,
        "train_loss": metrics["train_loss"],
    }
