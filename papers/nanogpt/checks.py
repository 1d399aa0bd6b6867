"""What `repro check nanogpt` needs besides the implementation interface: an example batch,
the overfitting target, and the hints for this paper's typical mistakes.
"""

from __future__ import annotations

import torch

VOCAB_SIZE = 65  # tiny Shakespeare's distinct characters
OVERFIT = {"examples": 8, "steps": 100, "target_loss": 0.05}  # reimpl: ~0.02 after 100 steps, ~2 s

# Per stage, the likely causes when it fails, most frequent first.
HINTS = {
    "interface": [
        "define build_model(cfg), make_optimizer(model, cfg), train_step(model, optimizer, xb, yb) "
        "and run(cfg, ctx) at module level; extra arguments of train_step (grad_clip, ...) need defaults",
        "an import error above: run `python path/to/your_file.py` to see it whole",
    ],
    "structure": [
        ("shape", "a layer's output shaped otherwise than the reference's: n_embd, n_head, n_layer or block_size "
                  "other than cfg's, the MLP's hidden width (4 * n_embd), or c_attn not 3 * n_embd wide"),
        "the model must return the logits of every position, (batch, block_size, 65), not (logits, loss) "
        "and not only the last position's",
        "an untied lm_head: the output layer reuses the token embedding's (65, n_embd) matrix "
        "(lm_head.weight = wte.weight), so it adds no parameters of its own",
        "the position embedding missing, or not a learned nn.Embedding(block_size, n_embd)",
        "biases where cfg['bias'] is false (Linear and LayerNorm layers: nn.LayerNorm(n_embd, bias=False)), "
        "or a bias on lm_head, which never has one",
        "the MLP's hidden width: 4 * n_embd; or one q/k/v projection per head instead of one c_attn of 3 * n_embd",
        "a missing final LayerNorm (ln_f) before lm_head, or a block count other than n_layer",
        "layers run in another order than the reference's: a pre-norm block runs ln_1 before attention and "
        "ln_2 before the MLP (post-norm runs them after the residual additions)",
    ],
    "forward": [
        ("layer", "a missing causal mask: each position may attend to itself and earlier positions only "
                  "(F.scaled_dot_product_attention(..., is_causal=True)); or the attention scale, q k^T / "
                  "sqrt(head_dim), not sqrt(n_embd)"),
        ("residual", "a residual missing: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))"),
        ("nonlinearity", "the MLP's GELU missing, or its tanh approximation: nanoGPT uses the exact one "
                         "(nn.GELU())"),
        ("reshape", "heads split or merged wrong: view (B, T, n_head, head_dim), transpose to (B, n_head, T, "
                    "head_dim), and back with transpose(1, 2).contiguous().view(B, T, C)"),
        "the attention scale: scores are q k^T / sqrt(head_dim), head_dim = n_embd / n_head, not sqrt(n_embd)",
        "post-norm instead of pre-norm: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)); nothing is "
        "normalised after the residual additions except by ln_f at the end",
        "heads split or merged wrong: view (B, T, n_head, head_dim), transpose to (B, n_head, T, head_dim), "
        "and back with transpose(1, 2).contiguous().view(B, T, C)",
        "q, k and v taken from c_attn's output in another order: split(n_embd, dim=2) gives q, k, v",
        "the tanh approximation of GELU: nanoGPT uses the exact one (nn.GELU())",
        "token and position embeddings concatenated instead of added",
    ],
    "step": [
        ("loss_sum", "the loss summed over the B * T targets: F.cross_entropy averages them (reduction='mean')"),
        ("lr_scale", "a different learning rate: AdamW at cfg['learning_rate'], or the warmup's "
                     "(it + 1) / (warmup_iters + 1) factor applied in train_step"),
        ("weight_decay", "weight decay other than nanoGPT's: weight_decay (0.1) on every parameter with dim >= 2, "
                         "0.0 on biases and LayerNorm weights, in two AdamW groups"),
        ("optimizer", "a different optimizer than AdamW (Adam, SGD), or betas other than (beta1, beta2) from cfg "
                      "(0.9, 0.99 here)"),
        ("zero_grad", "gradients never zeroed between steps: optimizer.zero_grad(set_to_none=True) every step "
                      "(the first step then matches, the second not)"),
        ("loss", "logits and targets reshaped wrong for F.cross_entropy: (B * T, vocab) against (B * T,), not "
                 "(B, T, vocab) against (B, T); or a forward pass that differs in training mode"),
        "weight decay on biases and LayerNorm weights: only parameters with dim >= 2 decay (weight_decay), "
        "the rest get 0.0",
        "no gradient clipping: clip the global norm at grad_clip (1.0) before optimizer.step()",
        "the tied matrix listed twice in the optimizer: take model.parameters(), which yields it once",
    ],
    "overfit": [
        "the model cannot memorise 8 random sequences: check the previous stages' hints, and that train_step "
        "really updates the model (optimizer built on model.parameters(), optimizer.step() called)",
        "a causal mask that hides the position itself (the diagonal) or lets a position see the future",
    ],
    "quick": [
        "the learning-rate schedule off by one: lr = learning_rate * (it + 1) / (warmup_iters + 1) during "
        "warmup, then cosine from warmup_iters to lr_decay_iters down to min_lr, set before each iteration",
        "the split: the first 90% of the characters for training, the last 10% for validation, vocabulary "
        "the sorted set of characters",
        ("data_order", "the batches: batch_size windows of block_size characters at offsets drawn with "
                       "torch.randint(len(data) - block_size, (batch_size,)) each iteration, in the reference's "
                       "order of random draws"),
        "targets not shifted: y is the window one character to the right of x",
        "evaluations at the wrong iterations or over too few batches: at every multiple of eval_interval "
        "including 0 and max_iters, eval_iters batches per split; max_iters + 1 updates in all",
        "evaluation in training mode: model.eval() and torch.no_grad() for the loss estimates, model.train() "
        "afterwards (it changes the numbers only with dropout > 0, as in the gpu profile; quick has none)",
    ],
    "full": [
        "compare with the re-implementation's results in papers/nanogpt/README.md, claim by claim",
    ],
}


def example_batch(cfg: dict, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of random character ids: inputs (size, block_size) and the same sequences
    shifted by one as targets, both long tensors."""
    generator = torch.Generator().manual_seed(seed)
    sequences = torch.randint(0, VOCAB_SIZE, (size, cfg["block_size"] + 1), generator=generator)  # (batch, T + 1)
    return sequences[:, :-1], sequences[:, 1:]  # (batch, T) each
