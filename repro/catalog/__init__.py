"""The catalog: each paper's manifest (schema and validation, manifest.py) and finding papers
and implementations (papers.py)."""

from repro.catalog.manifest import Claim, ConfigValue, Paper, json_schema, load_manifest, setting_label
from repro.catalog.papers import load_paper, needs_reference_code, paper_ids, resolve_impl

__all__ = ["Claim", "ConfigValue", "Paper", "json_schema", "load_manifest", "load_paper", "needs_reference_code",
           "paper_ids", "resolve_impl", "setting_label"]
