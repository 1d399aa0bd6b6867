"""Planning: claims x seeds -> RunSpecs, one per (setting, seed).

Config of one run = the manifest's defaults <- the profile's overrides <- the claim's
setting <- the user's --set values. Claims that share a setting share its runs.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from dataclasses import MISSING, asdict, dataclass, field, fields

from repro.errors import UsageError
from repro.catalog.manifest import Claim, ConfigValue, Paper
from repro.catalog.papers import resolve_impl


@dataclass
class RunSpec:
    """Everything a worker needs to run once; saved as spec.json beside the record."""

    run_id: str
    batch_id: str  # shared by the runs of one `repro run`
    paper: str
    impl: str
    impl_path: str
    profile: str
    setting: dict[str, ConfigValue]
    setting_label: str
    seed: int
    config: dict[str, ConfigValue]
    device: str  # cpu | cuda | auto
    threads: int
    timeout_s: float | None
    reference_commit: str
    overrides: dict[str, ConfigValue] = field(default_factory=dict)
    source_dir: str | None = None  # the authors' checkout, for the reference adapter
    reference_env: str | None = None  # the environment of the authors' requirements, where the harness lacks some
    data: dict[str, str] = field(default_factory=dict)  # fetched data files, by name
    env: dict[str, str] = field(default_factory=dict)  # numerics variables for the worker (repro noise)
    # --vectorize-seeds: one worker trains a setting's seeds at once through the implementation's
    # run_seeds(cfg, contexts); the first run of the group lists the others, each other names it
    vectorized_with: list[str] = field(default_factory=list)
    vectorized_by: str | None = None
    batch_runs: int | None = None  # the runs its batch planned: the report's "2 of 4 runs done"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        """The spec in a spec.json or a record; a field an older (or hand-made) one lacks takes
        its default, or None, and a field this version does not know is dropped."""
        values = {}
        for spec_field in fields(cls):
            if spec_field.name in data:
                values[spec_field.name] = data[spec_field.name]
            elif spec_field.default_factory is not MISSING:
                values[spec_field.name] = spec_field.default_factory()
            else:
                values[spec_field.name] = None if spec_field.default is MISSING else spec_field.default
        return cls(**values)


MAX_SEEDS = 10_000  # runs of one `repro run`: far beyond any protocol, far below a MemoryError
MAX_SEED = 2**32 - 1  # what numpy's seeding takes


def parse_seeds(text: str) -> list[int]:
    """'3' -> [0, 1, 2]; '0,1,2' or '5' with a comma ('5,') -> exactly those seeds."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        if "," in text:
            parts = [part for part in text.split(",") if part.strip()]
            if len(parts) > MAX_SEEDS:
                raise UsageError(f"--seeds {shown!r}: more than {MAX_SEEDS} seeds")
            seeds = [int(part) for part in parts]
        else:
            count = int(text)
            if count > MAX_SEEDS:
                raise UsageError(f"--seeds {shown!r}: at most {MAX_SEEDS} seeds in one run")
            seeds = list(range(count))
    except ValueError:
        raise UsageError(f"--seeds {shown!r}: give a count (3) or a comma-separated list (0,1,2)") from None
    if not seeds or any(seed < 0 or seed > MAX_SEED for seed in seeds) or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {shown!r}: need at least one seed, all distinct, from 0 to {MAX_SEED}")
    return seeds


def parse_claim_ids(text: str) -> list[str]:
    """--claims 'a, b' -> ['a', 'b']; an empty list is a mistake, not 'all'."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise UsageError(f"--claims {text!r}: name at least one claim id (leave --claims out for the profile's)")
    return ids


def parse_overrides(pairs: list[str], paper: Paper) -> dict[str, ConfigValue]:
    """--set key=value pairs, typed like the manifest's defaults."""
    import yaml

    setting_keys = {key for claim in paper.claims for key in claim.setting}
    overrides: dict[str, ConfigValue] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected key=value")
        if key not in paper.config:
            raise UsageError(f"--set {key}: not a config key of {paper.id} (known: {', '.join(paper.config)})")
        if key in setting_keys:
            raise UsageError(f"--set {key}: each claim sets {key} itself; choose claims with --claims instead")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        overrides[key] = _typed_like(key, value, paper.config[key])
    return overrides


def _typed_like(key: str, value: object, default: ConfigValue) -> ConfigValue:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value) if math.isfinite(float(value)) else value
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise UsageError(f"--set {key}={value!r}: a finite number, like the default {default!r}")
            return float(value)
    elif isinstance(default, str):
        return str(value)
    kind = {bool: "true or false", int: "an integer", float: "a number"}.get(type(default), "a string")
    raise UsageError(f"--set {key}={value!r}: expected {kind}, like the default {default!r}")


def select_claims(paper: Paper, profile_name: str, claim_ids: list[str] | None) -> list[Claim]:
    """The claims a run covers: --claims if given, else the profile's list, else all."""
    wanted = claim_ids or paper.profiles[profile_name].claims
    if not wanted:
        return list(paper.claims)
    known = [claim.id for claim in paper.claims]
    unknown = [claim_id for claim_id in wanted if claim_id not in known]
    if unknown:
        raise UsageError(f"--claims: {', '.join(unknown)} not a claim of {paper.id} (claims: {', '.join(known)})")
    return [paper.claim(claim_id) for claim_id in wanted]


def merged_config(paper: Paper, profile: str, setting: dict[str, ConfigValue],
                  overrides: dict[str, ConfigValue] | None = None) -> dict[str, ConfigValue]:
    """The one rule for a run's config: the manifest's defaults <- the profile's overrides <-
    the claim's setting <- --set."""
    return {**paper.config, **paper.profiles[profile].config, **setting, **(overrides or {})}


def claim_settings(claims: list[Claim]) -> dict[str, dict[str, ConfigValue]]:
    """The distinct settings of these claims, by label, in claim order (claims that share a
    setting share its runs)."""
    settings: dict[str, dict[str, ConfigValue]] = {}
    for claim in claims:
        settings.setdefault(claim.setting_label, dict(claim.setting))
    return settings


def plan_runs(
    paper: Paper,
    *,
    impl: str = "reimpl",
    profile: str = "quick",
    seeds: list[int] | None = None,
    overrides: dict[str, ConfigValue] | None = None,
    claim_ids: list[str] | None = None,
    device: str = "auto",
    jobs: int = 1,
    timeout_s: float | None = None,
    threads: int | None = None,
    env: dict[str, str] | None = None,
    batch_id: str | None = None,
    vectorize_seeds: bool = False,
) -> list[RunSpec]:
    """One RunSpec per distinct claim setting and seed, in claim order, in one batch
    (`batch_id`, default a new one: new_batch_id()). With `vectorize_seeds`, and where the
    implementation offers run_seeds, each setting's seeds form groups that one worker each
    trains at once (vectorize): one group a setting, or with `jobs` above the settings'
    count up to jobs // settings groups of it, of two seeds at least; the threads are then
    shared by the groups at once.

    Each run gets `threads` torch threads, by default the cores this process may use, shared
    evenly by the runs that go at once. Numbers depend on the thread count (the order of
    floating-point sums), so baselines fix it at 1. `env` sets numerics variables in each
    worker (ATEN_CPU_CAPABILITY=avx2...: numerics.perturbations), on top of this process's own.
    """
    if profile not in paper.profiles:
        raise UsageError(f"{paper.id} has no profile {profile!r} (profiles: {', '.join(paper.profiles)})")
    if device not in ("cpu", "cuda", "auto"):
        raise UsageError(f"--device {device!r}: choose cpu, cuda or auto")
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if timeout_s is not None and not (math.isfinite(timeout_s) and timeout_s > 0):
        raise UsageError("--timeout must be a positive number of seconds")
    impl_name, impl_path = resolve_impl(paper, impl)
    chosen = paper.profiles[profile]
    seeds = seeds if seeds is not None else chosen.seed_list()
    overrides = overrides or {}
    if threads is not None and threads < 1:
        raise UsageError("threads per run must be at least 1")
    batch_id = batch_id or new_batch_id()

    settings = claim_settings(select_claims(paper, profile, claim_ids))
    vectorize_seeds = vectorize_seeds and len(seeds) > 1 and offers_run_seeds(impl_path)
    # each group at least two seeds (one seed alone is an ordinary run)
    groups_per_setting = max(1, min(len(seeds) // 2, jobs // len(settings))) if vectorize_seeds else len(seeds)
    at_once = max(1, min(jobs, len(settings) * groups_per_setting))
    threads = threads or max(1, usable_cores() // at_once)
    specs = []
    for label, setting in settings.items():
        config = merged_config(paper, profile, setting, overrides)
        for seed in seeds:
            specs.append(
                RunSpec(
                    run_id=f"{batch_id}-{paper.id}-{impl_name}-{_slug(label)}-s{seed}",
                    batch_id=batch_id,
                    paper=paper.id,
                    impl=impl_name,
                    impl_path=str(impl_path),
                    profile=profile,
                    setting=dict(setting),
                    setting_label=label,
                    seed=seed,
                    config=config,
                    device=device,
                    threads=threads,
                    timeout_s=timeout_s,
                    reference_commit=paper.reference.commit,
                    overrides=dict(overrides),
                    env=dict(env or {}),
                    batch_runs=len(settings) * len(seeds),
                )
            )
    return vectorize(specs, groups_per_setting) if vectorize_seeds else specs


def offers_run_seeds(impl_path) -> bool:
    """Whether an implementation's file defines run_seeds(cfg, contexts) at its top level
    (read as text: importing it here would import torch in the harness)."""
    import re
    from pathlib import Path

    try:
        return re.search(r"^def run_seeds\(", Path(impl_path).read_text(encoding="utf-8"), re.M) is not None
    except OSError:
        return False


def vectorize(specs: list[RunSpec], groups_per_setting: int = 1) -> list[RunSpec]:
    """Group the runs of each setting (same config, other seeds) into `groups_per_setting`
    groups of consecutive seeds, as even as they go (10 seeds in 2 groups: 0-4 and 5-9): the
    first run of a group lists the others in vectorized_with, and each of them names it in
    vectorized_by. Several groups a setting are for --jobs: a batched step of a tiny model
    is bound by per-operation overhead as much as by arithmetic, and two processes of one
    thread each pay that overhead in parallel, which one process of two threads cannot."""
    from dataclasses import replace

    by_setting: dict[str, list[RunSpec]] = {}
    for spec in specs:
        by_setting.setdefault(spec.setting_label, []).append(spec)
    grouped = {}
    for members in by_setting.values():
        count = max(1, min(groups_per_setting, len(members)))
        size, extra = divmod(len(members), count)
        start = 0
        for g in range(count):
            group = members[start : start + size + (1 if g < extra else 0)]
            start += len(group)
            leader, others = group[0], group[1:]
            grouped[leader.run_id] = replace(leader, vectorized_with=[s.run_id for s in others])
            for other in others:
                grouped[other.run_id] = replace(other, vectorized_by=leader.run_id)
    return [grouped[spec.run_id] for spec in specs]


def new_batch_id() -> str:
    """When, to the second, and 16 random bits: '20261202-143143-60fd'."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def usable_cores() -> int:
    """The cores this process may run on (a Slurm allocation or taskset may allow fewer than
    the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _slug(label: str) -> str:
    keep = [c if c.isalnum() else "-" for c in label.replace("model=", "")]
    return "".join(keep).strip("-")[:40] or "default"
