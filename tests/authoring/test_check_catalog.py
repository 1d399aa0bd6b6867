"""`repro check` on the other papers: six typical mistakes planted one at a time in a copy of
each paper's re-implementation, each stopped at its stage with a first hint that names the
cause: the stage's evidence picks the paper's own hint for it (HINTS entries (signature, text)
in papers/<id>/checks.py). MNIST-1D's own are in
test_check.py; the unmodified copies pass every stage in tests/papers/test_catalog.py.
The quick stage is never reached here (every mistake fails before it)."""

from __future__ import annotations

import pytest

import repro.authoring.check
from conftest import REPO

TCN_ADAM = 'torch.optim.Adam(model.parameters(), lr=cfg["lr"])'
TIMESNET_ADAM = 'torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"])'
TIMESNET_LOSS = "loss = F.mse_loss(forecast(model, x, x_mark), yb)"
GPT_ADAMW = 'torch.optim.AdamW(groups, lr=cfg["learning_rate"], betas=(cfg["beta1"], cfg["beta2"]), fused=fused)'
GPT_LOSS = "F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))"

# (paper, id, (old, new), the failing stage, words of the first hint)
MISTAKES = [
    ("tcn", "lr", (TCN_ADAM, TCN_ADAM.replace('cfg["lr"]', 'cfg["lr"] * 0.1')), "step", ["learning rate", "x the size of the reference's update"]),
    ("tcn", "weight_decay", (TCN_ADAM, TCN_ADAM[:-1] + ", weight_decay=0.1)"), "step", ["weight decay", "toward zero"]),
    ("tcn", "sgd", (TCN_ADAM, TCN_ADAM.replace("Adam(", "SGD(")), "step", ["a different optimizer"]),
    ("tcn", "zero_grad", ("    optimizer.zero_grad()\n    loss.backward()", "    loss.backward()"), "step",
     ["gradients never zeroed"]),
    ("tcn", "mean_loss", ("    loss = nll(model(xb), yb)", "    loss = nll(model(xb), yb) / yb.numel()"), "step",
     ["averaged instead of summed", "1 / the number of target values"]),
    ("tcn", "nhid", ('TCN(cfg["ksize"], cfg["levels"], cfg["nhid"], cfg["dropout"])',
                     'TCN(cfg["ksize"], cfg["levels"], cfg["nhid"] + 10, cfg["dropout"])'), "structure",
     ["output shaped otherwise than the reference's", "shaped differently"]),
    ("timesnet", "lr", (TIMESNET_ADAM, TIMESNET_ADAM.replace('cfg["learning_rate"]', 'cfg["learning_rate"] * 0.1')),
     "step", ["learning rate", "x the size of the reference's update"]),
    ("timesnet", "weight_decay", (TIMESNET_ADAM, TIMESNET_ADAM[:-1] + ", weight_decay=0.1)"), "step",
     ["weight decay", "toward zero"]),
    ("timesnet", "sgd", (TIMESNET_ADAM, TIMESNET_ADAM.replace("Adam(", "SGD(")), "step", ["a different optimizer"]),
    ("timesnet", "zero_grad", ("    optimizer.zero_grad()\n    " + TIMESNET_LOSS, "    " + TIMESNET_LOSS), "step",
     ["gradients never zeroed"]),
    ("timesnet", "sum_loss", (TIMESNET_LOSS, TIMESNET_LOSS[:-1] + ', reduction="sum")'), "step",
     ["the loss summed", "the number of target values"]),
    ("timesnet", "d_ff", ('cfg["d_model"], cfg["d_ff"], cfg["e_layers"]', 'cfg["d_model"], cfg["d_ff"] + 8, cfg["e_layers"]'),
     "structure", ["output shaped otherwise than the reference's", "shaped differently"]),
    ("nanogpt", "lr", (GPT_ADAMW, GPT_ADAMW.replace('lr=cfg["learning_rate"]', 'lr=cfg["learning_rate"] * 0.1')),
     "step", ["learning rate", "x the size of the reference's update"]),
    ("nanogpt", "no_weight_decay", ('"weight_decay": cfg["weight_decay"]}', '"weight_decay": 0.0}'), "step",
     ["weight decay", "missing"]),
    ("nanogpt", "sgd", (GPT_ADAMW, 'torch.optim.SGD(groups, lr=cfg["learning_rate"])'), "step",
     ["a different optimizer than AdamW"]),
    ("nanogpt", "zero_grad", ("    optimizer.zero_grad(set_to_none=True)\n", ""), "step", ["gradients never zeroed"]),
    ("nanogpt", "sum_loss", (GPT_LOSS, GPT_LOSS[:-1] + ', reduction="sum")'), "step",
     ["the loss summed", "the number of target values"]),
    ("nanogpt", "n_embd", ("    return GPT(cfg)\n", '    return GPT({**cfg, "n_embd": 2 * cfg["n_embd"]})\n'),
     "structure", ["output shaped otherwise than the reference's", "shaped differently"]),
    # the forward pass: a layer defined and not called (or another class), padding, a residual, a fold
    ("tcn", "no_relu", ("        h = self.dropout1(self.relu1(h))", "        h = self.dropout1(h)"), "structure",
     ["ReLU after the residual sum missing", "never calls blocks.0.relu1"]),
    ("tcn", "symmetric_padding", ("        h = self.conv1(F.pad(x, (self.pad, 0)))",
                                  "        h = self.conv1(F.pad(x, (self.pad // 2, self.pad - self.pad // 2)))"),
     "forward", ["non-causal padding", "shifted by 1 step"]),
    ("tcn", "no_residual", ("        return self.relu(h + res)", "        return self.relu(h)"), "forward",
     ["the residual missing", "plus blocks.0.downsample's output"]),
    ("nanogpt", "no_residual", ("        return x + self.mlp(self.ln_2(x))", "        return self.mlp(self.ln_2(x))"),
     "forward", ["a residual missing", "plus the input of h.0.ln_2"]),
    ("nanogpt", "no_gelu", ("        h = self.gelu(self.c_fc(x))", "        h = self.c_fc(x)"), "structure",
     ["GELU missing", "never calls h.0.mlp.gelu"]),
    ("timesnet", "no_gelu", ("InceptionBlock(d_model, d_ff, num_kernels), nn.GELU(),",
                             "InceptionBlock(d_model, d_ff, num_kernels), nn.Identity(),"), "structure",
     ["the GELU between the two Inception blocks", "is Identity"]),
    ("timesnet", "fold", ("grid = padded.reshape(batch, rows, period, channels).permute(0, 3, 1, 2)",
                          "grid = padded.reshape(batch, channels, period, rows).permute(0, 1, 3, 2)"), "forward",
     ["the 1D -> 2D fold", "in another order"]),
    ("patchtst", "no_residual", ("        return self.norm_ffn(x + self.dropout_ffn(self.ff(x)))",
                                 "        return self.norm_ffn(self.dropout_ffn(self.ff(x)))"), "forward",
     ["post-norm layers with their residuals", "plus the input of backbone.encoder.layers.0.ff.0"]),
    ("patchtst", "no_relu", ("nn.Linear(d_model, d_ff), nn.ReLU(),", "nn.Linear(d_model, d_ff), nn.Identity(),"),
     "forward", ["ReLU missing", "is Identity"]),
    # PatchTST's five linear-probing mistakes are in tests/papers/test_patchtst.py (its frozen stage)
    ("patchtst", "d_ff", ('Layers(d_model, cfg["n_heads"], cfg["d_ff"], cfg["dropout"], cfg["n_layers"])',
                          'Layers(d_model, cfg["n_heads"], cfg["d_ff"] // 2, cfg["dropout"], cfg["n_layers"])'),
     "structure", ["output shaped otherwise than the reference's", "shaped differently"]),
]
OWN_TESTS = {"patchtst": 5}  # planted in the paper's own test file


@pytest.mark.parametrize("paper_id, name, replacement, stage, hint_words",
                         [pytest.param(*m, id=f"{m[0]}-{m[1]}") for m in MISTAKES])
def test_a_planted_mistake_is_named_by_the_first_hint(repro_home, tmp_path, paper_id, name, replacement, stage,
                                                      hint_words):
    from repro.catalog import load_paper

    text = (REPO / "papers" / paper_id / "reimpl.py").read_text(encoding="utf-8")
    old, new = replacement
    assert text.count(old) == 1, f"papers/{paper_id}/reimpl.py changed: expected one {old!r}"
    path = tmp_path / f"{name}.py"
    path.write_text(text.replace(old, new), encoding="utf-8")
    paper = load_paper(paper_id)
    stages = repro.authoring.check.check(paper, str(path), claim_ids=[paper.profiles["quick"].claims[0]]
                                         if paper.profiles["quick"].claims else None)
    failed = stages[-1]
    assert failed.name == stage and not failed.passed, [(s.name, s.passed, s.details) for s in stages]
    assert all(s.passed for s in stages[:-1])
    for word in hint_words:
        assert word in failed.hints[0], (failed.details, failed.hints)


def test_every_paper_in_the_catalog_has_six_planted_mistakes_here_or_in_its_own_tests():
    from repro.catalog import paper_ids

    counted = dict(OWN_TESTS)
    for paper_id, *_ in MISTAKES:
        counted[paper_id] = counted.get(paper_id, 0) + 1
    assert set(counted) == set(paper_ids()) - {"mnist1d"}  # MNIST-1D's: test_check.py
    assert all(count >= 6 for count in counted.values()), counted
