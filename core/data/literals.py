"""Literal slots: the prompt's quoted strings and numbers become numbered placeholders.

A model trained from scratch on a few thousand pairs has to learn to spell every value it copies
from a prompt, token by token, through the denoiser ("greater than 85" -> ``GreaterThan(25)``).
With slots it learns to copy a placeholder instead: "greater than <num_0>" ->
``GreaterThan(<num_0>)``, and the value is put back after sampling. This is CoNaLa's
canonicalisation of intents (Yin et al. 2018, also used by TranX): quoted strings (``'…'``,
``"…"``, backquoted) and, as CF rules need, numbers.

Each placeholder is one token (SLOT_TOKENS, added to the tokenizer of a slot model): spelt in
several BPE pieces ("str", "_", "0"), the denoiser, which predicts every position at once, mixed
the pieces up. A model trained with slots (``ModelConfig.literal_slots``) gets them at
generation too (core/generate.py); training masks the code as well (core/train/trainer.py).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

KINDS = ("str", "num")
# Placeholders per kind; a prompt's further values stay as they are (more than 8 quoted strings:
# 3 of the 16,274 published prompts; more than 8 numbers: 1).
PER_KIND = 8
SLOT_TOKENS = tuple(f"<{kind}_{i}>" for kind in KINDS for i in range(PER_KIND))
SLOT = re.compile(r"<(?:str|num)_\d+>")
# A quote opens after a non-word character and closes before one, so the apostrophes of
# "it's" and "don't" are not taken for quotes.
QUOTED = re.compile(r"`([^`\n]+)`|(?<!\w)\"([^\"\n]+)\"(?!\w)|(?<!\w)'([^'\n]+)'(?!\w)")
# A number on its own: not part of a word or of a dotted version, and a sentence's full stop
# after it is not a decimal point.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")


@dataclass(frozen=True)
class Literals:
    prompt: str  # the prompt with placeholders
    slots: tuple[tuple[str, str], ...] = ()  # (placeholder, value), in the prompt's order per kind


def mask_prompt(prompt: str) -> Literals:
    """Quoted strings (without their quotes), then numbers outside them. A quoted string without
    a letter or digit (' ', '.', ':') stays as it is: in code it would take every full stop."""
    slots: list[tuple[str, str]] = []
    count = dict.fromkeys(KINDS, 0)

    def slot(kind: str, value: str, text: str) -> str:
        if count[kind] == PER_KIND:
            return text
        name = f"<{kind}_{count[kind]}>"
        count[kind] += 1
        slots.append((name, value))
        return name

    def quoted(m: re.Match) -> str:
        value = next(g for g in m.groups() if g is not None).strip()
        return slot("str", value, m.group(0)) if re.search(r"[^\W_]", value) else m.group(0)

    masked = QUOTED.sub(quoted, prompt)
    masked = NUMBER.sub(lambda m: slot("num", m.group(0), m.group(0)), masked)
    return Literals(masked, tuple(slots))


def _pattern(name: str, value: str) -> re.Pattern:
    """Where ``value`` stands on its own in code: not inside a longer word (or number)."""
    if name.startswith("<num"):
        return re.compile(r"(?<![\w.])" + re.escape(value) + r"(?!\w|\.\d)")
    before = r"(?<!\w)" if re.match(r"\w", value) else ""
    after = r"(?!\w)" if re.search(r"\w$", value) else ""
    return re.compile(before + re.escape(value) + after)


def mask_code(code: str, lits: Literals) -> str:
    """The training target: every occurrence of a slot's value in the code becomes its
    placeholder, longest values first (so "ab" does not take the start of "abc")."""
    for name, value in sorted(lits.slots, key=lambda s: -len(s[1])):
        code = _pattern(name, value).sub(name, code)  # a placeholder holds no backslash
    return code


def mask_pair(pair):
    """A training pair (core.data.Pair) as a slot model reads and writes it."""
    lits = mask_prompt(pair.nl)
    return dataclasses.replace(pair, nl=lits.prompt, code=mask_code(pair.code, lits))


def unmask(code: str, lits: Literals) -> str:
    """Generated code with its placeholders replaced by the prompt's values; a placeholder the
    prompt has no value for is left as it is (the user sees it)."""
    values = dict(lits.slots)
    return SLOT.sub(lambda m: values.get(m.group(0), m.group(0)), code) if values else code
