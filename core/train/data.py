"""Training batches: tokenised once, drawn in a seeded order that a resumed run replays."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import torch

from core.data.masking import mask_identifiers
from core.tokenizer import CodeTokenizer, pad_prompts


@dataclass
class Batch:
    code_ids: torch.Tensor
    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    # Pre-training rows whose prompt is noise (CodeFusion.forward); None when there are none, which
    # the host knows as it builds the batch (the model need not ask the GPU).
    unconditional: torch.Tensor | None
    example_ids: torch.Tensor | None = None  # retrieval: each row's example's code (B, L)
    edit: torch.Tensor | None = None  # retrieval: rows whose x_t is noised from the example

    def _map(self, fn) -> "Batch":
        return Batch(*(None if t is None else fn(t) for t in
                       (self.code_ids, self.prompt_ids, self.prompt_mask, self.unconditional,
                        self.example_ids, self.edit)))

    def to(self, device) -> "Batch":
        return self._map(lambda t: t.to(device, non_blocking=True))

    def pin_memory(self) -> "Batch":
        """In page-locked memory, so that ``to(cuda)`` copies without making the host wait."""
        return self._map(lambda t: t.pin_memory())

    def model_inputs(self) -> dict:
        extra = {} if self.example_ids is None else {"example_ids": self.example_ids, "edit": self.edit}
        return {"unconditional": self.unconditional, **extra}


class TrainingSet:
    """Fine-tuning pairs (prompt = the utterance) or pre-training snippets (prompt = the masked
    code for CPD rows, Gaussian noise for unconditional-generation rows)."""

    # A retrieval row's x_t is noised from its example with this probability (as sampling
    # starts), else from its target (as later sampling steps see it). Off: with half the rows
    # noised from the example, the denoiser could not tell those rows from the others and
    # stopped keeping what it should keep (held-out Bash template match 46.6 at step 200,
    # against 61.8 at step 10; docs/results.md, "Retrieval").
    EDIT_RATE = 0.0

    def __init__(self, tokenizer: CodeTokenizer, code_len: int, prompt_len: int, codes: list[str],
                 prompts: list[str] | None = None, lang: str | list[str] = "bash", cpd_rate: float = 0.5,
                 examples: list[list[tuple[str, str]]] | None = None):
        """``lang``: the language of every row, or one per row (CPD masks identifiers by it).
        ``examples``: a retrieval model's retrieved (nl, code) examples per row, nearest first;
        each batch reads one of them per row, drawn at random."""
        self.tok, self.code_len, self.prompt_len = tokenizer, code_len, prompt_len
        self.cpd_rate = cpd_rate
        row_langs = [lang] * len(codes) if isinstance(lang, str) else list(lang)
        rows = tokenizer.encode_batch(codes)
        # Code longer than the model's code length could only be learnt truncated: leave it out.
        keep = [i for i, r in enumerate(rows) if 0 < len(r) < code_len]
        self.dropped = len(rows) - len(keep)
        self.codes = [codes[i] for i in keep]
        self.langs = [row_langs[i] for i in keep]
        self.code_ids = torch.tensor(tokenizer.pad_rows([rows[i] for i in keep], code_len), dtype=torch.long)
        self.prompt_rows = None
        if prompts is not None:
            enc = tokenizer.encode_batch([prompts[i] for i in keep])
            self.prompt_rows = [r[:prompt_len] for r in enc]
        self.examples = None
        if examples is not None:
            from core.retrieval.condition import example_input

            flat = [ex for i in keep for ex in examples[i]]
            nl_rows = tokenizer.encode_batch([nl for nl, _ in flat])
            code_rows = [r[: code_len - 1] for r in tokenizer.encode_batch([c for _, c in flat])]
            padded = tokenizer.pad_rows(code_rows, code_len)
            self.examples = []  # per row: [(encoder input ids, example code ids padded)], nearest first
            at = 0
            for pos, i in enumerate(keep):
                n = len(examples[i])
                if n == 0:
                    raise ValueError(f"row {i} has no retrieved example")
                self.examples.append([(example_input(enc[pos], nl_rows[j], code_rows[j], tokenizer.eos_id, prompt_len),
                                       padded[j]) for j in range(at, at + n)])
                at += n

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def pretraining(self) -> bool:
        return self.prompt_rows is None

    def batch(self, indices: list[int], rng: random.Random) -> Batch:
        code = self.code_ids[indices]
        if not self.pretraining and self.examples is not None:
            picked = [self.examples[i][rng.randrange(len(self.examples[i]))] for i in indices]
            ids, mask = pad_prompts([p[0] for p in picked], self.tok.pad_id)
            edit = torch.tensor([rng.random() < self.EDIT_RATE for _ in indices], dtype=torch.bool)
            return Batch(code, ids, mask, None, torch.tensor([p[1] for p in picked], dtype=torch.long), edit)
        if not self.pretraining:
            ids, mask = pad_prompts([self.prompt_rows[i] for i in indices], self.tok.pad_id)
            return Batch(code, ids, mask, None)
        # Pre-training: each row is CPD with probability cpd_rate, else unconditional generation.
        cpd = [rng.random() < self.cpd_rate for _ in indices]
        texts = [mask_identifiers(self.codes[i], self.langs[i], rng) if c else "" for i, c in zip(indices, cpd)]
        rows = [r[: self.prompt_len] for r in self.tok.encode_batch(texts)]
        ids, mask = pad_prompts(rows, self.tok.pad_id)
        return Batch(code, ids, mask, torch.tensor([not c for c in cpd], dtype=torch.bool) if not all(cpd) else None)


@functools.lru_cache(maxsize=2)
def epoch_order(n: int, epoch: int, seed: int) -> tuple[int, ...]:
    g = torch.Generator().manual_seed(seed * 7919 + epoch)
    return tuple(torch.randperm(n, generator=g).tolist())


def global_indices(n: int, start: int, count: int, seed: int) -> list[int]:
    """Items ``start .. start+count`` of the endless stream epoch 0, epoch 1, … (each shuffled)."""
    out, pos = [], start
    while len(out) < count:
        epoch, offset = divmod(pos, n)
        order = epoch_order(n, epoch, seed)
        take = order[offset: offset + count - len(out)]
        out += list(take)
        pos += len(take)
    return out
