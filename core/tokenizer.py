"""CodeT5's byte-level BPE (BSD-3, see assets/tokenizer/LICENSE.txt), shipped as package data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from tokenizers import AddedToken, ByteLevelBPETokenizer

from core.errors import CFError

if TYPE_CHECKING:
    import torch

ASSET_DIR = Path(__file__).parent / "assets" / "tokenizer"
FILES = ("vocab.json", "merges.txt", "LICENSE.txt")
# A model trained from scratch needs rows only for the tokens its data uses: the ids it keeps,
# in CodeT5 numbering, saved beside the BPE files. Without it the model sees all of CodeT5's ids.
SUBSET_FILE = "subset.json"
# Tokens a model adds after CodeT5's ids (literal slots' placeholders, flag tokens), saved beside
# the BPE files.
ADDED_FILE = "added_tokens.json"
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>", "<mask>")


class CodeTokenizer:
    """Encode prompts and code to id rows in the model's numbering; decode rows back, cut at the
    first pad. With a subset, model id i is CodeT5 id ``subset[i]`` and unknown tokens become
    <unk>; the specials keep ids 0-4 either way. ``added`` tokens (read from the directory when
    not given) take ids after CodeT5's, in their order, and are never split; flags ("-name")
    match only as whole words."""

    def __init__(self, directory: str | Path = ASSET_DIR, subset: Sequence[int] | None = None,
                 added: Sequence[str] | None = None):
        self.directory = Path(directory)
        try:
            self._tok = ByteLevelBPETokenizer(str(self.directory / "vocab.json"), str(self.directory / "merges.txt"))
        except Exception as e:  # tokenizers raises a bare Exception for unreadable files
            raise CFError(f"{self.directory}: unreadable tokenizer files ({e})") from None
        # The specials are already in CodeT5's vocabulary (ids 0-4); registering them makes
        # "<mask>" in a text one token instead of five.
        self._tok.add_special_tokens(list(SPECIALS))
        ids = [self._tok.token_to_id(s) for s in SPECIALS]
        self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id = ids
        if ids != list(range(len(SPECIALS))):
            raise CFError(f"{self.directory}: special tokens are not ids 0-4 (not a CodeT5 tokenizer)")
        if added is None and (self.directory / ADDED_FILE).exists():
            try:
                added = [str(t) for t in json.loads((self.directory / ADDED_FILE).read_text(encoding="utf-8"))]
            except (ValueError, TypeError, UnicodeDecodeError):
                raise CFError(f"{self.directory / ADDED_FILE} is corrupt") from None
        self.added = tuple(added or ())
        if self.added:
            from core.data.flags import is_flag_token

            self._tok.add_tokens([AddedToken(t, single_word=is_flag_token(t)) for t in self.added])
        self.full_vocab_size = self._tok.get_vocab_size()
        self.mask_token = "<mask>"
        if subset is None and (self.directory / SUBSET_FILE).exists():
            try:
                subset = [int(i) for i in json.loads((self.directory / SUBSET_FILE).read_text(encoding="utf-8"))]
            except (ValueError, TypeError, UnicodeDecodeError):
                raise CFError(f"{self.directory / SUBSET_FILE} is corrupt") from None
            if any(not 0 <= i < self.full_vocab_size for i in subset):
                raise CFError(f"{self.directory / SUBSET_FILE} holds ids outside the vocabulary")
        self.subset: list[int] | None = None
        self.vocab_size = self.full_vocab_size
        if subset is not None:
            self.subset = sorted(set(subset) | set(range(len(SPECIALS))))
            self._from_full = [self.unk_id] * self.full_vocab_size
            for i, full in enumerate(self.subset):
                self._from_full[full] = i
            self.vocab_size = len(self.subset)

    def restricted_to(self, texts: Iterable[str]) -> "CodeTokenizer":
        """The same BPE keeping only the tokens that occur in ``texts`` (plus the specials)."""
        used: set[int] = set()
        for row in self._tok.encode_batch(list(texts)):
            used.update(row.ids)
        return CodeTokenizer(self.directory, sorted(used), self.added)

    # Model ids <-> CodeT5 ids (identity without a subset).
    def from_full(self, ids: Sequence[int]) -> list[int]:
        if self.subset is None:
            return list(ids)
        n = len(self._from_full)  # another tokenizer's added ids may lie beyond ours
        return [self._from_full[i] if i < n else self.unk_id for i in ids]

    def to_full(self, ids: Sequence[int]) -> list[int]:
        return list(ids) if self.subset is None else [self.subset[i] for i in ids]

    def encode(self, text: str) -> list[int]:
        return self.from_full(self._tok.encode(text).ids)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.from_full(e.ids) for e in self._tok.encode_batch(list(texts))]

    def pad_rows(self, rows: Sequence[Sequence[int]], length: int) -> list[list[int]]:
        """Truncate/pad id rows to ``length`` with the pad id."""
        return [list(r[:length]) + [self.pad_id] * max(0, length - len(r)) for r in rows]

    def decode(self, ids: Sequence[int]) -> str:
        """Tokens up to the first pad (the paper's post-processing), specials dropped."""
        ids = list(ids)
        if self.pad_id in ids:
            ids = ids[: ids.index(self.pad_id)]
        return self._tok.decode(self.to_full(ids), skip_special_tokens=True)

    def save(self, directory: str | Path) -> None:
        """Each file written atomically (a training run saves its tokenizer with every checkpoint:
        a run killed mid-save must leave the previous files whole for --resume); a file already
        there with the same bytes is left alone."""
        from core.atomic import atomic_write_bytes

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)

        def put(name: str, data: bytes) -> None:
            dst = out / name
            if not (dst.exists() and dst.read_bytes() == data):
                atomic_write_bytes(dst, lambda p: p.write_bytes(data))

        for name in FILES:
            src = self.directory / name
            if src.exists():
                put(name, src.read_bytes())
        for name, value in ((SUBSET_FILE, self.subset), (ADDED_FILE, list(self.added) if self.added else None)):
            if value is not None:
                put(name, (json.dumps(value) + "\n").encode("utf-8"))
            else:
                (out / name).unlink(missing_ok=True)


def pad_prompts(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad to the longest row of the batch (not to prompt_len): attention is masked anyway."""
    import torch  # here: the tokenizer itself is read without torch (the picker, the shell)

    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask
