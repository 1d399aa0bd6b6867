"""`repro show`."""

from __future__ import annotations

PARSER = dict(
    help="a paper's metadata, reference, claims, profiles and implementations",
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro.render import text as render
    from repro.catalog import load_paper

    paper = load_paper(args.paper)
    print(render.to_json(render.paper_json(paper)) if args.json else render.paper_details(paper))
    return 0

