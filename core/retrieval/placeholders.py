"""A value the prompt does not give stays a visible placeholder, tldr-style (`path/to/directory`).

A retrieval candidate is an edit of an example, and the example's own values come along: for
"remove directory tree" the model edits "Remove all CVS directories in the current directory
tree" and offers `find . -type d -name CVS -exec rm -r {} \\;`, as if the user had said CVS. A
value is shown as a placeholder when it was the example's: an argument of the candidate that the
example's command has too, that the example's prompt names, and that the user's prompt does not.
Values the example's prompt never named (`.`, `{}`, a default such as `/var/log`) stay, and so do
numbers (a flag's count is usually a default, and `-mtime +N` would no longer run).
"""

from __future__ import annotations

import re

# Argument kinds (core/metrics/bash.py) shown as a placeholder, and what is shown.
PLACEHOLDERS = {"_PATH": "path/to/directory", "_FILE": "path/to/file", "_REGEX": "pattern",
                "_USER": "username", "_GROUP": "group", "_HOST": "host", "_URL": "https://example.com"}


def _named(value: str, text: str) -> bool:
    """Whether ``text`` names ``value``: as a word of its own (case aside; quotes and a sentence's
    full stop around it do not count), or each of its words ("jsp files" names `*jsp`)."""
    text = text.lower()
    if re.search(r"(?<![\w.*/~-])" + re.escape(value.lower()) + r"(?![\w*/-]|\.\w)", text):
        return True
    words = re.findall(r"[^\W_]{2,}", value.lower())
    return bool(words) and all(re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", text) for w in words)


def arguments(code: str) -> list[tuple[str, str]]:
    """(word, kind) for each argument of each command of ``code`` (quotes removed), by the Bash
    metrics' table of utilities; [] when it does not parse."""
    from core.metrics.bash import _UNKNOWN, UTILITIES, _scan, parse_simple_commands

    commands = parse_simple_commands(code)
    out = []
    for command in commands or ():
        spec = UTILITIES.get(command.utility, _UNKNOWN)
        out += [(item.text, item.kind) for item in _scan(command.args, spec, command.utility)
                if item.role in ("value", "operand") and item.kind in PLACEHOLDERS]
    return out


def leftover_placeholders(code: str, prompt: str, example_nl: str, example_code: str) -> str:
    """``code`` (an edit of the example ``example_nl`` -> ``example_code``) with each value that came
    from the example's prompt, and that ``prompt`` does not give, as a placeholder for its kind."""
    from core.metrics.python import MetricUnavailable

    try:
        own = {w for w, _ in arguments(example_code)}
        found = arguments(code)
    except (MetricUnavailable, RecursionError):
        return code
    for word, kind in found:
        if word in own and len(word) > 1 and "$" not in word and _named(word, example_nl) \
                and not _named(word, prompt):  # a shell variable is no value a prompt gives
            code = re.sub(r"(?<![\w./*~-])" + re.escape(word) + r"(?![\w*-]|\.\w)", PLACEHOLDERS[kind], code)
    return code
