"""`repro compare PAPER --impl A --vs B`: is A different from B, beyond seed noise?"""

from __future__ import annotations

import argparse

from repro.commands._batch import add_batch_arguments, batch_options

PARSER = dict(
    help="run two implementations on the same seeds and say whether they differ (intervals, p-values, seeds needed)",
    description="Run implementation A and B (a variant, a student's, the reference) on the same claim settings, "
        "seeds, config and threads, and print per setting and metric: each side's mean ± sd, A - B with its 95% "
        "interval (paired by seed), a p-value (paired t; Welch t where the seeds differ), and a plain sentence: "
        "'A is better than B by ...', or 'no difference detectable with 5 seeds; about 12 seeds would detect a "
        "difference of ...'. The runs are ordinary records; the comparison is saved for `repro report`.",
    epilog="exit codes: 0 every claim's metric decided (a difference, or identical on every seed); 1 a claim's "
        "metric undecided (like INCONCLUSIVE); 2 usage error; 3 a run crashed or timed out; 130 Ctrl-C.",
    formatter_class=argparse.RawDescriptionHelpFormatter,
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", default="reimpl", help="implementation A (default reimpl)")
    p.add_argument("--vs", required=True, metavar="B",
                   help="implementation B: a variant (papers/PAPER/variants/), a student's, reference, or a .py path")
    add_batch_arguments(p, seeds_help="a count (5 = seeds 0..4) or a list (0,1,2); default 5, the same for A and B")
    p.add_argument("--until-decided", action="store_true",
                   help="add rounds of as many new seeds until every claim's metric is decided or --max-seeds is reached")
    p.add_argument("--max-seeds", type=int, default=20, metavar="N", help="--until-decided stops at N seeds (default 20)")
    p.add_argument("--effect", type=float, metavar="D",
                   help="the smallest difference worth detecting, in the metric's units, for the seeds-needed "
                        "estimate (default: each claim's tolerance band)")


def handle(args) -> int:
    from repro.catalog import load_paper
    from repro.render.text import to_json
    from repro.render.versus import versus_text
    from repro.versus import DEFAULT_SEEDS, compare_impls

    paper = load_paper(args.paper)
    options, settings = batch_options(args, paper, default_seeds=list(range(DEFAULT_SEEDS)))
    result = compare_impls(paper, args.impl, args.vs, until_decided=args.until_decided, max_seeds=args.max_seeds,
                           effect=args.effect, executor=settings.run.executor, executor_options=settings.options(),
                           data_dir=args.data_dir, show_progress=True, **options)
    print(to_json(result.to_dict()) if args.json else versus_text(result))
    return result.exit_code
