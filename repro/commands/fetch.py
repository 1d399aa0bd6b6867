"""`repro fetch`."""

from __future__ import annotations

from pathlib import Path

PARSER = dict(
    help="bring a paper's reference code (pinned commit) and data files into the cache",
    description="Fetch the authors' repository at the manifest's commit, through git (so "
        "`git config url.<mirror>.insteadOf <url>` applies; with reference.paths, only those paths, from a "
        "partial fetch), install the authors' requirements the harness lacks into a per-paper environment, "
        "and download and verify the data files. A cached checkout is checked (HEAD, clean) on every use.",
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="a folder of pre-seeded data files to use instead of downloading (or REPRO_DATA_DIR)")
    p.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                   help="take the pinned commit from an existing local clone (its HEAD must be the commit, "
                   "its tracked files unchanged) instead of the network")
    p.add_argument("--refetch", action="store_true",
                   help="check the commit out again, replacing the cached checkout (one that was changed is refused)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro.render import text as render
    from repro.fetch import fetch_inputs
    from repro.catalog import load_paper

    paper = load_paper(args.paper)
    inputs = fetch_inputs(paper, code=True, seed_dir=args.data_dir, from_dir=args.from_dir, refetch=args.refetch)
    print(render.to_json(render.fetched_json(paper, inputs)) if args.json else render.fetched_text(paper, inputs))
    return 0

