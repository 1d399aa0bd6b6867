"""`repro new`."""

from __future__ import annotations

PARSER = dict(
    help="start a paper folder, papers/<id>/, from its arXiv id (or offline, from its metadata)",
    description="Write papers/<id>/ (paper.yaml, reference.py, reimpl.py, README.md) with the metadata "
        "filled in and the rest marked TODO; `repro show <id>` then lists what is left. With --title, "
        "--authors and --year nothing is fetched.",
)


def add_arguments(p) -> None:
    p.add_argument("arxiv_id", nargs="?", metavar="ARXIV_ID", help="e.g. 2011.14439 (or arXiv:2011.14439v2, an arxiv.org URL)")
    p.add_argument("--id", dest="paper_id", help="the paper id and folder name (default: from the title's first words)")
    p.add_argument("--title", help="the paper's title (offline form)")
    p.add_argument("--authors", help='comma-separated, e.g. "Sam Greydanus, Dmitry Kobak" (offline form)')
    p.add_argument("--year", type=int, help="e.g. 2024 (offline form)")
    p.add_argument("--venue", default="", help="e.g. \"ICML 2024\" (default: arXiv's journal reference, else a TODO)")


def handle(args) -> int:
    from repro.authoring.new_paper import describe_new, start_paper

    folder = start_paper(args.arxiv_id, paper_id=args.paper_id, title=args.title, authors=args.authors,
                         year=args.year, venue=args.venue)
    print(describe_new(folder))
    return 0

