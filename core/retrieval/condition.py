"""What a retrieval model reads: the prompt, then one retrieved example's nl and code.

Training (core/train/data.py) and generation (core/generate.py) both build the encoder's input
here, so the two can never drift apart.
"""

from __future__ import annotations

from typing import Sequence

# The examples a retrieval model is trained with and generates from: candidate i edits example i.
NEIGHBOURS = 5


def example_input(prompt_ids: Sequence[int], nl_ids: Sequence[int], code_ids: Sequence[int], sep_id: int,
                  prompt_len: int) -> list[int]:
    """``prompt </s> nl </s> code``, cut to ``prompt_len`` tokens; the prompt comes first and
    keeps at most half of them, so a long prompt never pushes the example out."""
    head = list(prompt_ids[: prompt_len // 2])
    return (head + [sep_id, *nl_ids, sep_id, *code_ids])[:prompt_len]


def masked_example(nl: str, code: str, literal_slots: bool) -> tuple[str, str]:
    """An example as a literal-slot model reads it: its own quoted strings and numbers become
    placeholders in its nl and code, as the prompt's do (the model learns to carry the slot)."""
    if not literal_slots:
        return nl, code
    from core.data.literals import mask_code, mask_prompt

    lits = mask_prompt(nl)
    return lits.prompt, mask_code(code, lits)
