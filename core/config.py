"""Model configuration: one dataclass, saved as JSON in every checkpoint (nanoGPT style)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from core.errors import CFError

LANGS = ("bash", "python", "cf")


@dataclass
class ModelConfig:
    vocab_size: int = 32000
    pad_id: int = 0
    mask_id: int = 4
    # Width of the transformer blocks (denoiser, decoder) and of the from-scratch T5 encoder.
    d_model: int = 256
    # Width of the code embedding L that is diffused; D_s lives in this space too.
    embed_dim: int = 128
    n_heads: int = 4
    d_ff: int = 1024
    encoder_layers: int = 4
    denoiser_layers: int = 6
    decoder_layers: int = 3
    dropout: float = 0.1
    code_len: int = 64
    prompt_len: int = 64
    diffusion_steps: int = 1200
    # A pretrained CodeT5 (hub name or local path) for the encoder; None trains it from scratch.
    encoder_name_or_path: str | None = None
    # The encoder's own transformers config, filled in when the model is built, so a saved
    # checkpoint rebuilds the same encoder without network access.
    encoder_config: dict[str, Any] | None = None
    langs: list[str] = field(default_factory=lambda: ["bash"])
    # "codefusion", or "t5-ar": the autoregressive baseline (core/model/ar.py) of the same size.
    arch: str = "codefusion"
    # Self-conditioning (Chen et al. 2022, "Analog Bits"): the denoiser also reads its own
    # previous x̂0, so later sampling steps refine a guess instead of re-guessing from x_t.
    self_cond: bool = False
    # Literal slots (core/data/literals.py): the prompt's quoted strings and numbers reach the
    # model as placeholders (<str_0>, <num_1>) that it copies, and generation puts the values back.
    literal_slots: bool = False
    # Retrieval (core/retrieval/): each candidate edits one retrieved example. The encoder reads
    # "prompt </s> example's nl </s> example's code", the denoiser's first self-conditioning guess
    # is the example's code embedding, and sampling starts from that embedding noised to
    # retrieval_strength of the schedule (SDEdit), so only the last part of the schedule is run.
    # Training draws t up to retrieval_train_strength, so sampling may start anywhere below it.
    retrieval: bool = False
    retrieval_strength: float = 0.3
    retrieval_train_strength: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise CFError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


# Paper (section 4.2, appendix A/B.3): 512-wide CodeT5 encoder, 10 denoiser and 6 decoder
# layers, code length 128, T=1200; B.3 sets GENIE's embedding to 256 "consistent with
# CodeFusion", which we take as the diffused embedding width.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(d_model=128, embed_dim=64, n_heads=4, d_ff=256, encoder_layers=2,
                 denoiser_layers=2, decoder_layers=2, dropout=0.0, code_len=32, prompt_len=32),
    "small": dict(d_model=256, embed_dim=128, n_heads=4, d_ff=1024, encoder_layers=4,
                  denoiser_layers=6, decoder_layers=3, dropout=0.0, code_len=64, prompt_len=64),
    "paper": dict(d_model=512, embed_dim=256, n_heads=8, d_ff=2048, encoder_layers=6,
                  denoiser_layers=10, decoder_layers=6, dropout=0.1, code_len=128, prompt_len=128),
}


def preset(name: str, **overrides: Any) -> ModelConfig:
    if name not in PRESETS:
        raise CFError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return ModelConfig(**{**PRESETS[name], **overrides})
