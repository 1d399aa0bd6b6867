"""`repro check`."""

from __future__ import annotations

import argparse

from repro.authoring.stages import STAGES

PARSER = dict(
    help="check a student's implementation against the reference, stage by stage",
    description="Stages, stopping at the first that fails:\n" + "\n".join(
        f"  {number} {name:<10} {what}" for number, (name, what) in enumerate(STAGES, start=1))
    + "\nEach stage is printed as it ends, with what it compared; a failed one lists first the causes "
    "its evidence points at (e.g. same loss, updates pulled toward zero: weight decay).",
    epilog="exit codes: 0 every stage passed; 1 a stage failed; 2 usage error.",
    formatter_class=argparse.RawDescriptionHelpFormatter,
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", required=True, help="the student's implementation: a name in students/ or a .py path")
    p.add_argument("--against", default="reimpl", help="the reference implementation (default reimpl)")
    p.add_argument("--full", action="store_true", help="also run the paper's protocol profile (full, or e.g. nanogpt's cpu) against its claims")
    p.add_argument("--stored-baseline", action="store_true",
                   help="quick stage: compare with the reference's stored baseline even when another machine made it "
                   "(faster: the reference is not run; the tolerance is then its measured spread across machines)")
    p.add_argument("--claims", help="comma-separated claim ids: check only their settings, and run only their "
                   "quick runs (default: the quick profile's claims, or all)")
    p.add_argument("--all-hints", action="store_true",
                   help="after the hints the evidence points at, every other hint of the failed stage too")
    p.add_argument("--json", action="store_true",
                   help="machine-readable output: one JSON object a line, each stage as it ends")


def handle(args) -> int:
    import json

    from repro.render import text as render
    from repro.authoring.check import check, stage_plan
    from repro.catalog import load_paper
    from repro.plan import parse_claim_ids

    paper = load_paper(args.paper)
    planned = stage_plan(paper, args.full)

    def show(stage, number):  # each stage as it ends, not all at the end
        if args.json:
            print(json.dumps({"number": number, "of": len(planned), **stage.to_dict()}), flush=True)
        else:
            print(render.stage_text(stage, number, len(planned)), flush=True)

    stages = check(paper, args.impl, against=args.against, full=args.full, show_progress=not args.json,
                   stored_baseline=args.stored_baseline, all_hints=args.all_hints, on_stage=show,
                   claim_ids=parse_claim_ids(args.claims) if args.claims is not None else None)
    if not args.json:
        print(render.check_summary(stages, args.full, planned))
    return 0 if all(stage.passed for stage in stages) else 1

