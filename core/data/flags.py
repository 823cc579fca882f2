"""Command-line flags as whole tokens (`cf train --flag-tokens`).

CodeT5's BPE splits " -name" into " -" and "name". The denoiser predicts every position at once,
and where it cannot tell which flag comes next it settles on the piece all flags share: most
Bash candidates of the models trained here were skeletons such as ``find . - - - -``
(docs/results.md). With the train split's frequent flags added to the tokenizer as single tokens
("-name", "-type", "--color"), a flag cannot be started without being named.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

FLAG = re.compile(r"(?<!\S)--?[A-Za-z][\w-]*")


def is_flag_token(token: str) -> bool:
    """Added tokens that are flags match only as whole words ("-name", not the "-name" of "-names")."""
    return FLAG.fullmatch(token) is not None


def frequent_flags(codes: Iterable[str], min_count: int = 5) -> list[str]:
    """The flags written at least ``min_count`` times in ``codes``, most frequent first (ties in
    alphabetical order, so the same data always gives the same token ids)."""
    counts = Counter(f for code in codes for f in FLAG.findall(code))
    return [f for f, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
