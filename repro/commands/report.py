"""`repro report`."""

from __future__ import annotations

from pathlib import Path

PARSER = dict(
    help="write a static HTML report: how many claims reproduce, verdict tables, every seed per claim",
    description="Write DIR/index.html (and its PNG plots) from the recorded runs. At the top, per paper "
        "and implementation: how many claims reproduce, with the date and machine of the numbers. Then "
        "each paper's verdict tables and, per claim, every seed's final value of every implementation "
        "side by side over the paper's number and tolerance band; a claim without runs gets the command "
        "that runs it. Each implementation is judged by its latest finished batch; a batch still going "
        "is shown beside it ('in progress: 1 of 4 runs done'), never in its place. No server needed.",
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

