"""The `cf` console script: where a command line goes, and how the process ends.

A bare prompt (`cf "PROMPT"`, and the shell key's `cf ask -- PROMPT`) goes straight to the
picker: typer checks every option through pydantic, which took ~70 ms of a first frame whose
goal is 300 ms, and a bare prompt has no option to check. Anything else, a prompt with options
included, goes through typer (cfcli.main.run). Every error becomes its message and exit status
here, in ``exit_status``.
"""

from __future__ import annotations

import os
import sys

# cfcli.main's commands (tests/test_ask.py checks that they agree): a bare word that is one of
# them runs the command, as typer would.
COMMANDS = frozenset({"train", "generate", "eval", "data", "model", "bench", "lsp", "serve", "examples", "ask",
                      "shell-init", "history", "config"})


def bare_prompt(argv: list[str]) -> str | None:
    """The prompt when ``argv`` is a prompt and nothing else; None: let typer parse it."""
    if len(argv) == 1 and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return argv[0]
    if len(argv) == 2 and argv[0] == "--":  # `cf -- WORD`: a prompt even where it looks like a command
        return argv[1]
    if len(argv) == 3 and argv[:2] == ["ask", "--"]:
        return argv[2]
    if len(argv) == 2 and argv[0] == "ask" and not argv[1].startswith("-"):
        return argv[1]
    return None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with a swap of neighbours as one edit (optimal string alignment):
    `histroy` is 1 from `history`."""
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def mistyped_command(word: str) -> str | None:
    """The command a first word that is not one was probably meant to be: a single word (a prompt
    is a sentence) within 2 edits of a command name, 1 for names of up to 5 letters (so that
    `cf ps` or `cf top` stay prompts rather than a `cf lsp`)."""
    if word in COMMANDS or not word or word.startswith("-") or any(c.isspace() for c in word):
        return None
    word = word.lower()
    best = min(sorted(COMMANDS), key=lambda c: edit_distance(word, c))
    return best if edit_distance(word, best) <= min(2, len(best) // 3) else None


ROOT_OPTIONS = ("--help", "-h", "--version")
# Commands a user waits on from the shell or an editor: they end without the interpreter's teardown.
ONE_SHOT = ("ask", "generate")


def route_prompt(argv: list[str]) -> list[str]:
    """`cf "PROMPT" [options]` is `cf ask "PROMPT" [options]`: anything that is not a command or
    a root option starts the picker (a prompt that is a command's name: `cf ask -- train`)."""
    if not argv or argv[0] in COMMANDS or argv[0] in ROOT_OPTIONS:
        return argv
    return ["ask", *argv]


def exit_status(error: BaseException) -> int:
    """The one map from an error to what the user reads and the exit status: 2 for what cf
    refuses (a bad prompt, option or file), 130 for an interrupt; anything else is a bug and
    propagates with its traceback."""
    from core.errors import CFError

    if isinstance(error, KeyboardInterrupt):
        print("cf: interrupted", file=sys.stderr)
        return 130
    if isinstance(error, CFError):
        print(getattr(error, "usage", None) or f"cf: error: {error}", file=sys.stderr)
        return 2
    if isinstance(error, SystemExit):
        code = error.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
        return code if isinstance(code, int) else (0 if code is None else 1)
    raise error


def end_process(code) -> None:
    """Exit now with ``code`` (SystemExit's), once stdout and stderr are flushed: tearing down the
    interpreter that holds torch and a model took 1.2-1.6 s of a cold `cf PROMPT --json` on a busy
    2-core machine (0.05-0.1 s this way), and a one-shot command has nothing left to clean up."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(status)


def main() -> None:
    argv = sys.argv[1:]
    meant = mistyped_command(argv[0]) if argv else None
    if meant:  # `cf histroy` printed five `top` commands
        print(f"cf: error: no command {argv[0]!r}; did you mean `cf {meant}`? (a prompt: cf -- {argv[0]})",
              file=sys.stderr)
        end_process(2)
    prompt = bare_prompt(argv)
    try:
        if prompt is not None:
            from cfcli.ask import AskOptions, run_ask

            status = run_ask(AskOptions(prompt, device="auto"))
        else:
            from cfcli.main import run

            argv = route_prompt(argv)
            status = run(argv)
    except (Exception, KeyboardInterrupt, SystemExit) as e:
        status = exit_status(e)
    if prompt is not None or (argv and argv[0] in ONE_SHOT):
        end_process(status)
    sys.exit(status)
