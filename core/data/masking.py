"""Code CPD (paper section 3.2): mask only identifiers and the language's keywords/built-ins.

Python uses the ``tokenize`` module (NAME tokens: identifiers and keywords, not strings or
comments); Bash words (commands, flag names, variables, shell keywords) and CF rule names
(functions, column references) are found with one regular expression.
"""

from __future__ import annotations

import io
import random
import re
import tokenize

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def identifier_spans(code: str, lang: str) -> list[tuple[int, int]]:
    if lang == "python":
        try:
            line_starts = [0]
            for line in code.splitlines(keepends=True):
                line_starts.append(line_starts[-1] + len(line))
            spans = []
            for tok in tokenize.generate_tokens(io.StringIO(code).readline):
                if tok.type == tokenize.NAME:
                    (r1, c1), (r2, c2) = tok.start, tok.end
                    spans.append((line_starts[r1 - 1] + c1, line_starts[r2 - 1] + c2))
            return spans
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass  # a fragment tokenize cannot finish: fall back to words
    return [m.span() for m in WORD.finditer(code)]


def mask_identifiers(code: str, lang: str, rng: random.Random, rate: float = 0.5,
                     mask_token: str = "<mask>") -> str:
    """Replace each identifier/keyword with ``mask_token`` with probability ``rate`` (at least
    one when there is any), leaving every other character in place."""
    spans = identifier_spans(code, lang)
    if not spans:
        return code
    chosen = [s for s in spans if rng.random() < rate] or [rng.choice(spans)]
    out, last = [], 0
    for a, b in chosen:
        out += [code[last:a], mask_token]
        last = b
    out.append(code[last:])
    return "".join(out)
