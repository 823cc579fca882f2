"""The T5 encoder E, written out so that `cf` starts fast: importing transformers' T5 costs
~2 s of a cold `cf PROMPT` on 2 cores (it pulls in torch._dynamo and torch.distributed),
more than the whole generation. Same parameters and names as transformers'
``T5EncoderModel`` (so CodeT5 weights load unchanged), same outputs (tests/test_t5.py
checks both against transformers); transformers itself is imported only to fetch
pretrained weights by name.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


# The bias of a padded key. Finite in bf16, unlike transformers' finfo(float32).min (-inf once cast
# to bf16): a row whose every key is padding (an unconditional pre-training row's empty prompt)
# then attends evenly instead of giving NaN in CUDA's kernels; a padded key beside a real one
# still weighs exp(-1e9) = 0.
MASKED = -1e9


class T5LayerNorm(nn.Module):
    """RMS norm without a bias or mean subtraction, as T5 has it."""

    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps).to(x.dtype)
        return self.weight * x


def relative_bucket(relative: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """T5's bidirectional bucketing: exact up to num_buckets/4 apart, log-spaced beyond."""
    num_buckets //= 2
    buckets = (relative > 0).long() * num_buckets
    n = relative.abs()
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(n.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(n < max_exact, n, large)


class T5Attention(nn.Module):
    def __init__(self, c: dict[str, Any], has_bias: bool):
        super().__init__()
        self.n_heads, self.d_kv = c["num_heads"], c["d_kv"]
        inner = self.n_heads * self.d_kv
        self.q = nn.Linear(c["d_model"], inner, bias=False)
        self.k = nn.Linear(c["d_model"], inner, bias=False)
        self.v = nn.Linear(c["d_model"], inner, bias=False)
        self.o = nn.Linear(inner, c["d_model"], bias=False)
        self.buckets, self.max_distance = c["relative_attention_num_buckets"], c["relative_attention_max_distance"]
        if has_bias:
            self.relative_attention_bias = nn.Embedding(self.buckets, self.n_heads)
        self.dropout = c["dropout_rate"]

    def position_bias(self, length: int, device) -> torch.Tensor:
        pos = torch.arange(length, device=device)
        buckets = relative_bucket(pos[None, :] - pos[:, None], self.buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]  # (1, heads, q, k)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = (proj(x).view(b, n, self.n_heads, self.d_kv).transpose(1, 2) for proj in (self.q, self.k, self.v))
        # T5 does not scale the scores by 1/sqrt(d_kv) (it is folded into the initialisation).
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=1.0,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.o(out.transpose(1, 2).reshape(b, n, -1))


class T5FeedForward(nn.Module):
    def __init__(self, c: dict[str, Any]):
        super().__init__()
        self.gated = c["feed_forward_proj"].startswith("gated-")
        act = c["feed_forward_proj"].removeprefix("gated-")
        if c["feed_forward_proj"] == "gated-gelu":  # T5 v1.1's name for the tanh approximation
            act = "gelu_new"
        if act not in ("relu", "gelu", "gelu_new"):
            raise ValueError(f"unsupported T5 feed_forward_proj {c['feed_forward_proj']!r}")
        self.act = F.relu if act == "relu" else (
            (lambda x: F.gelu(x, approximate="tanh")) if act == "gelu_new" else F.gelu)
        if self.gated:
            self.wi_0 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
            self.wi_1 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        else:
            self.wi = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)
        self.dropout = nn.Dropout(c["dropout_rate"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.wi_0(x)) * self.wi_1(x) if self.gated else self.act(self.wi(x))
        return self.wo(self.dropout(h))


class _SelfAttentionLayer(nn.Module):
    def __init__(self, c: dict[str, Any], has_bias: bool):
        super().__init__()
        self.SelfAttention = T5Attention(c, has_bias)
        self.layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])
        self.dropout = nn.Dropout(c["dropout_rate"])


class _FeedForwardLayer(nn.Module):
    def __init__(self, c: dict[str, Any]):
        super().__init__()
        self.DenseReluDense = T5FeedForward(c)
        self.layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])
        self.dropout = nn.Dropout(c["dropout_rate"])


class _Block(nn.Module):
    def __init__(self, c: dict[str, Any], has_bias: bool):
        super().__init__()
        self.layer = nn.ModuleList([_SelfAttentionLayer(c, has_bias), _FeedForwardLayer(c)])

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        attn, ff = self.layer
        h = h + attn.dropout(attn.SelfAttention(attn.layer_norm(h), bias))
        return h + ff.dropout(ff.DenseReluDense(ff.layer_norm(h)))


class _Stack(nn.Module):
    def __init__(self, c: dict[str, Any], shared: nn.Embedding):
        super().__init__()
        self.embed_tokens = shared  # tied, as in transformers: both names are in the state dict
        self.block = nn.ModuleList(_Block(c, has_bias=i == 0) for i in range(c["num_layers"]))
        self.final_layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])
        self.dropout = nn.Dropout(c["dropout_rate"])


class T5Encoder(nn.Module):
    """``T5Encoder(config)(ids, mask)`` -> (B, S, d_model); config as in transformers' T5Config."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        c = {"relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
             "layer_norm_epsilon": 1e-6, "dropout_rate": 0.1, "feed_forward_proj": "relu", **config}
        self.config = c
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = _Stack(c, self.shared)
        self._init_like_t5(c)

    def _init_like_t5(self, c: dict[str, Any]) -> None:
        # transformers' T5 initialisation (factor 1.0), so a model trained from scratch here
        # starts where one built with transformers would.
        d, kv, heads = c["d_model"], c["d_kv"], c["num_heads"]
        nn.init.normal_(self.shared.weight, std=1.0)
        for block in self.encoder.block:
            attn = block.layer[0].SelfAttention
            nn.init.normal_(attn.q.weight, std=(d * kv) ** -0.5)
            for lin in (attn.k, attn.v):
                nn.init.normal_(lin.weight, std=d ** -0.5)
            nn.init.normal_(attn.o.weight, std=(heads * kv) ** -0.5)
            if hasattr(attn, "relative_attention_bias"):
                nn.init.normal_(attn.relative_attention_bias.weight, std=d ** -0.5)
            ff = block.layer[1].DenseReluDense
            for lin in ((ff.wi_0, ff.wi_1) if ff.gated else (ff.wi,)):
                nn.init.normal_(lin.weight, std=d ** -0.5)
            nn.init.normal_(ff.wo.weight, std=c["d_ff"] ** -0.5)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.encoder.dropout(self.shared(input_ids))
        first = self.encoder.block[0].layer[0].SelfAttention
        bias = first.position_bias(input_ids.shape[1], input_ids.device)
        if attention_mask is not None:  # padding is a large negative bias
            bias = bias + (1.0 - attention_mask[:, None, None, :].to(bias.dtype)) * MASKED
        for block in self.encoder.block:
            h = block(h, bias)
        return self.encoder.dropout(self.encoder.final_layer_norm(h))


def pretrained_t5_encoder(name_or_path: str) -> tuple[T5Encoder, dict[str, Any]]:
    """CodeT5 (or any T5) weights by hub name or local path, through transformers."""
    from transformers import T5EncoderModel

    hf = T5EncoderModel.from_pretrained(name_or_path)
    config = {k: getattr(hf.config, k) for k in CONFIG_KEYS}
    enc = T5Encoder(config)
    enc.load_state_dict(hf.state_dict(), strict=True)
    return enc, config


# What rebuilds the architecture (saved in every checkpoint's config, so it loads offline).
CONFIG_KEYS = ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads", "relative_attention_num_buckets",
               "relative_attention_max_distance", "dropout_rate", "layer_norm_epsilon", "feed_forward_proj",
               "pad_token_id", "decoder_start_token_id")
