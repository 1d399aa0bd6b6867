"""`repro report`."""

from __future__ import annotations

from pathlib import Path

PARSER = dict(
    help="write a static HTML report: catalog status, verdict tables, curves per claim",
    description="Write DIR/index.html (and its PNG plots) from the recorded runs: the status of "
        "every paper x implementation, each paper's verdict tables, and per claim the curves of every "
        "implementation with the paper's number and tolerance band. No server needed.",
)


def add_arguments(p) -> None:
    p.add_argument("papers", nargs="*", metavar="PAPER", help="paper ids (default: the whole catalog)")
    p.add_argument("-o", "--output", type=Path, default=Path("repro-report"), metavar="DIR",
                   help="output folder (default ./repro-report)")


def handle(args) -> int:
    from repro.errors import UsageError
    from repro.render.html import write_report

    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"--output {args.output}: a file, not a folder; the report is a folder "
                         "(index.html and its plots): name a folder, e.g. -o repro-report")
    index = write_report(args.papers or None, args.output)
    print(f"wrote {index}")
    return 0

