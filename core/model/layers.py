"""Transformer blocks for the denoiser N and the decoder D: full (bidirectional) self-attention
over the code positions, cross-attention to the encoded prompt E_s, and an MLP; pre-LayerNorm,
``scaled_dot_product_attention`` throughout."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KV = tuple[torch.Tensor, torch.Tensor]


class CrossKV:
    """Per-block cross-attention keys/values of an encoded prompt, computed once per prompt
    and reused at every denoising step."""

    def __init__(self, kv: list[KV], mask: torch.Tensor | None):
        self.kv, self.mask = kv, mask

    def repeat_interleave(self, k: int) -> "CrossKV":
        kv = [(a.repeat_interleave(k, 0), b.repeat_interleave(k, 0)) for a, b in self.kv]
        mask = None if self.mask is None else self.mask.repeat_interleave(k, 0)
        return CrossKV(kv, mask)


class Block(nn.Module):
    def __init__(self, d: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.ln_self = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.self_out = nn.Linear(d, d)
        self.ln_cross = nn.LayerNorm(d)
        self.q_cross = nn.Linear(d, d)
        self.kv_cross = nn.Linear(d, 2 * d)
        self.cross_out = nn.Linear(d, d)
        self.ln_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))
        self.drop = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.n_heads, d // self.n_heads).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, n, dh = x.shape
        return x.transpose(1, 2).reshape(b, n, h * dh)

    def cross_kv(self, enc: torch.Tensor) -> KV:
        k, v = self.kv_cross(enc).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)

    def forward(self, x: torch.Tensor, kv: KV, enc_mask: torch.Tensor | None) -> torch.Tensor:
        p = self.dropout if self.training else 0.0
        q, k, v = (self._heads(z) for z in self.qkv(self.ln_self(x)).chunk(3, dim=-1))
        x = x + self.drop(self.self_out(self._merge(F.scaled_dot_product_attention(q, k, v, dropout_p=p))))
        q = self._heads(self.q_cross(self.ln_cross(x)))
        attn = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=enc_mask, dropout_p=p)
        x = x + self.drop(self.cross_out(self._merge(attn)))
        return x + self.drop(self.mlp(self.ln_mlp(x)))


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Stack(nn.Module):
    """Embedding-space in, embedding-space out: project embed_dim -> d_model, add positions
    (and the timestep, for the denoiser), run the blocks, project back to embed_dim."""

    def __init__(self, n_layers: int, d: int, embed_dim: int, n_heads: int, d_ff: int,
                 dropout: float, length: int, with_time: bool, self_cond: bool = False):
        super().__init__()
        self.inp = nn.Linear(embed_dim, d)
        # Reads the previous x̂0 (self-conditioning). Zero-initialised and without bias, so it
        # adds exactly nothing until trained: a model warm-started from one without it begins
        # where that model was, and a zero x̂0 means "no previous guess".
        self.self_cond = None
        if self_cond:
            self.self_cond = nn.Linear(embed_dim, d, bias=False)
            nn.init.zeros_(self.self_cond.weight)
        self.pos = nn.Parameter(torch.zeros(1, length, d))
        nn.init.normal_(self.pos, std=0.02)
        self.time = nn.Sequential(nn.Linear(d, 4 * d), nn.SiLU(), nn.Linear(4 * d, d)) if with_time else None
        self.blocks = nn.ModuleList(Block(d, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.ln = nn.LayerNorm(d)
        self.out = nn.Linear(d, embed_dim)
        self.drop = nn.Dropout(dropout)
        self.d = d

    def cross(self, enc: torch.Tensor, enc_mask: torch.Tensor | None) -> CrossKV:
        return CrossKV([b.cross_kv(enc) for b in self.blocks], enc_mask)

    def forward(self, x: torch.Tensor, cross: CrossKV, t: torch.Tensor | None = None,
                x0_prev: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(x) + self.pos[:, : x.shape[1]]
        if self.self_cond is not None and x0_prev is not None:
            h = h + self.self_cond(x0_prev)
        if self.time is not None:
            h = h + self.time(timestep_embedding(t, self.d))[:, None, :]
        h = self.drop(h)
        for block, kv in zip(self.blocks, cross.kv):
            h = block(h, kv, cross.mask)
        return self.out(self.ln(h))
