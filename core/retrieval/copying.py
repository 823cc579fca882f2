"""Words of an example the model cannot write, carried as slots and put back as they stand.

The shipped model's vocabulary holds only the 10,145 ids its train splits use: any other token
(` staging`, `ß`) reads and writes as <unk>, so a user's `shipit deploy --env staging` came back
`duit deploy --env ch`. Retraining on the full vocabulary is hours on 2 cores; the model already
carries an example's placeholders it has no value for (literal slots, core/data/literals.py), so a
word holding such a token becomes one of those placeholders in the example it edits, and its
value is put back after sampling, as the example's own quoted strings are. The same slots carry a
user row's values swapped for the prompt's (core/retrieval/own.py, ``value_swaps``).
"""

from __future__ import annotations

import re
from typing import Sequence

from core.data.literals import SLOT, SLOT_TOKENS, Literals

# What ends a copied word: spaces, quotes, shell operators, `=` and `:` (`--env=ß`, `host:path`),
# and a placeholder's angle brackets.
_DELIMS = set(" \t\n'\"`=:,;|&()<>$")


def _free_names(taken: set[str]) -> list[str]:
    return [n for n in SLOT_TOKENS if n not in taken]


def unwritable_spans(code: str, tok) -> list[tuple[int, int]]:
    """(start, end) of each word of ``code`` holding a token ``tok``'s model has no id for."""
    if tok.subset is None:
        return []
    enc = tok._tok.encode(code)
    spans: list[tuple[int, int]] = []
    for i, (a, b) in zip(tok.from_full(enc.ids), enc.offsets):
        if i != tok.unk_id or a == b:
            continue
        while a < b and code[a] in " \t\n":  # a byte-level token's leading space
            a += 1
        if a == b:
            continue
        while a > 0 and code[a - 1] not in _DELIMS:
            a -= 1
        while b < len(code) and code[b] not in _DELIMS:
            b += 1
        if a < b and not SLOT.search(code[a:b]):
            if spans and a <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
            else:
                spans.append((a, b))
    return spans


def copy_slots(code: str, example: Literals, taken: set[str], tok,
               swaps: Sequence[tuple[str, str]] = ()) -> tuple[str, Literals]:
    """An example's (masked) code with each word the model cannot write, and each ``swaps`` word,
    in a free placeholder; and the example's literals with their values: the word itself, or the
    prompt's word it is swapped for. An example literal holding a swapped value takes the new one.
    With no placeholder left free, a word stays as it is."""
    slots = dict(example.slots)
    for name, value in list(slots.items()):
        for old, new in swaps:
            if value == old:
                slots[name] = new
    free = _free_names(taken | set(slots))
    for old, new in swaps:
        pattern = re.compile(r"(?<![\w.-])" + re.escape(old) + r"(?![\w-])")
        if free and pattern.search(code):
            name = free.pop(0)
            code = pattern.sub(name, code)
            slots[name] = new
    for a, b in reversed(unwritable_spans(code, tok)):
        if not free:
            break
        name = free.pop(0)
        slots[name] = code[a:b]
        code = code[:a] + name + code[b:]
    return code, Literals(example.prompt, tuple(slots.items()))
