"""`repro list`."""

from __future__ import annotations

import sys

from repro.errors import ManifestError

PARSER = dict(
    help="list the papers in the catalog",
)


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro.render import text as render
    from repro.catalog import load_paper, paper_ids

    summaries, broken = [], 0
    for paper_id in paper_ids():
        try:
            summaries.append(render.paper_summary(load_paper(paper_id)))
        except ManifestError as exc:
            broken += 1
            print(f"error: {paper_id}: {len(exc.problems)} problem(s) in its manifest:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
    print(render.to_json(summaries) if args.json else render.catalog_table(summaries))
    return 2 if broken else 0

