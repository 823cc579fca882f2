"""Literal slots: the prompt's quoted strings and numbers become numbered placeholders.

A model trained from scratch on a few thousand pairs has to learn to spell every value it copies
from a prompt, token by token, through the denoiser ("greater than 85" -> ``GreaterThan(25)``).
With slots it learns to copy a placeholder instead: "greater than num_0" -> ``GreaterThan(num_0)``,
and the value is put back after sampling. This is CoNaLa's canonicalisation of intents (Yin et
al. 2018, also used by TranX): quoted strings (``'…'``, ``"…"``, backquoted) and, as CF rules
need, numbers. A model trained with slots (``ModelConfig.literal_slots``) gets them at
generation too (core/generate.py); training masks the code as well (core/train/trainer.py).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

# A quote opens after a non-word character and closes before one, so the apostrophes of
# "it's" and "don't" are not taken for quotes.
QUOTED = re.compile(r"`([^`\n]+)`|(?<!\w)\"([^\"\n]+)\"(?!\w)|(?<!\w)'([^'\n]+)'(?!\w)")
# A number on its own: not part of a word or of a dotted version, and a sentence's full stop
# after it is not a decimal point.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")
# Generated placeholders are read without a right boundary: a value that ends in punctuation
# ("/home/") leaves its placeholder glued to the next word ("str_0copy").
SLOT = re.compile(r"(?<![A-Za-z])(str|num)_(\d+)")


@dataclass(frozen=True)
class Literals:
    prompt: str  # the prompt with placeholders
    values: tuple[str, ...]  # values[i] is what placeholder i (str_i or num_i) stands for
    kinds: tuple[str, ...]  # "str" or "num", per placeholder

    def name(self, i: int) -> str:
        return f"{self.kinds[i]}_{i}"


def mask_prompt(prompt: str) -> Literals:
    """Quoted strings (without their quotes), then numbers outside them, numbered left to
    right within each kind's pass. A quoted string without a letter or digit (' ', '.', ':')
    stays as it is: in code it would take every full stop or colon."""
    values: list[str] = []
    kinds: list[str] = []

    def slot(kind: str, value: str) -> str:
        values.append(value)
        kinds.append(kind)
        return f"{kind}_{len(values) - 1}"

    def quoted(m: re.Match) -> str:
        value = next(g for g in m.groups() if g is not None).strip()
        return slot("str", value) if re.search(r"[^\W_]", value) else m.group(0)

    masked = QUOTED.sub(quoted, prompt)
    masked = NUMBER.sub(lambda m: slot("num", m.group(0)), masked)
    return Literals(masked, tuple(values), tuple(kinds))


def _pattern(value: str, kind: str) -> re.Pattern:
    """Where ``value`` stands on its own in code: not inside a longer word (or number)."""
    # Never right after a letter either, where unmask could not read the placeholder back.
    before = r"(?<![\w.])" if kind == "num" else (r"(?<!\w)" if re.match(r"\w", value) else r"(?<![A-Za-z])")
    after = r"(?!\w|\.\d)" if kind == "num" else (r"(?!\w)" if re.search(r"\w$", value) else "")
    return re.compile(before + re.escape(value) + after)


def mask_code(code: str, lits: Literals) -> str:
    """The training target: every occurrence of a slot's value in the code becomes its
    placeholder, longest values first (so "ab" does not take the start of "abc")."""
    order = sorted(range(len(lits.values)), key=lambda i: -len(lits.values[i]))
    for i in order:
        code = _pattern(lits.values[i], lits.kinds[i]).sub(lits.name(i).replace("\\", r"\\"), code)
    return code


def mask_pair(pair):
    """A training pair (core.data.Pair) as a slot model reads and writes it."""
    lits = mask_prompt(pair.nl)
    return dataclasses.replace(pair, nl=lits.prompt, code=mask_code(pair.code, lits))


def unmask(code: str, lits: Literals) -> str:
    """Generated code with its placeholders replaced by the prompt's values; a placeholder the
    prompt has no value for is left as it is (the user sees it)."""
    if not lits.values:
        return code

    def value(m: re.Match) -> str:
        i = int(m.group(2))
        return lits.values[i] if i < len(lits.values) and lits.kinds[i] == m.group(1) else m.group(0)

    return SLOT.sub(value, code)
