"""Export measured results as Hugging Face model-card metadata (`model-index`).

A model card's YAML front matter carries evaluation results as

    model-index:
    - name: <model>
      results:
      - task: {type, name}
        dataset: {type, name, config?, split?}
        metrics:
        - {type, value, name, verified}
        source: {name, url}

(the format huggingface_hub's ModelCardData / EvalResult read and write). Each
(implementation, claim setting) is one model: "mnist1d/cnn (reimpl)" is a different network
from "mnist1d/gru (reimpl)", so each gets its own entry, with one metric per claim of that
setting. A metric's value is what we measured (the mean over the seeds of one batch); the
paper's number goes in the metric's name, never in a value of its own, because every
`value` under a model is read (by the Hub's widgets and leaderboards) as a result of that
model, and the paper's number is not a measurement of ours.
"""

from __future__ import annotations

import math
from typing import Any

from repro.compare import compare_claims
from repro.records import Record, judging_batch
from repro.catalog.manifest import Claim, Paper

SIGNIFICANT_DIGITS = 4


def model_index(paper: Paper, records: list[Record]) -> dict:
    """{"model-index": [...]}: one entry per (implementation, claim setting) with ok runs.

    For each implementation and setting the runs come from one batch (one `repro run`), chosen
    by records.judging_batch among the finished batches that ran the setting (the metric's name says
    which profile). Choosing per setting rather than per
    implementation keeps a setting whose newest batch ran only other claims (`--claims`).
    Claims without ok runs in that batch are left out (not filled in from an older batch: the
    report judges by the same batch), and so are entries left without any claim.
    """
    records = [r for r in records if r.spec.paper == paper.id]
    entries = []
    for impl in _implementations(paper, [r for r in records if r.ok]):
        ours = [r for r in records if r.impl == impl]
        for setting_label, claims in _claims_by_setting(paper).items():
            batch = [r for r in judging_batch(paper, ours, setting_label) if r.ok]
            if not batch:
                continue
            results = _results(paper, claims, batch)
            if results:
                entries.append({"name": model_name(paper, claims[0], impl), "results": results})
    return {"model-index": entries}


def model_name(paper: Paper, claim: Claim, impl: str) -> str:
    """'mnist1d/cnn (reimpl)' for a one-key setting, 'paper/k1=v1,k2=v2 (impl)' for several,
    'paper (impl)' for the default setting."""
    setting = claim.setting
    if not setting:
        return f"{paper.id} ({impl})"
    label = str(next(iter(setting.values()))) if len(setting) == 1 else claim.setting_label
    return f"{paper.id}/{label} ({impl})"


def to_yaml(data: dict) -> str:
    """The YAML for a model card's front matter (put it between the card's `---` lines)."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


# ----------------------------------------------------------------------- helpers


def _implementations(paper: Paper, records: list[Record]) -> list[str]:
    """The implementations with runs: the paper's own folder order first, then the others by name."""
    found = {r.impl for r in records} - {None}
    known = [name for name in paper.implementations() if name in found]
    return known + sorted(found - set(known))


def _claims_by_setting(paper: Paper) -> dict[str, list[Claim]]:
    grouped: dict[str, list[Claim]] = {}
    for claim in paper.claims:
        grouped.setdefault(claim.setting_label, []).append(claim)
    return grouped


def _results(paper: Paper, claims: list[Claim], batch: list[Record]) -> list[dict]:
    """One result per (task, dataset), as huggingface_hub groups them, with a metric per claim."""
    spec = batch[0].spec
    results: dict[str, dict] = {}
    for claim, outcome in zip(claims, compare_claims(claims, batch)):
        if outcome.stats is None:
            continue
        task, dataset = _task(paper, claim), _dataset(paper, claim)
        key = repr((sorted(task.items()), sorted(dataset.items())))
        if key not in results:
            results[key] = {"task": task, "dataset": dataset, "metrics": []}
            source = _source(paper)
            if source:
                results[key]["source"] = source
        results[key]["metrics"].append({
            "type": getattr(claim, "metric_type", None) or claim.metric,
            "value": round_sensibly(outcome.stats.mean),
            "name": _metric_name(claim, outcome.stats.n, spec),
            "verified": False,
        })
    return [{k: result[k] for k in ("task", "dataset", "metrics", "source") if k in result} for result in results.values()]


def _metric_name(claim: Claim, n: int, spec) -> str:
    """'cnn_test_acc (reported 94; mean of 3 seeds, full profile)', plus any --set overrides."""
    how = f"mean of {n} seed{'s' if n != 1 else ''}, {spec.profile} profile"
    overrides = spec.overrides or {}
    if overrides:
        how += ", " + " ".join(f"--set {k}={v}" for k, v in overrides.items())
    return f"{claim.id} (reported {claim.reported:g}; {how})"


def round_sensibly(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`digits` significant digits, but never into the integer part:
    91.93333 -> 91.93, 0.0123456 -> 0.01235, 12345.6 -> 12346.0."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return float(round(value, decimals))


def _task(paper: Paper, claim: Claim) -> dict:
    """A claim's or the paper's `task` (when the manifest has one), else a placeholder."""
    task = _as_dict(getattr(claim, "task", None)) or _as_dict(getattr(paper, "task", None))
    return task or {"type": "other", "name": paper.title}


def _dataset(paper: Paper, claim: Claim) -> dict:
    """A claim's or the paper's `dataset`, else the paper's id; a claim's `split` is added."""
    dataset = _as_dict(getattr(claim, "dataset", None)) or _as_dict(getattr(paper, "dataset", None))
    dataset = dataset or {"type": paper.id, "name": paper.id}
    split = getattr(claim, "split", None)
    if split and "split" not in dataset:
        dataset["split"] = split
    return dataset


def _source(paper: Paper) -> dict | None:
    """The paper, with a URL (huggingface_hub refuses a source name without one)."""
    url = getattr(paper, "url", None)
    if getattr(paper, "arxiv", None):
        url = f"https://arxiv.org/abs/{paper.arxiv}"
    return {"name": paper.title, "url": url} if url else None


def _as_dict(value: Any) -> dict:
    """A manifest section as a plain dict without empty fields (pydantic model or dict)."""
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    return {k: v for k, v in dict(value).items() if v is not None}
