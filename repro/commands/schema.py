"""`repro schema`."""

from __future__ import annotations

PARSER = dict(
    help="print the JSON Schema of paper.yaml (for editors)",
)


def add_arguments(p) -> None:
    pass


def handle(args) -> int:
    import json

    from repro.catalog.manifest import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0

