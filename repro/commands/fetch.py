"""`repro fetch`."""

from __future__ import annotations

from pathlib import Path

PARSER = dict(
    help="bring a paper's reference code (pinned commit) and data files into the cache",
    description="Fetch the authors' repository at the manifest's commit, through git (so "
        "`git config url.<mirror>.insteadOf <url>` applies), and download and verify its data files.",
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="a folder of pre-seeded data files to use instead of downloading (or REPRO_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro.render import text as render
    from repro.fetch import fetch_inputs
    from repro.catalog import load_paper

    paper = load_paper(args.paper)
    source_dir, data = fetch_inputs(paper, code=True, seed_dir=args.data_dir)
    print(render.to_json(render.fetched_json(paper, source_dir, data)) if args.json
          else render.fetched_text(paper, source_dir, data))
    return 0

