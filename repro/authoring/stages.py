"""The stages of `repro check`, in order: the one list the checks, their report and
`repro check --help` read (no imports, so the CLI's help stays fast)."""

STAGES = (
    ("interface", "the module imports; build_model, make_optimizer, train_step and run exist"),
    ("structure", "per claim setting: output shape, parameter count and shapes, each layer's output shape"),
    ("forward", "the reference's weights in your model: same outputs (the first differing layer is named)"),
    ("step", "two training steps from the same weights on the same batch: same losses and updates"),
    ("overfit", "one small batch driven to near-zero loss"),
    ("quick", "the quick profile against the reference on this machine: its stored baseline where this machine "
              "made it, else the reference run now"),
    ("full", "(--full) the paper's protocol profile against its claims"),
)
STAGE_NAMES = [name for name, _ in STAGES]
