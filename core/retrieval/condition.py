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


def aligned_example(nl: str, code: str, prompt_slots) -> tuple[str, str, "Literals"]:
    """An example as a literal-slot model reads it at generation: masked like ``masked_example``,
    but a value the prompt also has takes the prompt's placeholder (the example's `"foo.cpp"`
    is the prompt's <str_1> when it is the prompt's second quoted string), so a slot the model
    copies puts back the right value whatever order the two texts name them in. Returns the
    masked nl and code and the example's literals under their new names (for placeholders the
    prompt has no value for)."""
    from core.data.literals import SLOT, Literals, mask_code, mask_prompt

    lits = mask_prompt(nl)
    shared = {(name[1:4], value): name for name, value in prompt_slots}
    rename: dict[str, str] = {}
    for name, value in lits.slots:
        if (name[1:4], value) in shared:
            rename[name] = shared[(name[1:4], value)]
    taken = set(rename.values())
    for name, _ in lits.slots:  # the example's other values keep a placeholder no other value has
        if name not in rename:
            kind, i = name[1:4], int(name[5:-1])
            while f"<{kind}_{i}>" in taken:
                i += 1
            rename[name] = f"<{kind}_{i}>"
            taken.add(rename[name])
    swap = lambda text: SLOT.sub(lambda m: rename.get(m.group(0), m.group(0)), text)  # noqa: E731
    return swap(lits.prompt), swap(mask_code(code, lits)), Literals(swap(lits.prompt),
                                                                  tuple((rename[n], v) for n, v in lits.slots))
