"""The development mix: what ranking weights are chosen on, never a test split, and what the
shipped tool matcher (core/retrieval/matcher.py) never learns from, so that the weights are
chosen for the matcher users get.

Each part is chosen by a hash, so it never changes with a file's order or version:
- NL2Bash train prompts whose SHA-256 falls in 6% (``dev_prompt``), about 500 prompts;
- the tldr-pages development pages (core/data/tldr.py ``dev_page``: the 10% after the held-out
  pages' hash bucket): tools known only from their docs, as on the held-out pages;
- 2% of the other pages' examples (``dev_example``), their pages' other examples kept: tools the
  store has examples of;
- the everyday file's even-numbered prompts (benchmarks/everyday.jsonl; the odd ones are checks)
  and the everyday development file (benchmarks/everyday-dev.jsonl: 100 Bash and 73 Python prompts
  of the same kind for other tasks than the checks', never reported as a benchmark).
"""

from __future__ import annotations

import hashlib
import re

DEV_PROMPT_PERCENT = 6
DEV_EXAMPLE_PERCENT = 2


def _bucket(text: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{text}".encode("utf-8")).digest()[:8], "big") % 100


def dev_prompt(nl: str) -> bool:
    """An NL2Bash train prompt of the development mix (case and spacing aside)."""
    return _bucket(re.sub(r"\s+", " ", nl.strip().lower()), "nl2bash") < DEV_PROMPT_PERCENT


def dev_example(ref: str) -> bool:
    """A tldr example (its ref, ``tldr:common/tar#3``) of the development mix: one of the dev pages'
    or of the 2% of the other pages' examples; never a held-out page's."""
    from core.data.tldr import dev_page, held_out

    if held_out(ref):
        return False
    return dev_page(ref) or _bucket(ref, "tldr") < DEV_EXAMPLE_PERCENT


def dev_everyday(item_id: str) -> bool:
    """An everyday prompt of the development half (even ids: bash-002, python-004, ...)."""
    tail = item_id.rsplit("-", 1)[-1]
    return tail.isdigit() and int(tail) % 2 == 0
