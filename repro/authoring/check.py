"""`repro check PAPER --impl NAME`: a student's implementation against the reference, stage by stage.

A final accuracy 20 points off says nothing about where the mistake is; the stages do
(stages.py lists them: interface, structure, forward, step, overfit, quick and, with
--full, full), stopping at the first that fails. The quick stage compares like with like:
the student's quick runs against the reference's on this machine (same seeds and config),
from a stored baseline with this machine's numerics fingerprint, else the reference run
now, beside the student's runs; within the claim's band, or the baseline's measured
spread where tighter.

The reference is the project's re-implementation (`--against reimpl`, the default). The
paper folder's checks.py supplies an example batch, the overfitting target and hints.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path

from repro.errors import ReproError, UsageError
from repro.catalog.manifest import Paper
from repro.catalog.papers import resolve_impl
from repro.plan import claim_settings, merged_config, select_claims
from repro.authoring.stages import STAGE_NAMES
from repro.worker.imports import import_file

REQUIRED = {"build_model": 1, "make_optimizer": 2, "train_step": 4, "run": 2}
RTOL, ATOL = 1e-4, 1e-6


@dataclass
class Stage:
    name: str
    passed: bool
    details: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"stage": self.name, "passed": self.passed, "details": self.details, "hints": self.hints}


class CheckFailed(Exception):
    """Raised inside a stage (a paper's own stages in its checks.py too) with the details
    that show what differs. `hints` replaces the
    paper's hints for the stage where the cause is known and is not the student's code;
    `first_hint` goes before them where the cause may not be the student's code."""

    def __init__(self, *details: str, hints: list[str] | None = None, first_hint: str | None = None):
        self.details = list(details)
        self.hints = hints
        self.first_hint = first_hint


def check(paper: Paper, impl: str, *, against: str = "reimpl", full: bool = False,
          show_progress: bool = False, stored_baseline: bool = False,
          claim_ids: list[str] | None = None) -> list[Stage]:
    """Run the stages in order; the list ends with the first stage that failed. With
    claim_ids, every stage looks at those claims' settings only (the quick profile's claims,
    or all, by default)."""
    student_name, student_path = resolve_impl(paper, impl)
    reference_name, reference_path = resolve_impl(paper, against)
    if student_path == reference_path:
        raise UsageError(f"--impl {impl} is the reference itself; check a student's implementation against it")
    claims = select_claims(paper, "quick", claim_ids) if claim_ids else list(paper.claims)
    if not (paper.folder / "checks.py").is_file():
        raise UsageError(f"{paper.id} has no checks.py, which `repro check` needs (an example batch, the "
                         "overfit target, hints); papers/mnist1d/checks.py is the example")
    helpers = import_file(paper.folder / "checks.py", f"repro_checks_{paper.id}")
    hints = getattr(helpers, "HINTS", {})

    own_stages = getattr(helpers, "STAGES", {})
    stages: list[Stage] = []
    context: dict = {"claims": claims}
    steps = {
        "interface": lambda: _interface(student_path, reference_path, context),
        "structure": lambda: _structure(paper, helpers, context),
        "forward": lambda: _forward(paper, helpers, context),
        "step": lambda: _step(paper, helpers, context),
        "overfit": lambda: _overfit(paper, helpers, context),
        "quick": lambda: _quick(paper, student_path, reference_name, show_progress, stored_baseline, claim_ids,
                                context["claims"]),
        "full": lambda: _full(paper, student_path, show_progress),
    }
    for name in planned_stages(own_stages, full):
        run_stage = steps.get(name) or (lambda name=name: _paper_stage(paper, own_stages[name][2], context))
        try:
            details = run_stage()
            stages.append(Stage(name, True, details))
        except CheckFailed as failure:
            own_hints = failure.hints if failure.hints is not None else hints.get(name, [])
            own_hints = [failure.first_hint, *own_hints] if failure.first_hint else own_hints
            stages.append(Stage(name, False, failure.details, own_hints))
            break
        except ReproError:  # a usage problem (e.g. --against), not the student's code
            raise
        except Exception as exc:  # noqa: BLE001 - the student's code raised: that fails the stage
            raised = ("your code raised this: fix the line named above first (NotImplementedError means "
                      "that TODO is not written yet)")
            stages.append(Stage(name, False, [_where(exc, student_path)], [raised, *hints.get(name, [])]))
            break
    return stages


def planned_stages(own_stages: dict, full: bool) -> list[str]:
    """The built-in stages in order, each followed by the paper's own stages that name it
    (checks.py's STAGES: name -> (the stage it follows, what it checks, the function))."""
    names = []
    for name in STAGE_NAMES if full else STAGE_NAMES[:-1]:
        names.append(name)
        names += [own for own, (after, _, _) in own_stages.items() if after == name]
    return names


def stage_plan(paper: Paper, full: bool) -> list[str]:
    """The stages `repro check` runs on this paper, its own included."""
    helpers = import_file(paper.folder / "checks.py", f"repro_checks_{paper.id}")
    return planned_stages(getattr(helpers, "STAGES", {}), full)


def _paper_stage(paper: Paper, run_stage, context: dict) -> list[str]:
    """A stage from the paper's checks.py: run_stage(student, reference, cfg) per claim
    setting, with the student's and the reference's modules; it returns what it compared and
    raises CheckFailed with what differs."""
    details = []
    for cfg, label in _settings(paper, context["claims"]):
        try:
            details += [f"[{label}] {line}" for line in run_stage(context["student"], context["reference"], cfg)]
        except CheckFailed as failure:
            failure.details = [f"[{label}] {line}" for line in failure.details]
            raise
    return details


def _where(exc: Exception, student_path: Path) -> str:
    """'NotImplementedError: TODO ... (alice.py, line 42, in build_model)': the innermost frame
    in the student's file (else the innermost frame of all)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if Path(f.filename).resolve() == student_path.resolve()]
    frame = (own or frames or [None])[-1]
    where = f" ({Path(frame.filename).name}, line {frame.lineno}, in {frame.name})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


# -------------------------------------------------------------------------- stages


def _interface(student_path: Path, reference_path: Path, context: dict) -> list[str]:
    try:
        student = import_file(student_path, f"repro_student_{student_path.stem}")
    except Exception as exc:  # noqa: BLE001 - any import error is the student's to see
        raise CheckFailed(f"importing {student_path} failed: {type(exc).__name__}: {exc}") from None
    problems = []
    for name, count in REQUIRED.items():
        function = getattr(student, name, None)
        if not callable(function):
            problems.append(f"missing: {name}()")
            continue
        params = [p for p in inspect.signature(function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
        if len(params) != count:
            problems.append(f"{name}{inspect.signature(function)} takes {len(params)} required arguments, expected {count}")
    if problems:
        raise CheckFailed(*problems)
    context["student"] = student
    context["reference"] = import_file(reference_path, f"repro_reference_{reference_path.stem}")
    missing = [name for name in REQUIRED if not callable(getattr(context["reference"], name, None))]
    if missing:
        raise UsageError(f"--against {reference_path.stem}: {reference_path} has no {', '.join(missing)}(), so it "
                         "cannot be checked against; use --against reimpl")
    return [f"{student_path.name}: " + ", ".join(f"{name}()" for name in REQUIRED) + " found"]


def _structure(paper: Paper, helpers, context: dict) -> list[str]:
    import torch

    details = []
    for cfg, label in _settings(paper, context["claims"]):
        student, reference = _models(context, cfg)
        x, _ = helpers.example_batch(cfg)
        with torch.no_grad():
            out_s, out_r = _call(student, x), _call(reference, x)
        if out_s.shape != out_r.shape:
            raise CheckFailed(f"[{label}] output shape {tuple(out_s.shape)} on a batch {_shape(x)}; "
                               f"the reference gives {tuple(out_r.shape)}")
        count_s, count_r = _count(student), _count(reference)
        shapes_s = [(n, tuple(p.shape)) for n, p in student.named_parameters()]
        shapes_r = [(n, tuple(p.shape)) for n, p in reference.named_parameters()]
        same_names = {n for n, _ in shapes_s} == {n for n, _ in shapes_r}
        if same_names:
            matches = dict(shapes_s) == dict(shapes_r)
        else:  # renamed layers: by order, or at least the same shapes in another order
            matches = sorted(s for _, s in shapes_s) == sorted(s for _, s in shapes_r)
        if count_s != count_r or not matches:
            lines = [f"[{label}] {count_s} parameters; the reference has {count_r}" if count_s != count_r
                     else f"[{label}] {count_s} parameters, as the reference, but shaped differently:"]
            lines += _shape_table(shapes_s, shapes_r)
            raise CheckFailed(*lines)
        layers_s, layers_r = _leaf_outputs(student, x), _leaf_outputs(reference, x)
        for (name_s, kind_s, o_s), (name_r, kind_r, o_r) in zip(layers_s, layers_r):
            if tuple(o_s.shape) != tuple(o_r.shape):
                raise CheckFailed(f"[{label}] {name_s} ({kind_s}) outputs {tuple(o_s.shape)}; the reference's {name_r} "
                                   f"({kind_r}) outputs {tuple(o_r.shape)} on the same batch {_shape(x)}")
        details.append(f"[{label}] output {tuple(out_s.shape)}, {count_s} parameters in {len(shapes_s)} tensors, "
                       f"{len(layers_s)} layers' output shapes: as the reference")
    return details


def _forward(paper: Paper, helpers, context: dict) -> list[str]:
    import torch

    details = []
    for cfg, label in _settings(paper, context["claims"]):
        student, reference = _models(context, cfg, same_weights=True)
        x, _ = helpers.example_batch(cfg)
        with torch.no_grad():
            out_s, out_r = _call(student, x), _call(reference, x)
        if not torch.allclose(out_s, out_r, rtol=RTOL, atol=ATOL):
            worst = (out_s - out_r).abs().max().item()
            raise CheckFailed(f"[{label}] with the reference's weights, outputs differ (max |difference| {worst:.3g}, "
                               f"tolerance rtol {RTOL})", *_first_difference(student, reference, x))
        details.append(f"[{label}] same outputs with the reference's weights (max |difference| "
                       f"{(out_s - out_r).abs().max().item():.2g})")
    return details


def _step(paper: Paper, helpers, context: dict) -> list[str]:
    import torch

    details = []
    for cfg, label in _settings(paper, context["claims"]):
        student, reference = _models(context, cfg, same_weights=True)
        opt_s = context["student"].make_optimizer(student, cfg)
        opt_r = context["reference"].make_optimizer(reference, cfg)
        x, y = helpers.example_batch(cfg, size=16, seed=1)
        pairs = _paired_parameters(student, reference)
        for step in (1, 2):  # the second step catches gradients that are never zeroed
            loss_s = float(context["student"].train_step(student, opt_s, x, y))
            loss_r = float(context["reference"].train_step(reference, opt_r, x, y))
            if abs(loss_s - loss_r) > RTOL * abs(loss_r) + ATOL:
                raise CheckFailed(f"[{label}] step {step}: loss {loss_s:.6g}, the reference's {loss_r:.6g}")
            for name, p_s, p_r in pairs:
                if not torch.allclose(p_s, p_r, rtol=RTOL, atol=ATOL):
                    worst = (p_s - p_r).abs().max().item()
                    raise CheckFailed(f"[{label}] step {step}: same loss ({loss_s:.6g}) but {name} was updated "
                                       f"differently (max |difference| {worst:.3g})")
        details.append(f"[{label}] two steps: same losses ({loss_s:.6g} at step 2) and same updates")
    return details


def _overfit(paper: Paper, helpers, context: dict) -> list[str]:
    import torch

    target = helpers.OVERFIT
    details = []
    for cfg, label in _settings(paper, context["claims"]):
        torch.manual_seed(0)
        model = context["student"].build_model(cfg)
        optimizer = context["student"].make_optimizer(model, cfg)
        x, y = helpers.example_batch(cfg, size=target["examples"], seed=2)
        first = loss = float(context["student"].train_step(model, optimizer, x, y))
        for _ in range(target["steps"] - 1):
            loss = float(context["student"].train_step(model, optimizer, x, y))
        if not loss < target["target_loss"]:
            raise CheckFailed(f"[{label}] after {target['steps']} steps on {target['examples']} examples the loss is "
                               f"{loss:.4g} (from {first:.4g}); it should fall below {target['target_loss']}")
        details.append(f"[{label}] loss {first:.3g} -> {loss:.3g} in {target['steps']} steps on one batch")
    return details


def _quick(paper: Paper, student_path: Path, reference_name: str, show_progress: bool,
           stored_only: bool = False, claim_ids: list[str] | None = None, claims: list | None = None) -> list[str]:
    """The quick profile's metrics, like with like: the student's runs against the reference's
    on this machine (same seeds, same config). The reference's numbers come from a stored
    baseline with this machine's numerics fingerprint, else from running the reference now,
    beside the student's runs. With stored_only, a baseline from another machine is used
    instead of running the reference, and the tolerance is its measured spread across machines."""
    from repro.baselines import EXACT, choose, stored_baselines, tolerance_for, update_command
    from repro.execute.local import probe_fingerprint
    from repro.noise import THREADS_PER_RUN
    from repro.worker.numerics import fingerprint_id

    stored = stored_baselines(paper.id, reference_name)
    here = fingerprint_id(probe_fingerprint(THREADS_PER_RUN))
    same_machine = [b for b in stored if here and b.get("fingerprint_id") == here]
    if stored_only and not stored:
        raise CheckFailed(f"no baseline of the reference: {paper.id}/{reference_name}-quick",
                           hints=[f"not your code: the reference's numbers are missing; leave out --stored-baseline to run "
                             f"the reference now, or `{update_command(paper.id, reference_name)}` makes them"])
    run_reference = not same_machine and not stored_only
    student_records, reference_records = _run_quick(paper, student_path, reference_name if run_reference else None,
                                                    show_progress, claim_ids)
    details, failures = [], []
    for claim in paper.claims if claims is None else claims:
        for record in (r for r in student_records if r.setting == claim.setting_label):
            setting, seed = claim.setting_label, record.seed
            band = claim.tolerance.band(claim.reported)
            if run_reference:
                theirs_record = next((r for r in reference_records if r.setting == setting
                                      and r.seed == seed), None)
                if theirs_record is None or theirs_record.status != "ok":
                    raise CheckFailed(f"[{setting}] seed {seed}: the reference's own run did not finish "
                                       f"({theirs_record and theirs_record.error}); log: {theirs_record and theirs_record.log_path}",
                                       hints=["not your code: the reference failed on this machine; its log says why"])
                theirs, source = theirs_record.metrics.get(claim.metric), "run now on this machine"
                measured = _measured_tolerance(stored, setting, claim.metric)
                tolerance = band if measured is None else min(band, measured)
            else:
                chosen = choose(same_machine or stored, setting, seed, record if same_machine else None)
                theirs = (chosen.stored or {}).get("metrics", {}).get(claim.metric)
                if chosen.mode == EXACT:
                    measured = _measured_tolerance(stored, setting, claim.metric)
                    tolerance, source = (band if measured is None else min(band, measured)), "stored on this machine"
                else:
                    tolerance, _ = tolerance_for(chosen, setting, claim.metric)
                    source = f"stored on another machine ({chosen.baseline.get('machine')})"
            if record.status != "ok":
                failures.append(f"[{setting}] seed {seed}: your run did not finish ({record.error}); "
                                f"log: {record.log_path}")
                continue
            ours = record.metrics.get(claim.metric)
            if theirs is None:
                failures.append(f"[{setting}] seed {seed} {claim.metric}: the reference has no such number")
                continue
            same = " (identical)" if ours == theirs else ""
            line = (f"[{setting}] seed {seed} {claim.metric}: {ours} against the reference's {theirs}, {source}"
                    f"{same} (tolerance ±{tolerance:.3g})")
            (details if ours is not None and abs(ours - theirs) <= tolerance else failures).append(line)
    if failures:
        if not run_reference and not same_machine:
            raise CheckFailed(*failures, *details, first_hint=(
                "maybe not your code: the reference's numbers were made on another machine, where the same code "
                "and seed give other numbers (the tolerance is the spread measured across machines); leave out "
                "--stored-baseline to compare with the reference run on this machine"))
        raise CheckFailed(*failures, *details)
    return details


def _measured_tolerance(stored: list[dict], setting: str, metric: str) -> float | None:
    """The spread-based tolerance the baseline measured for this setting and metric, if any:
    what a correct implementation computing in another order may drift by."""
    from repro.baselines import measured_spread

    measured = measured_spread(stored[0], setting, metric) if stored else None
    return None if measured is None else measured["abs"]


def _run_quick(paper: Paper, student_path: Path, reference_name: str | None,
               show_progress: bool, claim_ids: list[str] | None = None) -> tuple[list, list]:
    """The student's quick runs and, with reference_name, the reference's, in one batch
    (interleaved, so the longest runs of both go at once): CPU, one thread a run."""
    from repro.execute.local import LocalExecutor
    from repro.noise import THREADS_PER_RUN
    from repro.render.progress import Progress
    from repro.run import plan_and_fetch

    jobs = os.cpu_count() or 1
    options = dict(profile="quick", claim_ids=claim_ids, device="cpu", jobs=jobs, threads=THREADS_PER_RUN,
                   show_progress=show_progress)
    student = plan_and_fetch(paper, impl=str(student_path), **options)
    reference = plan_and_fetch(paper, impl=reference_name, **options) if reference_name else []
    specs = [spec for pair in zip(student, reference) for spec in pair] if reference else student
    records = LocalExecutor().execute(specs, jobs=jobs, progress=Progress(len(specs), enabled=show_progress, show_impl=bool(reference)))
    ours = {spec.run_id for spec in student}
    return [r for r in records if r.run_id in ours], [r for r in records if r.run_id not in ours]


def _full(paper: Paper, student_path: Path, show_progress: bool) -> list[str]:
    from repro.render.text import verdict_table
    from repro.run import reproduce

    outcome = reproduce(paper, impl=str(student_path), profile=paper.protocol_profile, device="cpu",
                        jobs=os.cpu_count() or 1, show_progress=show_progress)
    table = verdict_table(outcome).splitlines()
    if outcome.exit_code != 0:
        raise CheckFailed(*table)
    return table


# ------------------------------------------------------------------------- helpers


def _settings(paper: Paper, claims: list) -> list[tuple[dict, str]]:
    """One config per distinct setting of these claims, with the quick profile's overrides."""
    return [(merged_config(paper, "quick", setting), label) for label, setting in claim_settings(claims).items()]


def _models(context: dict, cfg: dict, same_weights: bool = False):
    """The student's and the reference's model for cfg, each initialised from seed 0; with
    same_weights, the reference's weights are loaded into the student's model."""
    import torch

    torch.manual_seed(0)
    student = context["student"].build_model(cfg)
    torch.manual_seed(0)
    reference = context["reference"].build_model(cfg)
    if same_weights:
        _copy_weights(context["student"], student, reference)
    return student, reference


def paired_models(student_module, reference_module, cfg: dict):
    """For a paper's own stage (checks.py): the student's and the reference's model for cfg,
    the student's holding the reference's weights, and their parameters paired as
    (student's name, student's parameter, reference's parameter)."""
    student, reference = _models({"student": student_module, "reference": reference_module}, cfg, same_weights=True)
    return student, reference, _paired_parameters(student, reference)


def _call(model, x):
    """model(x); an example batch whose inputs are a tuple (values and time features) is
    passed as the model's arguments."""
    return model(*x) if isinstance(x, tuple) else model(x)


def _shape(x) -> str:
    return " and ".join(str(tuple(part.shape)) for part in x) if isinstance(x, tuple) else str(tuple(x.shape))


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _shape_table(shapes_s: list, shapes_r: list) -> list[str]:
    lines = ["  #  student                              reference"]
    for i in range(max(len(shapes_s), len(shapes_r))):
        left = f"{shapes_s[i][0]} {shapes_s[i][1]}" if i < len(shapes_s) else "-"
        right = f"{shapes_r[i][0]} {shapes_r[i][1]}" if i < len(shapes_r) else "-"
        mark = "" if i < len(shapes_s) and i < len(shapes_r) and shapes_s[i][1] == shapes_r[i][1] else "   <- differs"
        lines.append(f"  {i:<2} {left:<36} {right}{mark}")
    return lines


def _copy_weights(student_module, student, reference) -> None:
    """The reference's weights into the student's model: through the student's
    load_reference_weights(model, state_dict) hook if it has one (renamed layers), else by
    order and shape."""
    state = reference.state_dict()
    hook = getattr(student_module, "load_reference_weights", None)
    if callable(hook):
        hook(student, state)
        return
    targets = student.state_dict()
    if set(targets) == set(state):  # the same names: by name, whatever the order
        student.load_state_dict(state)
        return
    if [tuple(v.shape) for v in targets.values()] != [tuple(v.shape) for v in state.values()]:
        raise CheckFailed("cannot match the reference's weights to yours by order and shape; define "
                           "load_reference_weights(model, state_dict) to map renamed or reordered layers")
    student.load_state_dict(dict(zip(targets, state.values())))


def _paired_parameters(student, reference) -> list[tuple[str, object, object]]:
    """(name, student's parameter, reference's parameter), paired right after _copy_weights by
    their identical values, so that renamed, reordered or hook-mapped layers pair correctly."""
    import torch

    unused = list(reference.parameters())
    pairs = []
    for name, p_s in student.named_parameters():
        match = next((p_r for p_r in unused if p_r.shape == p_s.shape and torch.equal(p_r, p_s)), None)
        if match is None:
            raise CheckFailed(f"after loading the reference's weights, {name} equals none of the reference's "
                               "parameters; define load_reference_weights(model, state_dict) to map them")
        unused = [p for p in unused if p is not match]
        pairs.append((name, p_s, match))
    return pairs


def _leaf_outputs(model, x) -> list[tuple[str, str, object]]:
    """(name, class, output) of every leaf module, in the order they ran (forward hooks)."""
    import torch

    outputs, handles = [], []
    for name, module in model.named_modules():
        if not list(module.children()):
            handles.append(module.register_forward_hook(
                lambda m, i, o, name=name: outputs.append((name, type(m).__name__, o[0] if isinstance(o, tuple) else o))))
    try:
        with torch.no_grad():
            _call(model, x)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def _first_difference(student, reference, x) -> list[str]:
    """Forward hooks on the leaf modules of both: the first layer whose output differs."""
    import torch

    ours, theirs = _leaf_outputs(student, x), _leaf_outputs(reference, x)
    previous = "the input"
    for (name_s, kind_s, out_s), (name_r, kind_r, out_r) in zip(ours, theirs):
        if out_s.shape != out_r.shape:
            return [f"outputs agree up to {previous}; {name_s} ({kind_s}) outputs {tuple(out_s.shape)}, the "
                    f"reference's {name_r} ({kind_r}) {tuple(out_r.shape)}: same weights, other output shape "
                    "(padding, stride, or how its input was shaped)"]
        if not torch.allclose(out_s, out_r, rtol=RTOL, atol=ATOL):
            return [f"outputs agree up to {previous}; {name_s} ({kind_s}) differs from the reference's "
                    f"{name_r} ({kind_r}): look at what happens between the two (activation, residual, reshape)"]
        previous = f"{name_s} ({kind_s})"
    return [f"every layer's output agrees; what differs comes after {previous} (e.g. a final reshape or activation)"]
