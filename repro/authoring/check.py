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

# What a signature (a pattern a stage measured) points at, where the paper's checks.py does
# not say it in its own words: HINTS entries (signature, text) override these.
SIGNATURE_HINTS = {
    "shape": "a layer whose output shape differs from the reference's (padding, stride, a size)",
    "loss": "the loss, or the forward pass in training mode: the same weights and batch give another loss",
    "loss_sum": "a loss summed where the reference averages (reduction='mean', the default), or the other way round",
    "lr_scale": "a different learning rate",
    "weight_decay": "weight decay other than the reference's (Adam's weight_decay=, AdamW, or none where it has some)",
    "optimizer": "a different optimizer, or other settings of it (Adam's betas or eps, SGD's momentum)",
    "zero_grad": "gradients never zeroed (or accumulated on purpose): call optimizer.zero_grad() every step",
    "frozen": "parameters that never move: requires_grad off, or left out of the optimizer",
    "layer": "the layer itself: its settings (stride, padding, dilation, bias) or how it is called",
    "reshape": "a reshape, flatten, transpose or permute that orders the values differently",
    "padding": "padding on another side or of another amount (F.pad's (left, right)), which shifts the values",
    "nonlinearity": "a missing activation (ReLU) before this layer",
    "residual": "a missing residual (skip) connection: the reference adds an earlier output back",
    "after_last_layer": "what follows the last layer: a final reshape, activation or slicing",
    "data_order": "the batches: their order, size or number (the runs part before the first logged point)",
}


@dataclass
class Stage:
    name: str
    passed: bool
    details: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # ranked: those the evidence points at first
    evidence: dict[str, str] = field(default_factory=dict)  # signature -> what was measured

    def to_dict(self) -> dict:
        return {"stage": self.name, "passed": self.passed, "details": self.details, "hints": self.hints,
                "evidence": self.evidence}


class CheckFailed(Exception):
    """Raised inside a stage (a paper's own stages in its checks.py too) with the details
    that show what differs. `evidence` maps each signature the stage recognised (a key of
    SIGNATURE_HINTS, or a paper's own) to what it measured: the hints tied to those come
    first. `hints` replaces the paper's hints for the stage where the cause is known and is
    not the student's code; `first_hint` goes before them where the cause may not be the
    student's code."""

    def __init__(self, *details: str, hints: list[str] | None = None, first_hint: str | None = None,
                 evidence: dict[str, str] | None = None):
        self.details = list(details)
        self.hints = hints
        self.first_hint = first_hint
        self.evidence = dict(evidence or {})


def rank_hints(stage_hints: list, evidence: dict[str, str], all_hints: bool = False,
               paper_hints: list | None = None) -> list[str]:
    """A stage's hints for what it measured: first each hint whose signature is in the
    evidence (the stage's text for it, else another stage's of the paper, else
    SIGNATURE_HINTS'), with the evidence; then, with all_hints or where nothing matched, the
    rest. A hint is a text, or (signature, text)."""
    tied = {hint[0]: hint[1] for hint in [*(paper_hints or []), *stage_hints] if isinstance(hint, tuple)}
    matched = [f"{tied.get(signature) or SIGNATURE_HINTS.get(signature, signature)} (evidence: {seen})"
               for signature, seen in evidence.items()]
    rest = [hint[1] if isinstance(hint, tuple) else hint for hint in stage_hints
            if not (isinstance(hint, tuple) and hint[0] in evidence)]
    return matched + rest if all_hints or not matched else matched


def check(paper: Paper, impl: str, *, against: str = "reimpl", full: bool = False,
          show_progress: bool = False, stored_baseline: bool = False,
          claim_ids: list[str] | None = None, all_hints: bool = False, on_stage=None) -> list[Stage]:
    """Run the stages in order; the list ends with the first stage that failed. With
    claim_ids, every stage looks at those claims' settings only (the quick profile's claims,
    or all, by default). A failed stage lists first the hints its evidence points at (all of
    its hints with all_hints). on_stage(stage, number) is called as each stage ends."""
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
                                context["claims"], context["evidence"].get("quick")),
        "full": lambda: _full(paper, student_path, show_progress),
    }
    context["evidence"] = getattr(helpers, "EVIDENCE", {})  # a paper's own signatures, per stage
    for name in planned_stages(own_stages, full):
        run_stage = steps.get(name) or (lambda name=name: _paper_stage(paper, own_stages[name][2], context))
        try:
            details = run_stage()
            stages.append(Stage(name, True, details))
        except CheckFailed as failure:
            own_hints = failure.hints if failure.hints is not None else rank_hints(
                hints.get(name, []), failure.evidence, all_hints, [hint for texts in hints.values() for hint in texts])
            own_hints = [failure.first_hint, *own_hints] if failure.first_hint else own_hints
            stages.append(Stage(name, False, failure.details, own_hints, failure.evidence))
        except ReproError:  # a usage problem (e.g. --against), not the student's code
            raise
        except Exception as exc:  # noqa: BLE001 - the student's code raised: that fails the stage
            raised = ("your code raised this: fix the line named above first (NotImplementedError means "
                      "that TODO is not written yet)")
            stages.append(Stage(name, False, [_where(exc, student_path)], [raised, *rank_hints(hints.get(name, []), {})]))
        if on_stage is not None:
            on_stage(stages[-1], len(stages))
        if not stages[-1].passed:
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
    """The stages `repro check` runs on this paper, its own included (the built-in ones where
    it has no checks.py: check() then says that it needs one)."""
    if not (paper.folder / "checks.py").is_file():
        return planned_stages({}, full)
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
    context["student"], context["student_path"] = student, student_path
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
        layers_r, _ = _traced(reference, x)
        layers_s, raised = _traced(student, x)
        if raised is not None:  # name the first layer whose output shape differs, before the line that crashed
            first = _first_shape_difference(layers_s, layers_r)
            crash = f"[{label}] forward raised {_where(raised, context['student_path'])}"
            raise CheckFailed(*([f"[{label}] {first}", crash] if first else [crash]),
                              evidence={"shape": first} if first else {})
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
            raise CheckFailed(*lines, evidence={"shape": _shape_evidence(shapes_s, shapes_r)})
        first = _first_shape_difference(layers_s, layers_r)
        if first:
            raise CheckFailed(f"[{label}] {first} on the same batch {_shape(x)}",
                              evidence={**_call_evidence(layers_s, layers_r, student), "shape": first})
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
            where, evidence = _first_difference(student, reference, x)
            evidence = {**_call_evidence(_leaf_outputs(student, x), _leaf_outputs(reference, x), student), **evidence}
            raise CheckFailed(f"[{label}] with the reference's weights, outputs differ (max |difference| {worst:.3g}, "
                              f"tolerance rtol {RTOL})", where, evidence=evidence)
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
        own_evidence = context["evidence"].get("step")
        previous_grads = None  # the reference's gradients of the step before
        for step in (1, 2):  # the second step catches gradients that are never zeroed
            before = [p_r.detach().clone() for _, _, p_r in pairs]
            loss_s = float(context["student"].train_step(student, opt_s, x, y))
            loss_r = float(context["reference"].train_step(reference, opt_r, x, y))
            if abs(loss_s - loss_r) > RTOL * abs(loss_r) + ATOL:
                evidence = _loss_evidence(step, loss_s, loss_r, y)
                if own_evidence is not None:  # the paper's own signatures, e.g. softmax before the loss
                    evidence = {**own_evidence(context["reference"], cfg, x, y, loss_s), **evidence}
                raise CheckFailed(f"[{label}] step {step}: loss {loss_s:.6g}, the reference's {loss_r:.6g}",
                                  evidence=evidence)
            for name, p_s, p_r in pairs:
                if not torch.allclose(p_s, p_r, rtol=RTOL, atol=ATOL):
                    worst = (p_s - p_r).abs().max().item()
                    raise CheckFailed(f"[{label}] step {step}: same loss ({loss_s:.6g}) but {name} was updated "
                                      f"differently (max |difference| {worst:.3g})",
                                      evidence=_update_evidence(pairs, before, cfg, previous_grads, step))
            previous_grads = [None if p_r.grad is None else p_r.grad.detach().clone() for _, _, p_r in pairs]
        details.append(f"[{label}] two steps: same losses ({loss_s:.6g} at step 2) and same updates")
    return details


def _loss_evidence(step: int, loss_s: float, loss_r: float, y) -> dict[str, str]:
    """What a different loss from the same weights and batch says: a ratio that is the batch
    size or the number of target values (either way round) is a sum against a mean."""
    if step == 2:
        return {"zero_grad": f"step 1 matched (loss and updates), step 2's loss differs ({loss_s:.6g} against "
                             f"{loss_r:.6g}): the first update was applied twice, or accumulated"}
    ratio = loss_s / loss_r if loss_r else float("inf")
    target = y[0] if isinstance(y, tuple) else y
    counts = {"the batch size": len(target), "the number of target values": target.numel(),
              "the target values per example": target.numel() // max(1, len(target))}
    for what, count in counts.items():
        for factor, word in ((count, ""), (1 / count, "1 / ")):
            if count > 1 and abs(ratio - factor) <= 1e-3 * factor:
                return {"loss_sum": f"your loss is {ratio:.4g} x the reference's: {word}{what} ({count})"}
    return {"loss": f"loss {loss_s:.6g} against {loss_r:.6g} at step 1, from the same weights on the same batch"}


def _update_evidence(pairs, before: list, cfg: dict, previous_grads: list | None, step: int = 1) -> dict[str, str]:
    """What the pattern of two updates from the same weights says: the student's update
    against the reference's, over every parameter, and (after step 1) the gradients left in
    the parameters: yours = the reference's + the step before's is gradients never zeroed."""
    import torch

    if previous_grads is not None and all(p_s.grad is not None and p_r.grad is not None and old is not None
                                          for (_, p_s, p_r), old in zip(pairs, previous_grads)):
        if all(torch.allclose(p_s.grad, p_r.grad + old, rtol=RTOL, atol=ATOL)
               for (_, p_s, p_r), old in zip(pairs, previous_grads)):
            return {"zero_grad": "step 1 matched (loss and updates); at step 2 your gradients are the reference's "
                                 "plus step 1's"}
    start = torch.cat([b.flatten() for b in before])
    moved_s = torch.cat([p_s.detach().flatten() for _, p_s, _ in pairs]) - start
    moved_r = torch.cat([p_r.detach().flatten() for _, _, p_r in pairs]) - start
    if moved_s.abs().max() == 0:
        return {"frozen": "the reference's update moved the parameters, yours moved none of them"}
    extra = moved_s - moved_r  # what your update does beyond the reference's
    differs = extra.abs() > ATOL + RTOL * moved_r.abs()
    toward_zero = (extra[differs] * start[differs] < 0).float().mean().item() if differs.any() else 0.0
    cosine = torch.nn.functional.cosine_similarity(moved_s, moved_r, dim=0).item()
    ratio = (moved_s.norm() / moved_r.norm()).item() if moved_r.norm() > 0 else float("inf")
    share = differs.float().mean().item()
    if toward_zero > 0.95:  # before the scale: decoupled decay (AdamW) keeps the direction too
        return {"weight_decay": f"where the updates differ ({share:.0%} of the weights), yours pulled the weight "
                                f"toward zero ({toward_zero:.0%} of them), the pattern of weight decay"}
    if differs.any() and toward_zero < 0.05:
        return {"weight_decay": f"where the updates differ ({share:.0%} of the weights), the reference's pulled the "
                                f"weight toward zero and yours did not ({1 - toward_zero:.0%} of them): weight decay "
                                "missing, or smaller"}
    if cosine > 0.999 and abs(ratio - 1) > 1e-3:
        lr = cfg.get("learning_rate", cfg.get("lr"))
        scaled = f" (yours would be about {lr * ratio:.3g}, against {lr:g})" if isinstance(lr, (int, float)) else ""
        return {"lr_scale": f"the same direction, {ratio:.4g} x the size of the reference's update{scaled}"}
    if step == 2:  # step 1 matched, so the optimizer's first update did: what step 1 left behind
        return {"zero_grad": f"step 1 matched (loss and updates); step 2's updates differ (cosine {cosine:.3f}): "
                             "gradients kept from step 1?"}
    return {"optimizer": f"the same loss, updates in another direction (cosine {cosine:.3f} with the reference's, "
                         f"{ratio:.3g} x its size)"}


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
           stored_only: bool = False, claim_ids: list[str] | None = None, claims: list | None = None,
           evidence_of=None) -> list[str]:
    """The quick profile's metrics, like with like: the student's runs against the reference's
    on this machine (same seeds, same config). The reference's numbers come from a stored
    baseline with this machine's numerics fingerprint, else from running the reference now,
    beside the student's runs. With stored_only, a baseline from another machine is used
    instead of running the reference, and the tolerance is its measured spread across machines.
    evidence_of(ours, theirs, cfg): the paper's signatures from a failed run's metrics and the
    reference's (checks.py's EVIDENCE["quick"])."""
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
    details, failures, evidence = [], [], {}
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
            passed = ours is not None and abs(ours - theirs) <= tolerance
            (details if passed else failures).append(line)
            if not passed and evidence_of is not None and not evidence:
                theirs_metrics = theirs_record.metrics if run_reference else (chosen.stored or {}).get("metrics", {})
                evidence = {sig: f"[{setting}] seed {seed}: {seen}"
                            for sig, seen in evidence_of(record.metrics, theirs_metrics, record.spec.config).items()}
    failures += _early_differences(paper, student_records, reference_records, stored, same_machine, run_reference,
                                   evidence)
    if failures:
        if not run_reference and not same_machine:
            raise CheckFailed(*failures, *details, evidence=evidence, first_hint=None if evidence else (
                "maybe not your code: the reference's numbers were made on another machine, where the same code "
                "and seed give other numbers (the tolerance is the spread measured across machines); leave out "
                "--stored-baseline to compare with the reference run on this machine"))
        raise CheckFailed(*failures, *details, evidence=evidence)
    return details


def _early_differences(paper: Paper, student_records: list, reference_records: list, stored: list[dict],
                       same_machine: list[dict], run_reference: bool, evidence: dict) -> list[str]:
    """Each curve's first logged point (train_loss@250) against the reference's, within the
    baseline's early-point tolerance (noise.py: what another machine moves it by): final
    metrics can agree within seed noise while the runs parted early, on other batches. Adds
    `data_order` to the evidence; nothing where no baseline measured the tolerance."""
    from repro.baselines import EXACT, choose, tolerance_for
    from repro.noise import early_points

    failures = []
    for record in (r for r in student_records if r.ok):
        setting, seed = record.setting, record.seed
        chosen = None
        if run_reference:
            theirs_record = next((r for r in reference_records if r.setting == setting and r.seed == seed and r.ok), None)
            theirs = early_points(theirs_record, paper.speed_metrics) if theirs_record else {}
        else:
            chosen = choose(same_machine or stored, setting, seed, record if same_machine else None)
            theirs = (chosen.stored or {}).get("early") or {}
        for name, ours in early_points(record, paper.speed_metrics).items():
            if name not in theirs:
                continue
            if chosen is None or chosen.mode == EXACT:
                tolerance = _measured_tolerance(stored, setting, name)
            else:
                tolerance = tolerance_for(chosen, setting, name)[0]
            if not tolerance or abs(ours - theirs[name]) <= tolerance:
                continue
            failures.append(f"[{setting}] seed {seed} {name} (a curve's first point): {ours:.6g} against the "
                            f"reference's {theirs[name]:.6g} (tolerance ±{tolerance:.3g}): the runs parted early")
            evidence.setdefault("data_order", f"[{setting}] seed {seed}: {name} is {ours:.4g} against {theirs[name]:.4g}, "
                                              "though one step from the same weights matched")
    return failures


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


def _match_parameters(shapes_s: list, shapes_r: list) -> tuple[list, list, list]:
    """Parameters paired by name, then the rest by shape (renamed layers), in the student's
    order: (pairs, only the student's, only the reference's), each a (name, shape)."""
    left_r = list(shapes_r)
    pairs, only_s = [], []
    for name, shape in shapes_s:
        match = next((r for r in left_r if r[0] == name), None)
        if match is not None:
            pairs.append(((name, shape), match))
            left_r.remove(match)
    for name, shape in (p for p in shapes_s if p[0] not in {s[0] for s, _ in pairs}):
        match = next((r for r in left_r if r[1] == shape), None)
        if match is None:
            only_s.append((name, shape))
        else:
            pairs.append(((name, shape), match))
            left_r.remove(match)
    order = {name: i for i, (name, _) in enumerate(shapes_s)}
    return sorted(pairs, key=lambda pair: order[pair[0][0]]), only_s, left_r


def _shape_table(shapes_s: list, shapes_r: list) -> list[str]:
    pairs, only_s, only_r = _match_parameters(shapes_s, shapes_r)
    lines = ["  student                              reference"]
    for (name_s, shape_s), (name_r, shape_r) in pairs:
        mark = "" if shape_s == shape_r else "   <- differs"
        lines.append(f"  {f'{name_s} {shape_s}':<36} {name_r} {shape_r}{mark}")
    lines += [f"  only yours: {name} {shape}" for name, shape in only_s]
    lines += [f"  only the reference's: {name} {shape}" for name, shape in only_r]
    return lines


def _shape_evidence(shapes_s: list, shapes_r: list) -> str:
    pairs, only_s, only_r = _match_parameters(shapes_s, shapes_r)
    differ = [f"{s[0]} {s[1]} against {r[1]}" for s, r in pairs if s[1] != r[1]]
    parts = ([f"shaped differently: {', '.join(differ)}"] if differ else []) + (
        [f"missing: {', '.join(name for name, _ in only_r)}"] if only_r else []) + (
        [f"extra: {', '.join(name for name, _ in only_s)}"] if only_s else [])
    return "; ".join(parts) or "the same shapes in another order"


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


def _leaf_outputs(model, x) -> list[tuple[str, str, object, object]]:
    """(name, class, output, first input) of every leaf module, in the order they ran (forward hooks)."""
    outputs, raised = _traced(model, x)
    if raised is not None:
        raise raised
    return outputs


def _traced(model, x) -> tuple[list[tuple[str, str, object, object]], Exception | None]:
    """_leaf_outputs, and the exception if forward raised: the layers that ran before it."""
    import torch

    outputs, handles = [], []
    for name, module in _leaf_modules(model):
        handles.append(module.register_forward_hook(
            lambda m, i, o, name=name: outputs.append((name, type(m).__name__, o[0] if isinstance(o, tuple) else o,
                                                       i[0] if i else None))))
    try:
        with torch.no_grad():
            _call(model, x)
    except Exception as exc:  # noqa: BLE001 - the student's forward: what ran before it is the evidence
        return outputs, exc
    finally:
        for handle in handles:
            handle.remove()
    return outputs, None


def _leaf_modules(model):
    """(name, module) of the modules that do the computing: those without children, and a
    parametrized one (weight_norm's conv1) as a whole, not the parametrization inside it,
    whose output is a weight."""
    for name, module in model.named_modules():
        if ".parametrizations" in f".{name}":
            continue
        children = [child for child, _ in module.named_children() if child != "parametrizations"]
        if not children:
            yield name, module


ACTIVATIONS = {"ReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "Softplus", "Mish", "Hardswish"}


def _call_evidence(ours: list, theirs: list, student) -> dict[str, str]:
    """Layers the reference's forward calls that yours defines under the same name but does
    not call, or defines as another class (nn.Identity where the reference has nn.GELU):
    the pairing by order shifts from there, so say it before any shape or value difference."""
    called = {name for name, *_ in ours}
    mine = dict(_leaf_modules(student))
    previous = "the input"
    for name, kind, *_ in theirs:
        module = mine.get(name)
        signature = "nonlinearity" if kind in ACTIVATIONS else "layer"
        if module is not None and type(module).__name__ != kind:
            return {signature: f"your {name} is {type(module).__name__}, the reference's {kind} (after {previous})"}
        if module is not None and name not in called:
            return {signature: f"your forward never calls {name} ({kind}), which the reference's calls after {previous}"}
        previous = name
    return {}


def _first_shape_difference(ours: list, theirs: list) -> str | None:
    """The first layer (in the order they ran) whose output shape differs from the reference's."""
    for (name_s, kind_s, o_s, _), (name_r, kind_r, o_r, _) in zip(ours, theirs):
        if tuple(o_s.shape) != tuple(o_r.shape):
            return (f"{name_s} ({kind_s}) outputs {tuple(o_s.shape)}; the reference's {name_r} ({kind_r}) outputs "
                    f"{tuple(o_r.shape)}")
    return None


def _first_difference(student, reference, x) -> tuple[str, dict[str, str]]:
    """Forward hooks on the leaf modules of both: the first layer whose output differs, and
    what its input says about why (_input_evidence)."""
    import torch

    ours, theirs = _leaf_outputs(student, x), _leaf_outputs(reference, x)
    previous = "the input"
    for index, ((name_s, kind_s, out_s, in_s), (name_r, kind_r, out_r, in_r)) in enumerate(zip(ours, theirs)):
        if out_s.shape != out_r.shape:
            found = (f"outputs agree up to {previous}; {name_s} ({kind_s}) outputs {tuple(out_s.shape)}, the reference's "
                     f"{name_r} ({kind_r}) {tuple(out_r.shape)}")
            return found + ": same weights, other output shape (padding, stride, or how its input was shaped)", {
                "shape": found}
        if not torch.allclose(out_s, out_r, rtol=RTOL, atol=ATOL):
            found = (f"outputs agree up to {previous}; {name_s} ({kind_s}) differs from the reference's "
                     f"{name_r} ({kind_r})")
            evidence = _input_evidence(name_s, in_s, in_r, theirs[:index])
            return found + ": look at what happens between the two (activation, residual, reshape)", evidence
        previous = f"{name_s} ({kind_s})"
    return (f"every layer's output agrees; what differs comes after {previous} (e.g. a final reshape or activation)",
            {"after_last_layer": f"every layer's output agrees with the reference's; the model's output does not"})


def _input_evidence(layer: str, ours, theirs, earlier: list) -> dict[str, str]:
    """The first differing layer's input, yours against the reference's: the same values in
    another order (a reshape) or shifted along the last dimension (padding), yours with the negatives the reference's ReLU removed, the
    reference's = yours + an earlier layer's output or input (a residual: in a pre-norm block
    the residual stream is the input of the norm), or the same input (the layer itself).
    `earlier`: the reference's layers that ran before, as _leaf_outputs gives them. Empty
    where none fits."""
    import torch

    if ours is None or theirs is None or ours.shape != theirs.shape:
        return {}
    if torch.allclose(ours, theirs, rtol=RTOL, atol=ATOL):
        return {"layer": f"{layer} gets the same input as the reference's and gives another output"}
    length = ours.shape[-1] if ours.dim() else 0
    shifted = next((k for k in range(1, length) if torch.allclose(ours.roll(k, -1), theirs, rtol=RTOL, atol=ATOL)), None)
    if shifted is not None:
        steps = min(shifted, length - shifted)
        return {"padding": f"{layer}'s input is the reference's shifted by {steps} step(s) along its last dimension"}
    rows_s, rows_r = ours.reshape(len(ours), -1), theirs.reshape(len(theirs), -1)
    if torch.allclose(rows_s.sort(dim=1).values, rows_r.sort(dim=1).values, rtol=RTOL, atol=ATOL):
        return {"reshape": f"{layer}'s input holds the reference's values, in another order"}
    if theirs.min() >= 0 and ours.min() < 0 and torch.allclose(torch.relu(ours), theirs, rtol=RTOL, atol=ATOL):
        return {"nonlinearity": f"{layer}'s input has negative values where the reference's has none, and "
                                "relu(yours) is the reference's"}
    for name, _, output, earlier_input in reversed(earlier):  # the nearest first
        for form, value in (("", output), ("relu of ", torch.relu(output)), ("the input of ", earlier_input)):
            if (isinstance(value, torch.Tensor) and value.shape == ours.shape
                    and torch.allclose(ours + value, theirs, rtol=RTOL, atol=ATOL)):
                found = f"{form}{name}" if form == "the input of " else f"{form}{name}'s output"
                return {"residual": f"the reference's input to {layer} is yours plus {found}"}
    return {}
