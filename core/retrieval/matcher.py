"""A learned request -> tool matcher: which tool a prompt asks for, even when it shares no word
with any example of that tool ("show listening sockets" -> `ss`).

A fastText-style classifier (Joulin et al. 2017): the prompt's words, word pairs and character
3-5-grams hashed into buckets, their embeddings averaged, a softmax over the tools. It learns from
every Bash description -> command pair the store is built from (the train split, tldr-pages'
examples) and from tldr's page descriptions (core/retrieval/build.py ``matcher_pairs`` says what it
leaves out). Words shared with no example still reach a tool through its page's description and
through the character n-grams.

The weights travel inside the example store (a safetensors blob, core/retrieval/store.py), so a
store and the matcher learned from its rows never part; ``cf examples build`` trains it (about a
minute on two cores).
"""

from __future__ import annotations

import random
import re
import subprocess
import zlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

BUCKETS = 1 << 16
DIM = 64
EPOCHS = 15
LR = 0.01
SMOOTHING = 0.1  # keeps the log-probabilities the ranking reads from saturating
BLOB = "tool-matcher"
_WORD = re.compile(r"[a-z0-9][a-z0-9._+-]*")


def hashed(text: str, buckets: int = BUCKETS) -> list[int]:
    """The buckets of a text's words, word pairs and the words' character 3-5-grams."""
    words = _WORD.findall(text.lower())
    grams = [f"w:{w}" for w in words] + [f"b:{a} {b}" for a, b in zip(words, words[1:])]
    for w in words:
        padded = f"<{w}>"
        grams += [padded[i:i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
    return [zlib.crc32(g.encode()) % buckets for g in grams] or [0]


@dataclass
class ToolMatcher:
    tools: list[str]
    embedding: torch.Tensor  # (BUCKETS, DIM)
    output: torch.Tensor  # (len(tools), DIM)
    bias: torch.Tensor  # (len(tools),)

    def __post_init__(self) -> None:
        # Stored in fp16; computed in fp32 (converted once: a conversion per prompt cost 10 ms).
        self.embedding, self.output, self.bias = self.embedding.float(), self.output.float(), self.bias.float()

    def log_probs(self, prompts: Sequence[str]) -> torch.Tensor:
        """(len(prompts), len(tools)) log-probabilities."""
        ids = [torch.tensor(hashed(p, len(self.embedding))) for p in prompts]
        offsets = torch.tensor([0] + [len(i) for i in ids[:-1]]).cumsum(0)
        pooled = torch.nn.functional.embedding_bag(torch.cat(ids), self.embedding, offsets, mode="mean")
        return torch.log_softmax(pooled @ self.output.T + self.bias, dim=-1)

    def scores(self, prompt: str, top: int = 0) -> dict[str, float]:
        """tool -> log-probability for the prompt, best first (ties in the tools' order); ``top``:
        only the best ``top``."""
        values, idx = self.log_probs([prompt])[0].sort(descending=True, stable=True)
        if top:
            values, idx = values[:top], idx[:top]
        return {self.tools[i]: v for i, v in zip(idx.tolist(), values.tolist())}

    def to_bytes(self) -> bytes:
        from safetensors.torch import save

        return save({"embedding": self.embedding.half().contiguous(), "output": self.output.half().contiguous(),
                     "bias": self.bias.float().contiguous()}, metadata={"tools": "\n".join(self.tools)})

    @classmethod
    def from_bytes(cls, blob: bytes) -> "ToolMatcher":
        import json

        from safetensors.torch import load

        tensors = load(blob)
        # safetensors keeps the metadata in the header: 8 bytes of length, then JSON.
        n = int.from_bytes(blob[:8], "little")
        tools = json.loads(blob[8:8 + n])["__metadata__"]["tools"].split("\n")
        return cls(tools, tensors["embedding"], tensors["output"], tensors["bias"])


def train_matcher(pairs: Iterable[tuple], epochs: int = EPOCHS, seed: int = 0, log=None) -> ToolMatcher:
    """Learn from (text, tool) or (text, tool, weight) rows (core.retrieval.build.matcher_pairs:
    a text that tells of several tools is one row of each, their weights summing to 1)."""
    rows = [(t, tool, w[0] if w else 1.0) for t, tool, *w in pairs if t.strip() and tool]
    pairs = [(t, tool) for t, tool, _ in rows]
    weights = torch.tensor([w for _, _, w in rows])
    tools = sorted({tool for _, tool in pairs})
    index = {t: i for i, t in enumerate(tools)}
    gen = torch.Generator().manual_seed(seed)
    emb = torch.nn.EmbeddingBag(BUCKETS, DIM, mode="mean", sparse=True)
    torch.nn.init.uniform_(emb.weight, -1 / DIM, 1 / DIM, generator=gen)
    out = torch.nn.Linear(DIM, len(tools))
    torch.nn.init.zeros_(out.weight)
    torch.nn.init.zeros_(out.bias)
    opt_sparse = torch.optim.SparseAdam(list(emb.parameters()), lr=LR)
    opt = torch.optim.Adam(list(out.parameters()), lr=LR)
    feats = [torch.tensor(hashed(t, BUCKETS)) for t, _ in pairs]
    labels = torch.tensor([index[tool] for _, tool in pairs])
    order = list(range(len(pairs)))
    rng = random.Random(seed)
    batch = 128
    for epoch in range(epochs):
        rng.shuffle(order)
        total = 0.0
        for s in range(0, len(order), batch):
            chunk = order[s:s + batch]
            ids = [feats[i] for i in chunk]
            offsets = torch.tensor([0] + [len(i) for i in ids[:-1]]).cumsum(0)
            logits = out(emb(torch.cat(ids), offsets))
            losses = torch.nn.functional.cross_entropy(logits, labels[chunk], label_smoothing=SMOOTHING,
                                                       reduction="none")
            loss = (losses * weights[chunk]).sum() / weights[chunk].sum()
            opt.zero_grad()
            opt_sparse.zero_grad()
            loss.backward()
            opt.step()
            opt_sparse.step()
            total += loss.item() * len(chunk)
        if log:
            log(f"tool matcher: epoch {epoch + 1}/{epochs}, loss {total / len(pairs):.3f}")
    return ToolMatcher(tools, emb.weight.detach().clone(), out.weight.detach().clone(), out.bias.detach().clone())


def man_lines(sections: str = "1,8") -> list[tuple[str, str]]:
    """(tool, description) of each installed man page's NAME line (``apropos``), or [] where
    man-db is missing."""
    try:
        text = subprocess.run(["apropos", "-l", "-s", sections, "."], capture_output=True, text=True,
                              timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    out = []
    for line in text.splitlines():
        head, sep, desc = line.partition(" - ")
        name = head.split(" (")[0].strip()
        if sep and name and desc.strip() and " " not in name:
            out.append((name, desc.strip()))
    return out
