"""CodeFusion (paper section 3): encoder E, code embedding L, denoiser N, decoder D, head H.

The denoiser predicts the clean embedding x̂0 rather than the noise ε. Embedding diffusion
needs x̂0 anyway (D reads it, and the samplers step from it), and Diffusion-LM found the
x0-parameterisation much better for text. The paper's denoising term ||ε̂ - ε|| is therefore
taken on x̂0 (||x̂0 - L(y)||², which is the ε-loss reweighted by 1/SNR(t); ε̂ can always be
recovered with ``SqrtDiffusionScheduler.eps_from_x0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.config import ModelConfig
from core.diffusion import SqrtDiffusionScheduler
from core.model.layers import CrossKV, Stack

# Tensors in host memory. (The tests' device check gives the model cpu:0 as a stand-in for a GPU,
# so that it takes the GPU's paths: tests/device_check.py.)
HOST = torch.device("cpu")


@dataclass
class LossOutput:
    loss: torch.Tensor
    denoise: torch.Tensor
    decoder: torch.Tensor
    nll: torch.Tensor

    def terms(self) -> dict[str, torch.Tensor]:
        """The four terms, detached and left where they are (reading them would make the host
        wait for a GPU: the trainer reads them once per logged step)."""
        return {k: getattr(self, k).detach() for k in ("loss", "denoise", "decoder", "nll")}


def build_encoder(cfg: ModelConfig) -> nn.Module:
    """T5 encoder: rebuilt from the checkpoint's own encoder_config, pretrained CodeT5 by name
    (through transformers), or fresh from the preset."""
    from core.model.t5 import CONFIG_KEYS, T5Encoder, pretrained_t5_encoder

    if cfg.encoder_config is not None:
        return T5Encoder(cfg.encoder_config)
    if cfg.encoder_name_or_path:
        enc, config = pretrained_t5_encoder(cfg.encoder_name_or_path)
    else:
        config = dict(vocab_size=cfg.vocab_size, d_model=cfg.d_model, d_kv=cfg.d_model // cfg.n_heads,
                      d_ff=cfg.d_ff, num_layers=cfg.encoder_layers, num_heads=cfg.n_heads,
                      relative_attention_num_buckets=32, relative_attention_max_distance=128,
                      dropout_rate=cfg.dropout, layer_norm_epsilon=1e-6, feed_forward_proj="relu",
                      pad_token_id=cfg.pad_id, decoder_start_token_id=cfg.pad_id)
        enc = T5Encoder(config)
    # Keep only what rebuilds the architecture: a checkpoint then loads offline.
    cfg.encoder_config = {k: config[k] for k in CONFIG_KEYS}
    cfg.encoder_config.update(is_encoder_decoder=False, use_cache=False)
    return enc


class CodeFusion(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg)
        enc_dim = cfg.encoder_config["d_model"]
        self.enc_proj = nn.Linear(enc_dim, cfg.d_model) if enc_dim != cfg.d_model else nn.Identity()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)  # L
        nn.init.normal_(self.embed.weight, std=1.0)  # unit scale, like the noise it is mixed with
        common = dict(d=cfg.d_model, embed_dim=cfg.embed_dim, n_heads=cfg.n_heads, d_ff=cfg.d_ff,
                      dropout=cfg.dropout, length=cfg.code_len)
        self.denoiser = Stack(cfg.denoiser_layers, with_time=True, self_cond=cfg.self_cond, **common)  # N
        self.decoder = Stack(cfg.decoder_layers, with_time=False, **common)  # D
        self.head = nn.Linear(cfg.embed_dim, cfg.vocab_size)  # H
        self.scheduler = SqrtDiffusionScheduler(cfg.diffusion_steps)

    # -- the pieces, used by training and by the sampler -----------------------------------
    def encode(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
        """E(s): (B, S) ids -> (B, S, d_model)."""
        return self.enc_proj(self.encoder(prompt_ids, prompt_mask))

    @staticmethod
    def attn_mask(prompt_mask: torch.Tensor | None) -> torch.Tensor | None:
        return None if prompt_mask is None else prompt_mask.bool()[:, None, None, :]

    def cross(self, enc: torch.Tensor, prompt_mask: torch.Tensor | None) -> tuple[CrossKV, CrossKV]:
        """Cross-attention keys/values of E_s for the denoiser and the decoder, once per prompt."""
        m = self.attn_mask(prompt_mask)
        return self.denoiser.cross(enc, m), self.decoder.cross(enc, m)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cross: CrossKV,
                x0_prev: torch.Tensor | None = None) -> torch.Tensor:
        """N(x_t, t, E_s) -> x̂0; with ``cfg.self_cond`` also N(x_t, t, E_s, x̂0 of the previous
        sampling step) (None: no previous guess yet, the same as zeros)."""
        return self.denoiser(x_t, cross, t, x0_prev)

    def decode(self, x0: torch.Tensor, cross: CrossKV) -> torch.Tensor:
        """D(x̂0, E_s) -> D_s, in the embedding space of L."""
        return self.decoder(x0, cross)

    def logits(self, d_s: torch.Tensor) -> torch.Tensor:
        return self.head(d_s)

    # -- training ---------------------------------------------------------------------------
    def forward(
        self,
        code_ids: torch.Tensor,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        unconditional: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        example_ids: torch.Tensor | None = None,
        edit: torch.Tensor | None = None,
    ) -> LossOutput:
        """The paper's L_t for a batch: denoising + ||D_s - L(y)||² - log p(y | D_s).

        ``unconditional`` marks rows of the pre-training "code generation" task, whose E_s is
        replaced with Gaussian noise (their prompt_ids are ignored); None: no such row.
        ``example_ids`` (retrieval models): each row's retrieved example's code, (B, L) ids; it
        is the denoiser's first guess, and for ``edit`` rows also what x_t is noised from, as
        sampling starts (``retrieval_strength``): the model learns to turn a noised neighbour
        into the target. Retrieval rows only see t up to retrieval_train_strength of the
        schedule, the part that sampling may run.
        """
        b = code_ids.shape[0]
        enc = self.encode(prompt_ids, prompt_mask)
        mask = prompt_mask
        if unconditional is not None:  # (the batch says whether it has such rows: no bool(any()) wait here)
            # where, not u * noise + (1 - u) * enc: 0 * NaN would keep a NaN of an empty prompt's row
            enc = torch.where(unconditional.view(b, 1, 1), torch.randn_like(enc), enc)
            mask = torch.where(unconditional.view(b, 1), torch.ones_like(prompt_mask), prompt_mask)
        dn_cross, dec_cross = self.cross(enc, mask)

        x0 = self.embed(code_ids)
        if t is None:
            top = self.start_timestep(self.cfg.retrieval_train_strength) + 1 if example_ids is not None \
                else self.cfg.diffusion_steps
            t = torch.randint(0, top, (b,), device=code_ids.device)
        if noise is None:
            noise = torch.randn_like(x0)
        source, first_guess = x0, None
        if example_ids is not None:
            first_guess = self.embed(example_ids).detach()
            if edit is not None:
                source = torch.where(edit.view(b, 1, 1), first_guess.to(x0.dtype), x0)
        x_t = self.scheduler.add_noise(source, noise, t)
        x0_prev = None
        if self.cfg.self_cond:
            # Half the batches first guess without a previous x̂0 (a retrieval model: with its
            # example), then condition on that guess (no gradient through it), as the sampler
            # will; the other half learn the first step.
            x0_prev = torch.zeros_like(x_t) if first_guess is None else first_guess  # DDP: every parameter used
            if bool(torch.rand(()) < 0.5):
                with torch.no_grad():
                    x0_prev = self.denoise(x_t, t, dn_cross, x0_prev).detach()
        x0_hat = self.denoise(x_t, t, dn_cross, x0_prev)
        d_s = self.decode(x0_hat, dec_cross)

        denoise = F.mse_loss(x0_hat.float(), x0.float())
        decoder = F.mse_loss(d_s.float(), x0.float())
        # The output is cut at the first pad: score the code tokens and that pad only. The MSE
        # terms above still hold every position, the trailing pads included.
        keep = self.scored_positions(code_ids)
        if code_ids.device == HOST:
            # The vocabulary projection is most of a CPU training step: project the scored
            # positions only (the small preset's steps took 1.25x as long projecting them all).
            nll = F.cross_entropy(self.logits(d_s[keep]).float(), code_ids[keep])
        else:
            # On a GPU, boolean indexing makes the host wait for the count at every step:
            # project every position and leave the unscored ones out of the mean.
            nll = F.cross_entropy(self.logits(d_s).float().flatten(0, 1),
                                  code_ids.masked_fill(~keep, -100).flatten(), ignore_index=-100)
        return LossOutput(loss=denoise + decoder + nll, denoise=denoise, decoder=decoder, nll=nll)

    def start_timestep(self, strength: float | None = None) -> int:
        """Where a retrieval model's sampling starts: ``strength`` (default: the config's
        retrieval_strength) of the schedule."""
        strength = self.cfg.retrieval_strength if strength is None else strength
        return round(strength * (self.cfg.diffusion_steps - 1))

    def scored_positions(self, code_ids: torch.Tensor) -> torch.Tensor:
        """True for the tokens before the first pad and for that pad itself."""
        pad = (code_ids == self.cfg.pad_id).long()
        return (pad.cumsum(dim=1) - pad) == 0

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
