"""The `cf` console script.

A bare prompt (`cf "PROMPT"`, and the shell key's `cf ask -- PROMPT`) goes straight to the
picker: typer checks every option through pydantic, which took ~70 ms of a first frame whose
goal is 300 ms (issue 21), and a bare prompt has no option to check. Anything else, a prompt with
options included, goes through typer (cfcli.main).
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
    if len(argv) == 3 and argv[:2] == ["ask", "--"]:
        return argv[2]
    if len(argv) == 2 and argv[0] == "ask" and not argv[1].startswith("-"):
        return argv[1]
    return None


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
    prompt = bare_prompt(sys.argv[1:])
    if prompt is None:
        from cfcli.main import main as parse_and_run

        parse_and_run()
        return
    from cfcli.ask import AskOptions, run_ask
    from core.errors import CFError

    try:
        status = run_ask(AskOptions(prompt, device="auto"))
    except CFError as e:
        print(f"cf: error: {e}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("cf: interrupted", file=sys.stderr)
        status = 130
    end_process(status)
