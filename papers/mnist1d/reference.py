"""Adapter: the authors' own MNIST-1D benchmark code, run from the pinned checkout.

An import-style adapter (the worked example): it imports the authors' notebooks/models.py
and notebooks/train.py from ctx.source_dir and calls them the way their benchmark notebook,
notebooks/mnist1d-classification.ipynb, does:

    args = get_model_args(); args.total_steps = 6000; args.device = DEVICE
    set_seed(args.seed); model = ConvBase(output_size=args.output_size)
    results_cnn = train_model(data, model, args)

Nothing in the checkout is edited. Pitfalls worked around (see README.md, Reproduction notes):
- train.py's own set_seed calls random.seed, but train.py never imports random: calling it
  raises NameError. The adapter never calls it.
- The notebook seeds with mnist1d.utils.set_seed, which seeds random and numpy but not
  torch, so the authors' model initialisations are not reproducible from their seed. Here
  the worker has already seeded python, numpy and torch from the run's seed.
- The notebook downloads mnist1d_data.pkl from the repository's master branch at run time.
  The adapter generates the same data with the checkout's own generator (identical labels,
  signals equal to float rounding) and caches it per commit.
"""

from __future__ import annotations

import os

from repro.worker import NUMBER

# The line train_model prints every `print_every` steps, with its numbers as metrics.
PROGRESS_LINE = (
    rf"step (?P<step>\d+), dt \S+s, train_loss (?P<train_loss>{NUMBER}), test_loss (?P<test_loss>{NUMBER}), "
    rf"train_acc (?P<train_acc>{NUMBER}), test_acc (?P<test_acc>{NUMBER})"
)

# How the notebook builds each model (models.py's default sizes).
MODELS = {
    "logistic": lambda models, args: models.LinearBase(args.input_size, args.output_size),
    "mlp": lambda models, args: models.MLPBase(args.input_size, args.output_size),
    "cnn": lambda models, args: models.ConvBase(output_size=args.output_size),
    "gru": lambda models, args: models.GRUBase(input_size=1, output_size=args.output_size),
}


def load_data(ctx) -> dict:
    """The default dataset from the checkout's own generator, cached per commit (~2.4 s to make)."""
    import pickle

    path = ctx.cache_dir / f"mnist1d-authors-{ctx.reference_commit[:12]}.pkl"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset  # the checkout's (ctx.import_source put it first)

        data = make_dataset(get_dataset_args())
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(data))
        os.replace(tmp, path)
    return pickle.loads(path.read_bytes())


def run(cfg: dict, ctx) -> dict[str, float]:
    # Their names are generic (train, models): ours are not. The checkout's root is on sys.path
    # from now on, so `mnist1d` (in load_data) is the checkout's package, not the installed one.
    models = ctx.import_source("notebooks/models.py", "mnist1d_authors_models")
    train = ctx.import_source("notebooks/train.py", "mnist1d_authors_train")
    data = load_data(ctx)

    args = train.get_model_args()  # the authors' defaults, then the notebook's changes
    args.total_steps = cfg["total_steps"]
    args.batch_size = cfg["batch_size"]
    args.learning_rate = cfg["learning_rate"]
    args.eval_every = cfg["eval_every"]
    args.print_every = cfg["eval_every"]  # prints only: lets the harness follow progress
    args.device = ctx.device
    model = MODELS[cfg["model"]](models, args)

    ctx.expect_steps(args.total_steps)
    with ctx.watch_output([PROGRESS_LINE]):
        results = train.train_model(data, model, args)
    # train_model evaluates at step 0, every eval_every steps and at total_steps: the last is final.
    return {"test_acc": float(results["test_acc"][-1]), "train_acc": float(results["train_acc"][-1])}
