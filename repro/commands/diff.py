"""`repro diff`."""

from __future__ import annotations

PARSER = dict(
    help="what differs between two runs (metrics, config, environment), or a run and its baseline",
    description="The answer to 'it doesn't reproduce and I don't know why': metric deltas, then "
        "the config keys, spec fields and environment (torch, device, threads, CPU/GPU, reference "
        "commit, data hashes) that differ.",
)


def add_arguments(p) -> None:
    p.add_argument("run_a", metavar="RUN_A", help="a run id (a unique prefix is enough)")
    p.add_argument("run_b", metavar="RUN_B", nargs="?", help="another run id")
    p.add_argument("--baseline", action="store_true", help="compare RUN_A with its stored baseline instead")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro.diff import diff_runs
    from repro.errors import UsageError
    from repro.records import load_record
    from repro.render import text as render
    from repro.render.diff import diff_json, diff_text

    if bool(args.run_b) == args.baseline:
        raise UsageError("give RUN_A and RUN_B, or RUN_A --baseline")
    first = load_record(args.run_a).to_dict()
    if args.baseline:  # the baseline is the old side: deltas read as "this run minus its baseline"
        from repro.baselines import baseline_as_record

        first, second = baseline_as_record(first), first
    else:
        second = load_record(args.run_b).to_dict()
    difference = diff_runs(first, second)
    print(render.to_json(diff_json(difference)) if args.json else diff_text(difference))
    return 0
