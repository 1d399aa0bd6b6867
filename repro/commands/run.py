"""`repro run PAPER`: plan, run, record and compare with the paper's claims."""

from __future__ import annotations

import argparse

from repro.commands import EPILOG
from repro.commands._batch import add_batch_arguments, batch_options

PARSER = dict(
    help="run a paper's claims and print the verdict table",
    description="Plan the runs (claim settings x seeds), run each in its own worker process, "
        "record them, and compare with the paper's claims.",
    epilog=EPILOG,
    formatter_class=argparse.RawDescriptionHelpFormatter,
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", default="reimpl", help="implementation: reimpl (default), reference, a student's "
                   "name, a variant's, or a .py path")
    add_batch_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan and run nothing")


def handle(args) -> int:
    from repro.catalog import load_paper
    from repro.execute import executor_class
    from repro.render import text as render
    from repro.run import plan_for, reproduce

    paper = load_paper(args.paper)
    options, settings = batch_options(args, paper)
    options["impl"] = args.impl
    if args.dry_run:
        runner = executor_class(settings.run.executor)(settings.options())
        specs = plan_for(paper, runner=runner, **options)
        print(render.to_json([s.to_dict() for s in specs]) if args.json else render.plan_table(paper, specs))
        return 0
    outcome = reproduce(paper, show_progress=True, data_dir=args.data_dir, executor=settings.run.executor,
                        executor_options=settings.options(), **options)
    print(render.to_json(render.outcome_json(outcome)) if args.json else render.verdict_table(outcome))
    return outcome.exit_code
