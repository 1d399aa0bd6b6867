"""The options every command that runs a batch shares (`repro run`, `compare`, `sweep`):
what to run (profile, seeds, --set, claims), where (device, executor and its flags) and how
(jobs, threads, timeout), parsed here once."""

from __future__ import annotations

from pathlib import Path

from repro.execute import executor_classes


def add_batch_arguments(p, *, seeds_help: str = "a count (3 = seeds 0,1,2) or a list (0,1,2); default: the profile's") -> None:
    p.add_argument("--profile", default="quick", help="quick (default, CI-sized), full (the paper's protocol) or another "
                   "profile of the manifest (`repro show PAPER` lists them, e.g. nanogpt's cpu and gpu)")
    p.add_argument("--seeds", help=seeds_help)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value for every run (repeatable), e.g. --set total_steps=500")
    p.add_argument("--claims", help="comma-separated claim ids to run (default: the profile's, or all)")
    p.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"], help="where to run (default auto)")
    p.add_argument("--jobs", type=int, metavar="N", help="runs at once: local workers (default 1; the cores are shared "
                   "evenly, and where there are several GPUs each run gets one) or Slurm tasks (default: as many as fit)")
    p.add_argument("--threads", type=int, metavar="T", help="torch threads per run (default: the cores shared evenly "
                   "by the runs at once; Slurm: --cpus-per-run); recorded, since numbers move with it")
    p.add_argument("--timeout", type=float, metavar="S", help="stop a run after S seconds (recorded as timeout)")
    executors = executor_classes()  # each a file in repro/execute/
    p.add_argument("--executor", choices=list(executors),
                   help="where the runs go (default local, or [run] executor in repro.toml): " + "; ".join(
                       f"{name}: {cls.summary}" for name, cls in executors.items()))
    p.add_argument("--vectorize-seeds", action="store_true",
                   help="train a setting's seeds at once in one worker (batched weights), where the implementation "
                        "offers run_seeds (MNIST-1D's reimpl does) and the executor is local; else one worker a seed. "
                        "With --jobs N above the number of settings, each setting's seeds are split into up to "
                        "N / settings groups, a worker each")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="a folder of pre-seeded data files to use instead of downloading (or REPRO_DATA_DIR)")
    for executor in executors.values():  # each executor's own flags, e.g. Slurm's --partition
        executor.add_arguments(p.add_argument_group(executor.name))


def batch_options(args, paper, default_seeds: list[int] | None = None) -> tuple[dict, object]:
    """The parsed options as keywords of reproduce() (and compare_impls, sweep), and the
    settings (repro.toml overridden by the flags) they came from."""
    from repro.plan import parse_claim_ids, parse_overrides, parse_seeds
    from repro.settings import load_settings

    settings = load_settings().overridden(**vars(args))  # executor, jobs and each executor's flags
    options = dict(
        profile=args.profile,
        seeds=parse_seeds(args.seeds) if args.seeds is not None else default_seeds,
        overrides=parse_overrides(args.overrides, paper),
        claim_ids=parse_claim_ids(args.claims) if args.claims is not None else None,
        device=args.device,
        jobs=settings.run.jobs,
        threads=settings.run.threads,
        timeout_s=args.timeout,
        vectorize_seeds=args.vectorize_seeds,
    )
    return options, settings
