"""A Python pre-training corpus from the standard library's own sources.

The paper's 56K Python snippets were never published. CoNaLa's code is mostly one logical
line (an expression, an assignment, an import), so we collect the single-line simple
statements of this interpreter's standard library, deduplicated, one per line.
"""

from __future__ import annotations

import ast
import random
import sysconfig
import warnings
from pathlib import Path

SIMPLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Import,
          ast.ImportFrom, ast.Raise, ast.Assert, ast.Delete)


def stdlib_snippets(root: str | Path | None = None, min_chars: int = 10, max_chars: int = 160) -> list[str]:
    root = Path(root or sysconfig.get_paths()["stdlib"])
    seen: dict[str, None] = {}
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            source = path.read_text(encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue  # the library ships deliberately broken test files
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, SIMPLE) or node.lineno != node.end_lineno:
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # docstrings and bare constants
            text = lines[node.lineno - 1][node.col_offset:node.end_col_offset].strip()
            if min_chars <= len(text) <= max_chars:
                seen.setdefault(text)
    return list(seen)


def build_python_corpus(out: str | Path, max_snippets: int = 60000, seed: int = 0) -> int:
    """Write up to ``max_snippets`` (a seeded sample; the paper used 56K) atomically to ``out``."""
    snippets = stdlib_snippets()
    if len(snippets) > max_snippets:
        snippets = random.Random(seed).sample(snippets, max_snippets)
    from core.atomic import atomic_write_bytes

    atomic_write_bytes(Path(out), lambda p: p.write_text("".join(s + "\n" for s in snippets), encoding="utf-8"))
    return len(snippets)
