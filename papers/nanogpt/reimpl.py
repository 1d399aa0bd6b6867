"""A character-level GPT on tiny Shakespeare, re-implemented from karpathy/nanoGPT.

nanoGPT's README trains a "baby GPT" on the 1.1M characters of tiny Shakespeare: each
character is a token (65 of them), the model reads block_size characters and predicts the
next one at every position. The first 90% of the text is for training, the last 10% for
validation; the claims are validation losses in nats per character. Training is AdamW with a
linear warmup and a cosine decay of the learning rate, gradients clipped at norm 1, losses
estimated every eval_interval iterations on eval_iters random batches of each split.
Config keys are named as nanoGPT's train.py names them.

Read from top to bottom: data, the model (from small classes to large), training, and `run`
(the entry point the harness calls with the merged config and a RunContext). `build_model`,
`make_optimizer` and `train_step` are also what `repro check` compares a student's version
against.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

# build_model(cfg) sees no data, so the vocabulary size is fixed here: tiny Shakespeare has 65
# distinct characters (run() checks it). nanoGPT reads the same 65 from prepare.py's meta.pkl.
VOCAB_SIZE = 65
LOG_INTERVAL = 10  # log the training batch's loss every 10 iterations (train_shakespeare_char.py's log_interval)

# ---------------------------------------------------------------------------- data


def load_data(path) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiny Shakespeare as character ids: the first 90% for training, the last 10% for validation.

    The vocabulary is the sorted set of characters, as in data/shakespeare_char/prepare.py:
    1,003,854 training and 111,540 validation tokens.
    """
    text = Path(path).read_text(encoding="utf-8")
    chars = sorted(set(text))
    if len(chars) != VOCAB_SIZE:
        raise ValueError(f"{path}: {len(chars)} distinct characters, expected {VOCAB_SIZE}")
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)  # (1115394,)
    n = int(len(ids) * 0.9)
    return ids[:n], ids[n:]


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, device: str):
    """batch_size random windows of block_size + 1 characters: inputs, and targets one to the right.

    The offsets come from torch's global generator, which the worker seeded from ctx.seed.
    """
    ix = torch.randint(len(data) - block_size, (batch_size,))  # (batch,) window starts
    windows = data[ix[:, None] + torch.arange(block_size + 1)]  # (batch, block_size + 1)
    windows = windows.to(device)
    return windows[:, :-1], windows[:, 1:]  # (batch, block_size) each: y[:, t] is the character after x[:, t]


# --------------------------------------------------------------------------- model
# nn.LayerNorm has taken bias=False since torch 2.1, so nanoGPT's own LayerNorm class is not needed.


class CausalSelfAttention(nn.Module):
    """n_head heads of attention in which each position sees itself and the positions before it."""

    def __init__(self, cfg: dict):
        super().__init__()
        assert cfg["n_embd"] % cfg["n_head"] == 0
        self.n_head, self.dropout = cfg["n_head"], cfg["dropout"]
        self.c_attn = nn.Linear(cfg["n_embd"], 3 * cfg["n_embd"], bias=cfg["bias"])  # q, k, v of all heads at once
        self.c_proj = nn.Linear(cfg["n_embd"], cfg["n_embd"], bias=cfg["bias"])  # adds into the residual stream
        self.resid_dropout = nn.Dropout(cfg["dropout"])

    def forward(self, x):  # x: (B, T, C) with C = n_embd
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B, T, 3C) -> 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        # softmax(q k^T / sqrt(hs)) v, with the future masked out (is_causal); the default scale is 1/sqrt(hs)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): the heads side by side
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)


class MLP(nn.Module):
    """Position-wise feed-forward: n_embd -> 4 n_embd -> GELU -> n_embd."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.c_fc = nn.Linear(cfg["n_embd"], 4 * cfg["n_embd"], bias=cfg["bias"])
        self.gelu = nn.GELU()  # the exact (erf) GELU, as nanoGPT
        self.c_proj = nn.Linear(4 * cfg["n_embd"], cfg["n_embd"], bias=cfg["bias"])  # adds into the residual stream
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, x):  # x: (B, T, C)
        h = self.gelu(self.c_fc(x))  # (B, T, 4C)
        return self.dropout(self.c_proj(h))  # (B, T, C)


class Block(nn.Module):
    """A pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg["n_embd"], bias=cfg["bias"])
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg["n_embd"], bias=cfg["bias"])
        self.mlp = MLP(cfg)

    def forward(self, x):  # x: (B, T, C)
        x = x + self.attn(self.ln_1(x))  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)


class GPT(nn.Module):
    """Token and position embeddings, n_layer blocks, a final LayerNorm, and logits through the
    token embedding's own matrix (weight tying)."""

    def __init__(self, cfg: dict, vocab_size: int = VOCAB_SIZE):
        super().__init__()
        self.block_size = cfg["block_size"]
        self.wte = nn.Embedding(vocab_size, cfg["n_embd"])  # token embeddings
        self.wpe = nn.Embedding(cfg["block_size"], cfg["n_embd"])  # learned position embeddings
        self.drop = nn.Dropout(cfg["dropout"])
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], bias=cfg["bias"])
        self.lm_head = nn.Linear(cfg["n_embd"], vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one (vocab, n_embd) matrix embeds and un-embeds

        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg["n_layer"]))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx):  # idx: (B, T) character ids, T <= block_size
        B, T = idx.shape
        assert T <= self.block_size, f"sequence of {T} characters, block_size is {self.block_size}"
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C) + (T, C) -> (B, T, C)
        for block in self.h:
            x = block(x)  # (B, T, C)
        return self.lm_head(self.ln_f(x))  # (B, T, vocab): logits of the next character at every position


def build_model(cfg: dict) -> nn.Module:
    return GPT(cfg)


# ------------------------------------------------------------------------ training


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next character over every position of every sequence."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))  # (B*T, vocab), (B*T,)


def autocast(device_type: str, amp_dtype: torch.dtype | None):
    """Mixed precision on CUDA (amp_dtype bf16 or fp16); a no-op for amp_dtype None (fp32)."""
    return torch.autocast(device_type, dtype=amp_dtype, enabled=amp_dtype is not None)


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """AdamW; weight decay on the matrices (dim >= 2: linear weights, embeddings) only, not on
    biases and LayerNorm gains. Fused on CUDA, as nanoGPT's configure_optimizers."""
    params = [p for p in model.parameters() if p.requires_grad]  # the tied matrix once
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg["weight_decay"]},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = params[0].is_cuda
    return torch.optim.AdamW(groups, lr=cfg["learning_rate"], betas=(cfg["beta1"], cfg["beta2"]), fused=fused)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor,
               grad_clip: float = 1.0, amp_dtype: torch.dtype | None = None, scaler=None) -> float:
    """One update on a batch (xb, yb: (batch, T) character ids); returns the loss before the update.

    grad_clip: clip the gradients' global norm at this (0: no clipping). amp_dtype: the forward
    pass under autocast at this dtype (CUDA); scaler: the GradScaler that fp16 needs.
    """
    with autocast(xb.device.type, amp_dtype):
        loss = lm_loss(model(xb), yb)
    scaler = scaler or torch.amp.GradScaler(enabled=False)  # a disabled scaler passes everything through
    scaler.scale(loss).backward()
    if grad_clip != 0.0:
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def get_lr(it: int, cfg: dict) -> float:
    """train.py's get_lr: linear warmup over warmup_iters, cosine decay to min_lr at lr_decay_iters, then min_lr."""
    if it < cfg["warmup_iters"]:
        return cfg["learning_rate"] * (it + 1) / (cfg["warmup_iters"] + 1)
    if it > cfg["lr_decay_iters"]:
        return cfg["min_lr"]
    decay_ratio = (it - cfg["warmup_iters"]) / (cfg["lr_decay_iters"] - cfg["warmup_iters"])  # 0 .. 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # 1 .. 0
    return cfg["min_lr"] + coeff * (cfg["learning_rate"] - cfg["min_lr"])


@torch.no_grad()
def estimate_loss(model: nn.Module, splits: dict, cfg: dict, device: str, amp_dtype) -> dict[str, float]:
    """Mean loss over eval_iters random batches of each split, in eval mode (no dropout)."""
    model.eval()
    out = {}
    for name, data in splits.items():
        losses = []
        for _ in range(cfg["eval_iters"]):
            x, y = get_batch(data, cfg["batch_size"], cfg["block_size"], device)
            with autocast(device, amp_dtype):
                losses.append(lm_loss(model(x), y))
        out[name] = torch.stack(losses).mean().item()
    model.train()
    return out


def run(cfg: dict, ctx) -> dict[str, float]:
    """Train as nanoGPT's train.py does; return the last and the best evaluation's losses and timings."""
    train_data, val_data = load_data(ctx.data["input.txt"])
    device = ctx.device
    amp_dtype = None  # fp32 on the CPU
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(device, enabled=amp_dtype == torch.float16)  # fp16 only

    model = build_model(cfg).to(device)  # initialised from the seed the worker set
    optimizer = make_optimizer(model, cfg)
    if cfg["compile"]:
        model = torch.compile(model)  # compiles lazily, in the first evaluation and the first step
    batch_size, block_size, max_iters = cfg["batch_size"], cfg["block_size"], cfg["max_iters"]
    ctx.expect_steps(max_iters)

    best_val_loss, seconds_to_best, step_seconds = math.inf, 0.0, []
    started = time.time()
    xb, yb = get_batch(train_data, batch_size, block_size, device)  # (batch, block_size) each
    # Like train.py: iterations 0 .. max_iters inclusive, each one evaluating first (at multiples of
    # eval_interval, so at 0 and at max_iters too) and then stepping. train.py steps at max_iters
    # as well, after the last evaluation, so it makes max_iters + 1 updates; the last one changes
    # nothing that is reported. We match it, and draw the batches in its order too (the first before
    # the loop, each next one after a step), so that without dropout the random numbers agree.
    for iter_num in range(max_iters + 1):
        lr = get_lr(iter_num, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if iter_num % cfg["eval_interval"] == 0:
            losses = estimate_loss(model, {"train": train_data, "val": val_data}, cfg, device, amp_dtype)
            ctx.log(iter_num, train_loss=losses["train"], val_loss=losses["val"])
            if losses["val"] < best_val_loss:
                best_val_loss, seconds_to_best = losses["val"], time.time() - started
        tick = time.time()
        loss = train_step(model, optimizer, xb, yb, cfg["grad_clip"], amp_dtype, scaler)  # .item() syncs CUDA
        xb, yb = get_batch(train_data, batch_size, block_size, device)
        step_seconds.append(time.time() - tick)
        if iter_num % LOG_INTERVAL == 0:
            ctx.log(iter_num, batch_loss=loss)

    timed = step_seconds[LOG_INTERVAL + 1:] or step_seconds  # without the first iterations: compilation, warm-up
    return {
        "val_loss": losses["val"],  # the last evaluation's (at max_iters when eval_interval divides it)
        "train_loss": losses["train"],
        "best_val_loss": best_val_loss,
        "seconds_to_best_val": seconds_to_best,  # from the start of training, compilation included
        # training iterations after the first LOG_INTERVAL + 1 (a step and the next batch each; no evaluations)
        "tokens_per_s": batch_size * block_size * len(timed) / sum(timed),
    }
