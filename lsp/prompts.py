"""Find the comment prompt at a position: pure functions over the lines of a document.

A prompt is a run of whole-line ``#`` comments (at most ``MAX_PROMPT_LINES``, same indentation)
whose text reads as an instruction: not a shebang or a tool directive (``# type:``, ``# noqa``,
an encoding line, …), and not commented-out code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Callable, Sequence

# languageId (what the editor says) -> the model's language name (core's ``langs``).
LANGUAGE_IDS = {"python": "python", "shellscript": "bash", "sh": "bash", "bash": "bash", "zsh": "bash"}

MAX_PROMPT_LINES = 4  # a longer comment block is documentation, not a prompt
MAX_PROMPT_CHARS = 1000  # the model reads at most a few dozen tokens anyway

# LSP knows only these three line breaks (str.splitlines also splits on \x0c, \u2028, …,
# which would shift every line number after a form feed in a Python file).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Comments that talk to tools, not to people.
_DIRECTIVE = re.compile(
    r"""^(
        !                                            # shebang
      | .*\bcoding[:=]                               # PEP 263 encoding line
      | \s*-\*-.*-\*-                                # emacs file variables
      | \s*(vim?|ex):                                # vim modelines
      | \s*(type|pylint|mypy|pyright|ruff|fmt|isort|pragma|flake8|yapf|black)\s*:
      | \s*(noqa|nosec)\b
      | \s*shellcheck\b
      | \s*%%                                        # notebook cell marker
      | \s*(end)?region\b
      | \s*SPDX-License-Identifier
    )""",
    re.IGNORECASE | re.VERBOSE,
)

_PY_STATEMENT_WORDS = {
    "import", "from", "return", "def", "class", "if", "elif", "else", "for", "while", "with", "try",
    "except", "finally", "raise", "del", "assert", "global", "nonlocal", "pass", "break", "continue",
    "async", "await", "yield", "print", "lambda",
}
_PY_CODE_PUNCTUATION = set("=()[]{}.:,'\"@")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’")
# Outside quotes, these only show up in shell code: pipes, redirections, $VAR and $(…),
# backticks, options (-rf, --force), assignments (VAR=x) and trailing backslashes.
_SHELL_CODE = re.compile(r"[|<>`]|&&|\$[\w({]|(^|\s)--?[A-Za-z]|^\w+=|\\$")


@dataclass(frozen=True)
class CommentPrompt:
    text: str  # the instruction, '#'s stripped, lines joined by spaces
    first_line: int
    last_line: int
    indent: str  # the comment's indentation, reused for the inserted code


def language_for(language_id: str | None) -> str | None:
    return LANGUAGE_IDS.get((language_id or "").lower())


def split_lines(source: str) -> list[str]:
    return _LINE_BREAK.split(source)


def line_ending(source: str) -> str:
    """The document's first line break (what inserted lines should end with)."""
    found = _LINE_BREAK.search(source)
    return found.group() if found else "\n"


def comment_body(line: str) -> str | None:
    """The text after the ``#`` of a whole-line comment (None for any other line)."""
    stripped = line.lstrip()
    if not stripped.startswith("#"):
        return None
    return stripped[1:]


def is_directive(body: str) -> bool:
    return bool(_DIRECTIVE.match(body))


def looks_like_code(text: str, lang: str) -> bool:
    """Commented-out code rather than an instruction (a heuristic; prose rarely trips it)."""
    if lang == "python":
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            return False
        # English sometimes parses too ("not found" is a unary op): require code punctuation
        # or a statement keyword before calling it code.
        first = text.split(maxsplit=1)[0] if text.split() else ""
        return bool(_PY_CODE_PUNCTUATION & set(text)) or first in _PY_STATEMENT_WORDS
    # Shell: nearly any words parse as a command, so look for what only code has.
    # Prose quotes literals ("remove 'a.txt'"), so quoted parts are ignored.
    unquoted = _QUOTED.sub(" ", text).strip()
    return bool(_SHELL_CODE.search(unquoted))


def reads_as_instruction(text: str, lang: str) -> bool:
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    return len(words) >= 2 and len(text) <= MAX_PROMPT_CHARS and not looks_like_code(text, lang)


def _prompt_line(line: str, lang: str) -> tuple[str, str] | None:
    """(indent, text) when this line could belong to a prompt."""
    body = comment_body(line)
    if body is None or is_directive(body):
        return None
    text = body.lstrip("#").strip()
    if not text or len(text) > MAX_PROMPT_CHARS or not re.search(r"[A-Za-z]", text) or looks_like_code(text, lang):
        return None
    return line[: len(line) - len(line.lstrip())], text


def prompt_at(lines: Sequence[str], line: int, lang: str) -> CommentPrompt | None:
    """The prompt whose comment block contains ``line`` (None when there is none)."""
    if not 0 <= line < len(lines):
        return None
    here = _prompt_line(lines[line], lang)
    if here is None:
        return None
    indent = here[0]

    def same_block(i: int) -> bool:
        part = _prompt_line(lines[i], lang) if 0 <= i < len(lines) else None
        return part is not None and part[0] == indent

    first = last = line
    while same_block(first - 1) and last - first < MAX_PROMPT_LINES:
        first -= 1
    while same_block(last + 1) and last - first < MAX_PROMPT_LINES:
        last += 1
    if last - first + 1 > MAX_PROMPT_LINES:
        return None
    text = " ".join(_prompt_line(lines[i], lang)[1] for i in range(first, last + 1))  # type: ignore[index]
    if not reads_as_instruction(text, lang):
        return None
    return CommentPrompt(text, first, last, indent)


def prompt_ending_at(lines: Sequence[str], line: int, lang: str) -> CommentPrompt | None:
    """The prompt whose last comment line is ``line`` (for completion on the line below it)."""
    prompt = prompt_at(lines, line, lang)
    return prompt if prompt is not None and prompt.last_line == line else None


def prompt_near(lines: Sequence[str], line: int, lang: str) -> CommentPrompt | None:
    """The prompt on ``line`` or, from the blank line just below a prompt, that prompt (where the
    cursor lands after typing the comment and pressing Enter)."""
    found = prompt_at(lines, line, lang)
    if found is None and 0 < line < len(lines) and not lines[line].strip():
        found = prompt_ending_at(lines, line - 1, lang)
    return found


def index_at_column(line: str, column: int, width: Callable[[str], int]) -> int:
    """The index into ``line`` of an LSP column counted in the client's units (clamped)."""
    if column <= 0:
        return 0
    if line.isascii():  # one unit per character in every encoding: no walk through a long line
        return min(column, len(line))
    units = 0
    for i, ch in enumerate(line):
        if units >= column:
            return i
        units += width(ch)
    return len(line)
