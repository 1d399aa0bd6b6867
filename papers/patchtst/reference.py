"""Adapter: PatchTST self-supervised through the authors' two scripts, from the pinned checkout.

A script-style adapter. It runs, in the run's own folder, what the repository's README
describes for ETTh1, with the run's config as flags:

    python PatchTST_self_supervised/patchtst_pretrain.py --dset_pretrain etth1 --context_points 512 ...
    python PatchTST_self_supervised/patchtst_finetune.py --dset_finetune etth1 --is_linear_probe 1
        --target_points 24 --d_ff 512 --pretrained_model saved_models/etth1/masked_patchtst/... ...

and parses the lines they print:

    suggested_lr 0.0001                                   (the LR range test's pick)
          epoch     train_loss     valid_loss            time     (PrintResultsCB, per epoch)
              0       1.041277       0.974919           00:07
    Better model found at epoch 0 with valid_loss value: 0.9749   (the checkpoint kept)
    score: [array(0.9874, dtype=float32), array(0.6728, dtype=float32)]   (test MSE, MAE)

Nothing in the checkout is edited or written to. Pitfalls worked around (README.md,
Reproduction notes), all by the launcher below before the script runs:
- set_device() indexes the None that get_available_cuda() returns without CUDA: a no-op.
- test_func() moves the model with .to('cuda'): on a CPU run, 'cuda' means the CPU.
- get_dls() hard-codes /data/datasets/public/ETDataset/ETT-small/: Dataset_ETT_hour is
  given the folder of the checksummed ETTh1.csv instead.
- scheduler.py passes verbose= to OneCycleLR, which torch 2.13 no longer accepts: dropped.
- The scripts set no seed: torch, numpy and random are seeded with the run's seed each time
  a PatchTST is built (the LR range test builds its own model first; seeding at each build
  keeps its draws from shifting the training's, and lets the re-implementation draw the same).
- patchtst_finetune.py's --d_ff defaults to 256, pre-training's to 512, and transfer_weights
  skips what does not fit with only a printed line: --d_ff is passed to both.
- lr_finder false (ours; the quick profile) makes Learner.lr_finder return --lr unchanged;
  train_steps and eval_windows cut the DataLoaders, as for TimesNet.
- The LR range test draws its plot with matplotlib: the Agg backend, no window.
"""

from __future__ import annotations

from repro.worker import NUMBER

PRETRAIN_PATTERNS = [
    rf"^\s+(?P<step>\d+)\s+(?P<pretrain_train_loss>{NUMBER})\s+(?P<pretrain_val_loss>{NUMBER})\s+\d\d:\d\d",
    rf"^suggested_lr (?P<pretrain_lr>{NUMBER})",
]
FINETUNE_PATTERNS = [
    rf"^\s+(?P<step>\d+)\s+(?P<train_loss>{NUMBER})\s+(?P<val_loss>{NUMBER})\s+{NUMBER}\s+\d\d:\d\d",
    rf"^suggested_lr (?P<lr>{NUMBER})",
    rf"^Better model found at epoch \d+ with valid_loss value: (?P<best_val_loss>{NUMBER})",
    rf"^score: \[array\((?P<test_mse>{NUMBER}), dtype=float32\), array\((?P<test_mae>{NUMBER}), dtype=float32\)\]",
]

# python -c LAUNCH SEED TRAIN_STEPS EVAL_WINDOWS LR_FINDER DATA_DIR SCRIPT ARGS...: the
# workarounds of the module docstring, then the script as __main__ (its folder first on
# sys.path, as `python script.py` would have it).
LAUNCH = """
import itertools, os, random, runpy, sys
import numpy, torch
seed, train_steps, eval_windows, lr_finder = map(int, sys.argv[1:5])
data_dir, sys.argv = sys.argv[5], sys.argv[6:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
import src.basics
src.basics.set_device = lambda *args, **kwargs: None
if not torch.cuda.is_available():
    module_to = torch.nn.Module.to
    torch.nn.Module.to = lambda self, *args, **kwargs: module_to(self, *['cpu' if a == 'cuda' else a for a in args], **kwargs)
from torch.optim import lr_scheduler
class OneCycleLR(lr_scheduler.OneCycleLR):
    def __init__(self, *args, verbose=False, **kwargs):
        super().__init__(*args, **kwargs)
lr_scheduler.OneCycleLR = OneCycleLR
import src.data.pred_dataset as datasets
dataset_init = datasets.Dataset_ETT_hour.__init__
def dataset_here(self, *args, root_path=None, **kwargs):
    dataset_init(self, data_dir, *args, **kwargs)
datasets.Dataset_ETT_hour.__init__ = dataset_here
import src.models.patchTST as patchtst
model_init = patchtst.PatchTST.__init__
def seeded(self, *args, **kwargs):
    random.seed(seed); numpy.random.seed(seed); torch.manual_seed(seed)
    model_init(self, *args, **kwargs)
patchtst.PatchTST.__init__ = seeded
import src.data.datamodule as datamodule
class Cut:
    def __init__(self, loader, batches):
        self.loader, self.batches, self.dataset = loader, batches, loader.dataset
    def __iter__(self):
        return itertools.islice(iter(self.loader), self.batches)
    def __len__(self):
        return min(len(self.loader), self.batches)
make_loader = datamodule.DataLoaders._make_dloader
def cut(self, split, shuffle=False):
    loader = make_loader(self, split, shuffle)
    batches = train_steps if split == 'train' else eval_windows // self.batch_size
    return Cut(loader, batches) if batches and loader is not None else loader
datamodule.DataLoaders._make_dloader = cut
if not lr_finder:
    import src.learner
    src.learner.Learner.lr_finder = lambda self, *args, **kwargs: self.lr
runpy.run_path(sys.argv[0], run_name='__main__')
"""

MODEL_FLAGS = ["context_points", "batch_size", "patch_len", "stride", "n_layers", "n_heads", "d_model", "d_ff",
               "dropout", "head_dropout", "lr"]


def run(cfg: dict, ctx) -> dict[str, float]:
    scripts = ctx.source_dir / "PatchTST_self_supervised"
    launch = [ctx.python, "-c", LAUNCH, str(ctx.seed), str(cfg["train_steps"]), str(cfg["eval_windows"]),
              str(int(cfg["lr_finder"])), str(ctx.data["ETTh1.csv"].parent)]
    model = [item for flag in MODEL_FLAGS for item in (f"--{flag}", str(cfg[flag]))]
    env = {"MPLBACKEND": "Agg", **({"CUDA_VISIBLE_DEVICES": ""} if ctx.device == "cpu" else {})}
    finetune_epochs = cfg["n_epochs_finetune"] + (cfg["freeze_epochs"] if cfg["finetune_mode"] == "finetune" else 0)
    ctx.expect_steps(cfg["n_epochs_pretrain"] + finetune_epochs)

    pretrained = ctx.run_script(
        [*launch, str(scripts / "patchtst_pretrain.py"), "--dset_pretrain", "etth1", *model,
         "--mask_ratio", str(cfg["mask_ratio"]), "--n_epochs_pretrain", str(cfg["n_epochs_pretrain"])],
        cwd=ctx.work_dir, patterns=PRETRAIN_PATTERNS, env=env)
    checkpoint = (ctx.work_dir / "saved_models" / "etth1" / "masked_patchtst" / "based_model" /
                  (f"patchtst_pretrained_cw{cfg['context_points']}_patch{cfg['patch_len']}_stride{cfg['stride']}"
                   f"_epochs-pretrain{cfg['n_epochs_pretrain']}_mask{cfg['mask_ratio']}_model1.pth"))
    mode = "--is_linear_probe" if cfg["finetune_mode"] == "linear_probe" else "--is_finetune"
    if cfg["finetune_mode"] == "finetune" and cfg["freeze_epochs"] != 10:
        raise ValueError("freeze_epochs: patchtst_finetune.py always trains the head alone for 10 epochs first")
    metrics = ctx.run_script(
        [*launch, str(scripts / "patchtst_finetune.py"), "--dset_finetune", "etth1", mode, "1", *model,
         "--target_points", str(cfg["target_points"]), "--n_epochs_finetune", str(cfg["n_epochs_finetune"]),
         "--pretrained_model", str(checkpoint)],
        cwd=ctx.work_dir, patterns=FINETUNE_PATTERNS, env=env)
    return {
        "test_mse": metrics["test_mse"],  # of the checkpoint with the best validation loss
        "test_mae": metrics["test_mae"],
        "best_val_loss": metrics["best_val_loss"],
        "train_loss": metrics["train_loss"],
        "lr": metrics.get("lr", cfg["lr"]),
        "pretrain_lr": pretrained.get("pretrain_lr", cfg["lr"]),
        "pretrain_val_loss": pretrained.best("pretrain_val_loss").value,
        "pretrain_train_loss": pretrained["pretrain_train_loss"],
    }
