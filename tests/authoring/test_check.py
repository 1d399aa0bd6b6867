"""`repro check`: broken copies of the MNIST-1D re-implementation, each with one typical
mistake, must fail the stage that is meant to catch it (and no earlier one), with details
that point at the mistake and the paper's hints for that stage; a correct copy must pass.

Most tests go through the library (`repro.check.check`) for speed; a few through the CLI.
Only three tests run the quick stage (the quick profile, ~20 s each); where a test needs
the stages before it only, `_quick` is replaced by a stub (see `no_quick`).
"""

from __future__ import annotations

import importlib.util
import json

import pytest

import repro.authoring.check
from conftest import REPO, run_repro

PAPER_DIR = REPO / "papers" / "mnist1d"
REIMPL = PAPER_DIR / "reimpl.py"
STAGES = ["interface", "structure", "forward", "step", "overfit", "quick"]


def _hints() -> dict:
    spec = importlib.util.spec_from_file_location("test_check_mnist1d_checks", PAPER_DIR / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HINTS


HINTS = _hints()


# ------------------------------------------------------------------------- helpers


@pytest.fixture
def paper(repro_home):
    """The built-in paper, with REPRO_HOME in tmp (every test uses this or repro_home)."""
    from repro.catalog import load_paper

    return load_paper("mnist1d")


@pytest.fixture
def no_quick(monkeypatch):
    """Skip the quick profile (~20 s) in tests about the stages before it."""
    monkeypatch.setattr(repro.authoring.check, "_quick", lambda *args, **kwargs: ["(quick stage not run in this test)"])


def variant(tmp_path, name: str, *replacements, append: str = ""):
    """reimpl.py copied to tmp_path/NAME.py with exact replacements (old, new[, count]).

    Each `old` must occur exactly `count` times (default 1): if reimpl.py changes, the test
    breaks loudly instead of silently checking an unmodified copy."""
    text = REIMPL.read_text(encoding="utf-8")
    for replacement in replacements:
        old, new, count = (*replacement, 1) if len(replacement) == 2 else replacement
        assert text.count(old) == count, f"reimpl.py changed: expected {count} x {old!r}"
        text = text.replace(old, new)
    path = tmp_path / f"{name}.py"
    path.write_text(text + append, encoding="utf-8")
    return path


def run_check(paper, path, claims: list[str] | None = None):
    return repro.authoring.check.check(paper, str(path), claim_ids=claims)


def assert_fails_at(stages, stage: str):
    """The stage failed, every stage before it passed, it is the last in the list, and it
    gives hints."""
    names = [s.name for s in stages]
    assert names == STAGES[: STAGES.index(stage) + 1], [(s.name, s.passed, s.details) for s in stages]
    assert all(s.passed for s in stages[:-1])
    failed = stages[-1]
    assert not failed.passed and failed.details and failed.hints
    return failed


def text_of(lines) -> str:
    return "\n".join(lines)


# ------------------------------------------------------------- one mistake each

CNN_CONV1 = "nn.Conv1d(1, channels, kernel_size=5, stride=2, padding=1)"
CNN_CONV2_CONV3 = (
    "        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)\n"
    "        self.conv3 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)\n"
)
LOSS = "loss = F.cross_entropy(model(xb), yb)"

ADAM = 'Adam(model.parameters(), lr=cfg["learning_rate"])'
GRU_LAYER = "nn.GRU(input_size=1, hidden_size=hidden, batch_first=True, bidirectional=True)"

# (id, replacements, failing stage, words the details must contain, words the FIRST hint must
# contain: the cause, named by the evidence the stage measured)
MISTAKES = [
    pytest.param(
        # One belief (padding 2, not 1), written where reimpl states the padding: in the three
        # convolutions and in the length arithmetic that sizes the classifier (40 -> 20, 11, 7).
        "cnn_padding_2", [("padding=1)", "padding=2)", 3), ("2 * 1 - kernel", "2 * 2 - kernel")],
        "structure", ["[model=cnn]", "linear.weight (10, 175)", "linear.weight (10, 125)", "<- differs"], ["padding"],
        id="cnn-padding-2"),
    pytest.param(
        "mlp_hidden_64", [("hidden: int = 100", "hidden: int = 64")],
        "structure", ["[model=mlp]", "(64, 40)", "(100, 40)", "<- differs"], ["MLP 100"],
        id="mlp-hidden-64"),
    pytest.param(
        "cnn_no_relu", [("h = F.relu(self.conv1(h))", "h = self.conv1(h)")],
        # F.relu is no module, so the first leaf module whose output differs is conv2
        "forward", ["[model=cnn]", "outputs agree up to conv1 (Conv1d); conv2 (Conv1d) differs"], ["nonlinearity"],
        id="cnn-no-relu-after-conv1"),
    pytest.param(
        "mlp_no_residual", [("h = h + F.relu(self.linear2(h))", "h = F.relu(self.linear2(h))")],
        "forward", ["[model=mlp]", "linear3 (Linear) differs"], ["residual"],
        id="mlp-no-residual"),
    pytest.param(
        "cnn_flatten_order", [("h = h.flatten(1)", "h = h.transpose(1, 2).flatten(1)")],
        "forward", ["[model=cnn]", "outputs agree up to conv3 (Conv1d); linear (Linear) differs"], ["flattening"],
        id="cnn-flatten-after-transpose"),
    pytest.param(
        "softmax_loss", [(LOSS, "loss = F.cross_entropy(F.softmax(model(xb), -1), yb)")],
        "step", ["[model=logistic] step 1: loss"], ["softmax"],
        id="softmax-before-cross-entropy"),
    pytest.param(
        "sum_loss", [(LOSS, "loss = F.cross_entropy(model(xb), yb, reduction='sum')")],
        "step", ["step 1: loss"], ["summed"],
        id="loss-summed"),
    pytest.param(
        # the first step matches (grads start at None); the second accumulates onto the first
        "no_zero_grad", [("    optimizer.zero_grad()\n    loss.backward()", "    loss.backward()")],
        "step", ["step 2: same loss", "updated differently"], ["zero_grad"],
        id="gradients-never-zeroed"),
    pytest.param(
        "lr_1e-3", [(ADAM, "Adam(model.parameters(), lr=1e-3)")],
        "step", ["step 1: same loss", "updated differently"], ["learning rate", "0.1 x the size"],
        id="learning-rate-1e-3"),
    pytest.param(
        "weight_decay", [(ADAM, ADAM[:-1] + ", weight_decay=0.1)")],
        "step", ["step 1: same loss", "updated differently"], ["weight decay", "toward zero"],
        id="adam-with-weight-decay"),
    pytest.param(
        "adamw", [(ADAM, ADAM.replace("Adam(", "AdamW("))],
        "step", ["step 1: same loss", "updated differently"], ["weight decay", "toward zero"],
        id="adamw"),
    pytest.param(
        "sgd", [(ADAM, "SGD(model.parameters(), lr=cfg['learning_rate'], momentum=0.9)")],
        "step", ["step 1: same loss", "updated differently"], ["a different optimizer", "another direction"],
        id="sgd-instead-of-adam"),
    pytest.param(
        # the classifier still reads 2 x 6 x 40 features: its shape is right, the GRU's reverse weights missing
        "gru_one_way", [(GRU_LAYER, GRU_LAYER.replace("bidirectional=True", "bidirectional=False")),
                        ("nn.Linear(2 * hidden * length, classes)", "nn.Linear(hidden * length, classes)")],
        "structure", ["[model=gru]", "only the reference's: gru.weight_ih_l0_reverse (18, 1)",
                      "linear.weight (10, 240)              linear.weight (10, 480)   <- differs"],
        ["bidirectional", "missing: gru.weight_ih_l0_reverse"],
        id="gru-not-bidirectional"),
]


@pytest.mark.parametrize("name, replacements, stage, detail_words, hint_words", MISTAKES)
def test_a_mistake_fails_its_stage(paper, tmp_path, name, replacements, stage, detail_words, hint_words):
    stages = run_check(paper, variant(tmp_path, name, *replacements))
    failed = assert_fails_at(stages, stage)
    details = text_of(failed.details)
    for word in detail_words:
        assert word in details, details
    for word in hint_words:
        assert word in failed.hints[0], failed.hints


def test_gradients_never_zeroed_fail_at_step_2_not_1(paper, tmp_path):
    stages = run_check(paper, variant(tmp_path, "no_zero_grad_2",
                                          ("    optimizer.zero_grad()\n    loss.backward()", "    loss.backward()")))
    details = text_of(assert_fails_at(stages, "step").details)
    assert "step 2" in details and "step 1" not in details


def test_evaluation_on_the_training_split_fails_quick(paper, tmp_path):
    """Runs the MLP's quick run (~10 s): test_acc measured on the 4000 training examples."""
    path = variant(tmp_path, "eval_on_train",
                   ('"test_acc": accuracy(model, x_test, y_test),', '"test_acc": accuracy(model, x, y),'))
    failed = assert_fails_at(run_check(paper, path, claims=["mlp_test_acc"]), "quick")
    details = text_of(failed.details)
    assert "test_acc" in details and "against the reference's" in details
    assert "training split" in failed.hints[0] and "test_acc equals train_acc exactly" in failed.hints[0]


def test_labels_shifted_in_training_fail_quick_with_the_labels_hint(paper, tmp_path):
    """Every training label shifted by one class, (y + 1) mod 10 (the logistic model's quick
    run, ~5 s): it learns the shifted labels as well as the true ones (train accuracy 35%
    against them), and on the test set it is well below chance (5%)."""
    label_line = '    y = torch.tensor(data["y"], dtype=torch.long, device=ctx.device)  # (4000,)\n'
    path = variant(tmp_path, "labels_shifted", (label_line, label_line.replace(")  # (4000,)", ") % 10")
                                                .replace('data["y"]', 'data["y"] + 1')))
    failed = assert_fails_at(run_check(paper, path, claims=["logistic_test_acc"]), "quick")
    assert "labels shifted or mismatched" in failed.hints[0] and "well below chance" in failed.hints[0], failed.hints


def test_batches_in_another_order_fail_quick_by_the_curves_first_point(paper, tmp_path):
    """Every batch 50 examples on (the logistic model's quick run, ~5 s): the final accuracy
    stays within the claim's band of the reference's, but the loss at step 250 does not
    (the baseline's early-point tolerance, what another machine moves it by)."""
    old = "        start = ((step - 1) * batch) % len(x)  # batches in order, wrapping around the set\n"
    path = variant(tmp_path, "batches_shifted", (old, "        start = ((step - 1) * batch + 50) % len(x)\n"))
    failed = assert_fails_at(run_check(paper, path, claims=["logistic_test_acc"]), "quick")
    assert "train_loss@250 (a curve's first point)" in failed.details[0]
    assert "batches not taken in order" in failed.hints[0] and "train_loss@250" in failed.hints[0], failed.hints


def test_evaluation_in_training_mode_is_invisible_with_these_models(paper, tmp_path, no_quick):
    """The quick stage's hints list "evaluation in training mode" because it is a typical
    mistake in general (dropout, batch norm). The four MNIST-1D models have neither, so
    model.train() and model.eval() compute exactly the same outputs, the metrics are the
    reference's to the bit, and no stage can see this mistake. The hint stays for papers and
    models where it matters. (An unmodified copy's quick stage, which this one would equal
    bit for bit, is run for real in the test below; here the quick profile is skipped.)"""
    import torch

    path = variant(tmp_path, "eval_in_train_mode", ("    model.eval()\n", "    model.train()\n"))
    # why: the same outputs in both modes, for every model
    module_spec = importlib.util.spec_from_file_location("test_check_reimpl_modes", REIMPL)
    reimpl = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(reimpl)
    x = torch.randn(5, 40)
    for model_name in ("logistic", "mlp", "cnn", "gru"):
        model = reimpl.build_model({"model": model_name})
        with torch.no_grad():
            train_out = model.train()(x)
            eval_out = model.eval()(x)
        assert torch.equal(train_out, eval_out), model_name

    stages = run_check(paper, path)
    assert [s.name for s in stages] == STAGES
    assert all(s.passed for s in stages), [(s.name, s.details) for s in stages if not s.passed]
    assert any("evaluation in training mode" in hint for hint in HINTS["quick"])


# ------------------------------------------------------------- the interface


@pytest.mark.parametrize("name, replacements, append, words", [
    pytest.param("no_train_step", [("def train_step(", "def one_step(")], "", ["missing: train_step()"],
                 id="missing-train_step"),
    pytest.param("run_one_arg", [("def run(cfg: dict, ctx, build_model", "def run(cfg: dict, build_model")], "",
                 ["run(cfg: 'dict', build_model=", "takes 1 required arguments, expected 2"], id="run-wrong-arity"),
    pytest.param("raises_at_import", [], '\nraise RuntimeError("boom at import")\n',
                 ["importing", "raises_at_import.py failed: RuntimeError: boom at import"], id="raises-at-import"),
])
def test_interface_mistakes(paper, tmp_path, name, replacements, append, words):
    failed = assert_fails_at(run_check(paper, variant(tmp_path, name, *replacements, append=append)), "interface")
    details = text_of(failed.details)
    for word in words:
        assert word in details, details


# ------------------------------------------------------------- correct versions


def test_an_unmodified_copy_passes_every_stage_on_another_machine(paper, tmp_path, monkeypatch):
    """An unmodified copy, for real, with the workers' ATen kernels capped at AVX2 (as on
    another CPU type; it changes the MLP's quick numbers): no stored baseline has this
    fingerprint, so the reference runs now beside the copy and the two agree exactly. The
    GRU's runs (half the quick profile's time) are left out with --claims."""
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2" if _has_avx2() else "default")
    models = ("logistic", "mlp", "cnn")
    stages = run_check(paper, variant(tmp_path, "correct_copy"), claims=[f"{m}_test_acc" for m in models])
    assert [s.name for s in stages] == STAGES
    for stage in stages:
        assert stage.passed and stage.details and not stage.hints, (stage.name, stage.details)
    quick = text_of(stages[-1].details)
    for model in models:
        assert f"[model={model}] seed 0 test_acc" in quick
    assert "model=gru" not in text_of(stages[1].details) + quick  # --claims: every stage, not only quick
    assert quick.count("run now on this machine (identical)") == len(models), quick


def _has_avx2() -> bool:
    from repro.worker.numerics import cpu_info

    return "avx2" in cpu_info()["isa"]


def test_renamed_layers_pass_by_order_and_shape(paper, tmp_path, no_quick):
    path = variant(tmp_path, "renamed", ("self.conv1", "self.c1", 2), ("self.conv2", "self.c2", 2),
                   ("self.conv3", "self.c3", 2))
    stages = run_check(paper, path)
    assert [s.name for s in stages] == STAGES and all(s.passed for s in stages), \
        [(s.name, s.details) for s in stages if not s.passed]
    assert "[model=cnn] same outputs" in text_of(stages[2].details)


HOOK = '''

def load_reference_weights(model, state_dict):
    """The reference's layers have the same names as mine: load by name, not by order."""
    model.load_state_dict(state_dict)
'''
# conv3 created before conv2: a correct model, same names, same shapes, other order
SWAP_CONV2_CONV3 = (CNN_CONV2_CONV3, "\n".join(reversed(CNN_CONV2_CONV3.rstrip("\n").split("\n"))) + "\n")
# conv2 and conv3 created before conv1: a correct model whose parameter shapes come in another order
CONV1_LAST = ("        self.conv1 = " + CNN_CONV1 + "\n" + CNN_CONV2_CONV3,
              CNN_CONV2_CONV3 + "        self.conv1 = " + CNN_CONV1 + "\n")


def test_reordered_layers_with_load_reference_weights_pass_forward(paper, tmp_path, no_quick):
    stages = run_check(paper, variant(tmp_path, "swapped_hook", SWAP_CONV2_CONV3, append=HOOK))
    names = [s.name for s in stages]
    forward = stages[names.index("forward")]
    assert forward.passed and "[model=cnn] same outputs" in text_of(forward.details)


def test_reordered_layers_with_load_reference_weights_pass_every_stage(paper, tmp_path, no_quick):
    stages = run_check(paper, variant(tmp_path, "swapped_hook_all", SWAP_CONV2_CONV3, append=HOOK))
    assert [s.name for s in stages] == STAGES and all(s.passed for s in stages), \
        [(s.name, s.details) for s in stages if not s.passed]


def test_reordered_layers_with_the_same_names_are_matched_by_name(paper, tmp_path, no_quick):
    """conv3 created before conv2, names unchanged: weights are copied by name, no hook needed."""
    stages = run_check(paper, variant(tmp_path, "swapped", SWAP_CONV2_CONV3))
    assert [s.name for s in stages] == STAGES and all(s.passed for s in stages), \
        [(s.name, s.details) for s in stages if not s.passed]


def test_renamed_and_reordered_layers_without_the_hook_are_told_about_it(paper, tmp_path, no_quick):
    """conv1 created last and renamed: neither names nor order match, so the checker asks for
    load_reference_weights instead of guessing."""
    stages = run_check(paper, variant(tmp_path, "conv1_last_renamed", CONV1_LAST, ("self.conv1", "self.first", 2)))
    failed = assert_fails_at(stages, "forward")
    assert "load_reference_weights" in text_of(failed.details)


def test_parameters_in_another_order_with_the_hook_pass(paper, tmp_path, no_quick):
    stages = run_check(paper, variant(tmp_path, "conv1_last_hook", CONV1_LAST, append=HOOK))
    assert [s.name for s in stages] == STAGES and all(s.passed for s in stages), \
        [(s.name, s.details) for s in stages if not s.passed]


# ----------------------------------------------- padding and stride of conv1 only

PADDING_CONV1_ONLY = (CNN_CONV1, CNN_CONV1.replace("padding=1", "padding=2"))
STRIDE_CONV1_ONLY = (CNN_CONV1, CNN_CONV1.replace("stride=2", "stride=1"))


def test_conv1_padding_alone_is_caught_and_conv1_named(paper, tmp_path):
    """conv1 padding 2 gives 40 -> 20 -> 10 -> 5: every parameter shape and the model's output
    shape are the reference's; the layers' output shapes are not."""
    stages = run_check(paper, variant(tmp_path, "conv1_padding", PADDING_CONV1_ONLY))
    failed = assert_fails_at(stages, "structure")
    assert "conv1 (Conv1d) outputs (8, 25, 20)" in text_of(failed.details)


def test_conv1_padding_alone_fails_structure_with_the_shapes_and_the_padding_hint(paper, tmp_path):
    stages = run_check(paper, variant(tmp_path, "conv1_padding_structure", PADDING_CONV1_ONLY))
    failed = assert_fails_at(stages, "structure")
    details = text_of(failed.details)
    assert "20" in details and "19" in details
    assert "padding" in text_of(failed.hints)


def test_a_crash_in_forward_names_the_first_layer_whose_shape_differs_before_the_crash(paper, tmp_path):
    """conv1 stride 1 makes 250 features for a 125-input classifier, and the classifier raises.
    The layers that ran before it are traced: conv1 is named first, then the crash and its
    line in the student's file; the first hint is the shape one (no traceback out of the checker)."""
    stages = run_check(paper, variant(tmp_path, "conv1_stride", STRIDE_CONV1_ONLY))
    failed = assert_fails_at(stages, "structure")
    assert failed.details[0] == ("[model=cnn] conv1 (Conv1d) outputs (8, 25, 38); the reference's conv1 (Conv1d) "
                                 "outputs (8, 25, 19)")
    crash = failed.details[1]
    assert "forward raised RuntimeError" in crash and "(8x250 and 125x10)" in crash and "conv1_stride.py" in crash
    assert "padding or stride" in failed.hints[0] and "conv1 (Conv1d) outputs (8, 25, 38)" in failed.hints[0]


def test_all_hints_lists_the_rest_after_the_evidence(paper, tmp_path):
    path = variant(tmp_path, "summed_all", (LOSS, "loss = F.cross_entropy(model(xb), yb, reduction='sum')"))
    ranked = assert_fails_at(run_check(paper, path), "step").hints
    every = repro.authoring.check.check(paper, str(path), all_hints=True)[-1].hints
    assert len(ranked) == 1 and "summed" in ranked[0] and "16 x the reference's" in ranked[0]
    assert every[0] == ranked[0] and len(every) == len(HINTS["step"])


# --------------------------------------------------------------------- the CLI


def test_impl_new_writes_the_template_and_refuses_overwrites_and_bad_names(repro_home, tmp_path):
    target = tmp_path / "alice.py"
    result = run_repro("impl", "new", "mnist1d", "--name", "alice", "--path", str(target))
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout and f"repro check mnist1d --impl {target}" in result.stdout
    text = target.read_text(encoding="utf-8")
    assert "re-implemented by alice" in text and "repro check mnist1d --impl alice" in text
    assert "{name}" not in text
    for function in ("def build_model(cfg", "def make_optimizer(model", "def train_step(model", "def run(cfg"):
        assert function in text

    target.write_text("# alice's work\n", encoding="utf-8")
    again = run_repro("impl", "new", "mnist1d", "--name", "alice", "--path", str(target))
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    assert target.read_text(encoding="utf-8") == "# alice's work\n"

    for bad in ("Alice!", "reimpl"):
        other = tmp_path / "other.py"
        refused = run_repro("impl", "new", "mnist1d", "--name", bad, "--path", str(other))
        assert refused.returncode == 2, (bad, refused.stdout, refused.stderr)
        assert bad in refused.stderr and "Traceback" not in refused.stderr
        assert not other.exists()


def test_check_of_a_fresh_template(repro_home, tmp_path):
    target = tmp_path / "alice.py"
    assert run_repro("impl", "new", "mnist1d", "--name", "alice", "--path", str(target)).returncode == 0
    result = run_repro("check", "mnist1d", "--impl", str(target))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "stage 1/6 interface: PASS" in out
    assert "stage 2/6 structure: FAIL" in out
    assert "NotImplementedError: TODO" in out and "alice.py" in out and "build_model" in out
    assert "not run until this passes: forward, step, overfit, quick" in out


def test_check_json_is_parseable(repro_home, tmp_path):
    path = variant(tmp_path, "summed", (LOSS, "loss = F.cross_entropy(model(xb), yb, reduction='sum')"))
    result = run_repro("check", "mnist1d", "--impl", str(path), "--json")
    assert result.returncode == 1, result.stderr
    stages = [json.loads(line) for line in result.stdout.splitlines()]  # a line per stage, as each ended
    assert [s["stage"] for s in stages] == ["interface", "structure", "forward", "step"]
    assert [s["passed"] for s in stages] == [True, True, True, False]
    assert [(s["number"], s["of"]) for s in stages] == [(1, 6), (2, 6), (3, 6), (4, 6)]
    assert "summed" in stages[-1]["hints"][0] and "step 1: loss" in stages[-1]["details"][0]
    assert list(stages[-1]["evidence"]) == ["loss_sum"]
    assert all(set(s) == {"number", "of", "stage", "passed", "details", "hints", "evidence"} for s in stages)
