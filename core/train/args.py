"""What `cf train` asks of a run: one dataclass, its defaults written once (the command's options
take theirs from it) and saved in every training state. Torch-free, so the CLI reads it cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainArgs:
    lang: str = "bash"
    preset: str = "small"
    stage: str = "finetune"
    out: str = "runs/model"
    max_steps: int | None = None
    resume: bool = False
    device: str = "auto"
    batch_size: int = 64
    grad_accum: int = 1
    lr: float = 5e-4
    warmup: int = 500
    min_lr_ratio: float = 0.1
    clip: float = 1.0
    save_every: int = 200
    log_every: int = 10
    seed: int = 0
    data: str | None = None
    train_file: str | None = None
    limit: int | None = None
    encoder: str | None = None
    progress: bool = True
    precision: str = "auto"
    # "data": embeddings and head only for the tokens the training data uses (smaller, faster);
    # "full": all of CodeT5's ids; "auto": data, or full with a pretrained --encoder.
    vocab: str = "auto"
    # Start from another model's weights (rows matched by token, so vocabularies may differ).
    init_from: str | None = None
    arch: str = "codefusion"  # or "t5-ar", the autoregressive baseline
    # Share of pre-training rows that are CPD (the rest: unconditional generation). The paper's
    # Table 4 ablations: 1.0 is "M - Code Generation", 0.0 is "M - CPD Objective".
    cpd_rate: float = 0.5
    # Self-conditioning (ModelConfig.self_cond); a resumed run keeps what it was started with.
    self_cond: bool = False
    # Literal slots (ModelConfig.literal_slots); a resumed run keeps what it was started with.
    literal_slots: bool = False
    # The Bash train split's frequent flags as whole tokens (core/data/flags.py); kept in the
    # run's tokenizer, so a resumed run keeps them.
    flag_tokens: bool = False
    # Prompts of each language kept out of fine-tuning (with all their pairs) and sampled at every
    # save (core/train/validate.py).
    holdout: int = 0
    # End this invocation after this step of the stage, saved and resumable; the learning-rate
    # schedule still runs to max_steps (a checkpoint partway through a longer schedule).
    stop_at: int | None = None
    # Retrieval (ModelConfig.retrieval): every pair reads one of its nearest examples from the
    # example store ``store`` (default: the shipped one), its own prompt's rows left out.
    retrieval: bool = False
    store: str | None = None
    # Where fine-tuning pairs come from, comma-separated: "train" (the benchmark's train split) and
    # "tldr" (Bash: the store's tldr-pages rows, less the held-out pages and the development mix).
    sources: str = "train"
    overrides: dict[str, Any] = field(default_factory=dict)
