"""`repro regress`."""

from __future__ import annotations

PARSER = dict(
    help="rerun the quick profiles and compare with the stored baselines (CI's regression check)",
    description="For every paper (or those named) and every implementation that runs offline, run "
        "the quick profile and compare each metric with baselines/: PASS, FAIL or IMPROVED. IMPROVED "
        "fails too: a better number must be accepted on purpose, with the command printed.",
    epilog="exit codes: 0 all PASS; 1 a FAIL, IMPROVED or missing baseline; 3 a run crashed.",
)


def add_arguments(p) -> None:
    p.add_argument("papers", nargs="*", metavar="PAPER", help="paper ids (default: the whole catalog)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--md", action="store_true", help="markdown, for a CI job summary")


def handle(args) -> int:
    from repro.render import text as render
    from repro.baselines import regress

    regression = regress(args.papers or None, show_progress=True)
    if args.json:
        print(render.to_json(render.regress_json(regression)))
    elif args.md:
        print(render.regress_markdown(regression))
    else:
        print(render.regress_text(regression))
    return regression.exit_code

