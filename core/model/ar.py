"""The autoregressive baseline of the paper's tables: a T5 encoder-decoder of about CodeFusion's
size (transformers' T5ForConditionalGeneration, built from a config), trained by the same
trainer on the same rows, top-k by beam search."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from core.config import ModelConfig
from core.model.codefusion import LossOutput

EOS_ID = 2  # </s>: ends the target; the first pad of a code row becomes it


def cache_keyword() -> str:
    """generate()'s name for the cache: ``cache`` in newer transformers (``past_key_values`` is
    deprecated there, and goes in 6.0), ``past_key_values`` before."""
    from transformers.generation import utils

    return "cache" if "cache" in getattr(utils, "ALL_CACHE_NAMES", ()) else "past_key_values"


class ARBaseline(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        from transformers import T5Config, T5ForConditionalGeneration

        self.cfg = cfg
        if cfg.encoder_config is None:
            # The decoder gets CodeFusion's denoiser + decoder depth, so both sides match in size.
            cfg.encoder_config = dict(
                vocab_size=cfg.vocab_size, d_model=cfg.d_model, d_kv=cfg.d_model // cfg.n_heads, d_ff=cfg.d_ff,
                num_layers=cfg.encoder_layers, num_decoder_layers=cfg.denoiser_layers + cfg.decoder_layers,
                num_heads=cfg.n_heads, dropout_rate=cfg.dropout, feed_forward_proj="relu",
                pad_token_id=cfg.pad_id, eos_token_id=EOS_ID, decoder_start_token_id=cfg.pad_id)
        self.t5 = T5ForConditionalGeneration(T5Config(**cfg.encoder_config))

    def labels(self, code_ids: torch.Tensor) -> torch.Tensor:
        pad = code_ids == self.cfg.pad_id
        first = pad & ((pad.long().cumsum(1) == 1))
        labels = torch.where(first, torch.full_like(code_ids, EOS_ID), code_ids)
        return labels.masked_fill(pad & ~first, -100)

    def forward(self, code_ids, prompt_ids, prompt_mask, unconditional=None, t=None, noise=None) -> LossOutput:
        nll = self.t5(input_ids=prompt_ids, attention_mask=prompt_mask, labels=self.labels(code_ids)).loss
        zero = nll.new_zeros(())
        return LossOutput(loss=nll, denoise=zero, decoder=zero, nll=nll)

    @torch.inference_mode()
    def beam_search(self, prompt_ids, prompt_mask, k: int,
                    on_token: Callable[[], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (B*k, <= code_len) without the start token, ended by pads; length-normalised log-prob).
        ``on_token`` is called after every decoded position; what it raises ends the search (the
        pipeline's cancel)."""
        from transformers import DynamicCache, EncoderDecoderCache, StoppingCriteria, StoppingCriteriaList

        class EveryToken(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                on_token()
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        # A cache sized by itself: transformers sizes the default one by the encoder's depth,
        # which breaks when the decoder is deeper (it is here).
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        out = self.t5.generate(input_ids=prompt_ids, attention_mask=prompt_mask, num_beams=k, num_return_sequences=k,
                               **{cache_keyword(): cache},
                               stopping_criteria=StoppingCriteriaList([EveryToken()] if on_token else []),
                               max_new_tokens=self.cfg.code_len, do_sample=False, early_stopping=True,
                               output_scores=True, return_dict_in_generate=True)
        ids = out.sequences[:, 1:]
        ids = ids.masked_fill(ids == EOS_ID, self.cfg.pad_id)  # decode cuts at the first pad
        return ids, out.sequences_scores

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
