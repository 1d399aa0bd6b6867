"""`repro export`."""

from __future__ import annotations

import sys
from pathlib import Path

PARSER = dict(
    help="a paper's claims and latest results as model-card metadata",
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--format", default="model-index", choices=["model-index"],
                   help="model-index: the Hugging Face model card's front-matter format")
    p.add_argument("--impl", help="only this implementation (a model card describes one model)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")


def handle(args) -> int:
    from repro.errors import UsageError
    from repro.render.export import model_index, to_yaml
    from repro.catalog import load_paper
    from repro.records import list_records

    paper = load_paper(args.paper)
    records = [r for r in list_records(paper.id) if args.impl is None or r.impl == args.impl]
    data = model_index(paper, records)
    if not data["model-index"]:
        raise UsageError(f"no finished runs of {paper.id}" + (f" with --impl {args.impl}" if args.impl else "")
                         + f" to export; `repro run {paper.id}` first")
    text = to_yaml(data)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 0

