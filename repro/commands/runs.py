"""`repro runs`."""

from __future__ import annotations

PARSER = dict(
    help="list recorded runs (queued and running ones too), or `runs show RUN_ID`",
)


def add_arguments(p) -> None:
    p.add_argument("args", nargs="*", metavar="PAPER | show RUN_ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro import records
    from repro.render import text as render
    from repro.errors import UsageError

    if args.args and args.args[0] == "show":
        if len(args.args) != 2:
            raise UsageError("usage: repro runs show RUN_ID")
        record = records.load_record(args.args[1])
        print(render.to_json(record.to_dict()) if args.json else render.record_text(record))
        return 0
    if len(args.args) > 1:
        raise UsageError("usage: repro runs [PAPER] | repro runs show RUN_ID")
    found = records.list_records(args.args[0] if args.args else None)
    print(render.to_json(render.runs_json(found)) if args.json else render.runs_table(found))
    return 0

