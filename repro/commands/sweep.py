"""`repro sweep PAPER --grid key=v1,v2`: which setting is best, and is it really?"""

from __future__ import annotations

import argparse

from repro.commands._batch import add_batch_arguments, batch_options

PARSER = dict(
    help="run a grid of config values over seeds; the best setting, and whether it beats the runner-up",
    description="Run every combination of the --grid values (each an ordinary batch with those --set overrides) "
        "on the same seeds, all at once (--jobs locally, or one Slurm job array), and print per claim the points "
        "ranked by mean ± sd, each one's difference from the best with its 95% interval (paired by seed), and "
        "whether the best is distinguishable from the runner-up. The summary is saved for `repro report`.",
    epilog="exit codes: 0 every claim's best point told apart from its runner-up; 1 not (more seeds, or it does "
        "not matter); 2 usage error; 3 a run crashed or timed out; 130 Ctrl-C.",
    formatter_class=argparse.RawDescriptionHelpFormatter,
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", default="reimpl", help="implementation (default reimpl), a variant's, a student's, or a .py path")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...", required=True,
                   help="a config key and its values (repeatable: the grid is the product), e.g. "
                        "--grid learning_rate=1e-3,3e-3,1e-2")
    add_batch_arguments(p, seeds_help="a count (3 = seeds 0,1,2) or a list; default 3, the same at every point")
    p.add_argument("--dry-run", action="store_true", help="print the grid's points and run nothing")


def handle(args) -> int:
    from repro.catalog import load_paper
    from repro.render.text import to_json
    from repro.render.versus import sweep_text
    from repro.sweep import DEFAULT_SEEDS, parse_grid, point_label, points_of, run_sweep

    paper = load_paper(args.paper)
    options, settings = batch_options(args, paper, default_seeds=list(range(DEFAULT_SEEDS)))
    grid = parse_grid(args.grid, paper, options["overrides"])
    if args.dry_run:
        points = points_of(grid)
        print(to_json([{"point": p} for p in points]) if args.json else
              "\n".join([f"{len(points)} points x {len(options['seeds'])} seeds:"] + [f"  {point_label(p)}" for p in points]))
        return 0
    result = run_sweep(paper, grid, impl=args.impl, executor=settings.run.executor, executor_options=settings.options(),
                       data_dir=args.data_dir, show_progress=True, **options)
    print(to_json(result.to_dict()) if args.json else sweep_text(result))
    return result.exit_code
