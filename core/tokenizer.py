"""CodeT5's byte-level BPE (BSD-3, see assets/tokenizer/LICENSE.txt), shipped as package data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from tokenizers import ByteLevelBPETokenizer

ASSET_DIR = Path(__file__).parent / "assets" / "tokenizer"
FILES = ("vocab.json", "merges.txt", "LICENSE.txt")
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>", "<mask>")


class CodeTokenizer:
    """Encode prompts and code to fixed-length id rows; decode rows back, cut at the first pad."""

    def __init__(self, directory: str | Path = ASSET_DIR):
        self.directory = Path(directory)
        self._tok = ByteLevelBPETokenizer(
            str(self.directory / "vocab.json"), str(self.directory / "merges.txt")
        )
        # The specials are already in CodeT5's vocabulary (ids 0-4); registering them makes
        # "<mask>" in a text one token instead of five.
        self._tok.add_special_tokens(list(SPECIALS))
        ids = [self._tok.token_to_id(s) for s in SPECIALS]
        self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id = ids
        self.vocab_size = self._tok.get_vocab_size()
        self.mask_token = "<mask>"

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts))]

    def pad_rows(self, rows: Sequence[Sequence[int]], length: int) -> list[list[int]]:
        """Truncate/pad id rows to ``length`` with the pad id."""
        return [list(r[:length]) + [self.pad_id] * max(0, length - len(r)) for r in rows]

    def decode(self, ids: Sequence[int]) -> str:
        """Tokens up to the first pad (the paper's post-processing), specials dropped."""
        ids = list(ids)
        if self.pad_id in ids:
            ids = ids[: ids.index(self.pad_id)]
        return self._tok.decode(ids, skip_special_tokens=True)

    def save(self, directory: str | Path) -> None:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            src = self.directory / name
            if src.exists():
                shutil.copyfile(src, out / name)
