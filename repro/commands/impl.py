"""`repro impl`."""

from __future__ import annotations

from pathlib import Path

PARSER = dict(
    help="`impl new PAPER --name NAME`: start a student's implementation",
)


def add_arguments(p) -> None:
    p.add_argument("action", choices=["new"], help="new: write papers/PAPER/students/NAME.py with TODOs")
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--name", required=True, help="your name, as the implementation's name (e.g. alice)")
    p.add_argument("--path", type=Path, help="write the file here instead of papers/PAPER/students/NAME.py")


def handle(args) -> int:
    from repro.catalog import load_paper
    from repro.authoring.students import new_student_impl

    paper = load_paper(args.paper)
    path = new_student_impl(paper, args.name, args.path)
    impl = args.name if args.path is None else str(path)
    print(f"wrote {path}\nnext: fill in the TODOs, then\n"
          f"    repro check {paper.id} --impl {impl}\n    repro run {paper.id} --impl {impl}")
    return 0

