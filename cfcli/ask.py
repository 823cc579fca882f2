"""`cf "PROMPT"` (the `ask` command): the live picker on a terminal, plain or JSON output otherwise."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

from cfcli.protocol import check_prompt
from core.errors import CFError
from core.registry import display_name

@dataclass(frozen=True)
class AskOptions:
    prompt: str
    lang: str | None = None
    model: str | None = None
    top_k: int | None = None
    steps: int | None = None
    seed: int | None = None
    device: str = "cpu"
    as_json: bool = False
    plain: bool = False


def read_prompts(prompt: str) -> "Batch":
    """The prompt, checked (a CFError when bad); '-': stdin's prompts (read_batch)."""
    if prompt == "-":
        return read_batch()
    check_prompt(prompt.strip())
    return Batch([prompt.strip()], 0)


@dataclass
class Batch:
    prompts: list[str]
    bad: int  # lines that were said on stderr and left out


def read_batch(stdin=None) -> Batch:
    """One prompt per non-blank line of stdin. A bad line (too long, not UTF-8) is said on stderr
    with its number and left out, and the others go on: one over-long line used to end the batch
    without saying which. Blank lines separate, as in most line-based tools."""
    raw = (stdin or sys.stdin.buffer).read()
    prompts, bad = [], 0
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            text, problem = None, f"not valid UTF-8 (byte {e.start})"
        if text == "":
            continue
        if text is not None:
            try:
                check_prompt(text)
                prompts.append(text)
                continue
            except CFError as e:
                problem = str(e)
        bad += 1
        print(f"cf: error: stdin line {number}: {problem}", file=sys.stderr)
    if not prompts and not bad:
        raise CFError("no prompt on stdin")
    return Batch(prompts, bad)


def check_model_dir(model: str, lang: str) -> str:
    """A cheap check (config.json only, no torch) that ``model`` is a model directory for
    ``lang``, so that the picker does not open only to fail; the weights are read in the background."""
    from core.checkpoint import read_config, require_language

    require_language(read_config(model)["model"]["langs"], lang, model)
    return model


def run_ask(opts: AskOptions) -> int:
    """The exit status: 0 accepted (or printed), 1 cancelled."""
    from cfcli.userconfig import resolve_model, resolve_options

    chosen = resolve_options(opts.lang, opts.model, opts.top_k, opts.steps)
    lang, top_k, steps = chosen.lang, chosen.top_k, chosen.steps
    batch = read_prompts(opts.prompt)
    model = check_model_dir(resolve_model(chosen.model), lang)
    interactive = not (opts.as_json or opts.plain or opts.prompt == "-") and sys.stdin.isatty() \
        and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    if not interactive:
        return print_candidates(batch, model, lang, top_k, steps, opts.seed, opts.device, opts.as_json)
    return pick(batch.prompts[0], model, lang, top_k, steps, opts)


def print_candidates(batch: Batch, model: str, lang: str, top_k: int, steps: int | None, seed: int | None,
                     device: str, as_json: bool) -> int:
    """`cf generate`, and `cf "…"` without a terminal: one JSON object per prompt (--json, with
    the seed that reproduces it), else the candidates as text (text_block). The exit status: 1
    when a line of the batch was bad, else 0."""
    # Without --seed, seed 0: the best set (a seed n > 0 is the n-th re-roll, core.events.seed_roll),
    # and one the JSON can say, so that `--seed N` gives the same again.
    seed = 0 if seed is None else seed
    for result in generate_all(batch.prompts, model, lang, top_k, steps, seed, device):
        if as_json:
            # A shipped or user model by its name, not by this machine's path to it.
            print(json.dumps({**result.to_json(), "model": display_name(result.model), "seed": seed}), flush=True)
        else:
            print(text_block([c.code for c in result.candidates]), flush=True)
    return 1 if batch.bad else 0


def text_block(codes: list[str]) -> str:
    """One candidate a line while each is one line (Bash: `cf generate … | head -1` stays a
    command). When one spans lines (Python), each gets a `# N` header and a blank line between,
    which is still a valid Python or shell file; the numbers start again with each prompt."""
    if not any("\n" in code for code in codes):
        return "\n".join(codes)
    return "\n\n".join(f"# {n}\n{code}" for n, code in enumerate(codes, 1))


def generate_all(prompts: list[str], model: str, lang: str, top_k: int, steps: int | None, seed: int | None,
                 device: str):
    """Each prompt's Result (core.events), from a running `cf serve` when one answers (config
    ``serve``), else from the model loaded here, once; notes go to stderr."""
    from cfcli.client import NoServer, server_pipeline
    from core.events import seed_roll

    def note(text: str) -> None:
        if text:
            print(f"cf: note: {text}", file=sys.stderr)

    remote = server_pipeline(model, lang, device)
    pipe = None
    for prompt in prompts:
        result = None
        if remote is not None:
            try:
                result = remote.generate(prompt, k=top_k, steps=steps, seed=seed, on_note=note, roll=seed_roll(seed))
            except NoServer:  # it ended under us: go on here
                remote = None
        if result is None:
            if pipe is None:
                from core import threads

                threads.configure("interactive")  # before torch loads
                from core.generate import Pipeline

                pipe = Pipeline.from_pretrained(model, device, lang)
            note(pipe.cut_note(prompt, lang))
            result = pipe.generate(prompt, k=top_k, steps=steps, seed=seed, roll=seed_roll(seed))
        yield result


def learn_pick(prompt: str, code: str, lang: str) -> None:
    """An accepted pick becomes one of the user's examples (config ``learn_picks``, on by
    default), so a retrieval model edits it for the next prompt like this one."""
    from cfcli.userconfig import load_config

    if load_config().learn_picks:
        from core.retrieval.user import UserExamples

        UserExamples().add([(lang, prompt, code)], ref="pick")


def pick(prompt: str, model: str, lang: str, top_k: int, steps: int | None, opts: AskOptions) -> int:
    from cfcli.client import server_pipeline
    from cfcli.history import append_history
    from cfcli.tui.app import PickerApp, PickRequest
    from cfcli.tui.driver import stderr_sized_driver

    request = PickRequest(prompt, lang, top_k, steps, opts.seed, model)
    remote = server_pipeline(model, lang, opts.device)
    if remote is None:
        from core import threads

        threads.configure("interactive", reserve=1)  # a core for the UI thread; before torch loads
    def load_here():
        from core.generate import Pipeline  # torch comes with it: not before the first frame

        return Pipeline.from_pretrained(model, opts.device, lang)

    app = PickerApp(request, (lambda: remote) if remote else load_here, driver_class=stderr_sized_driver())
    code = app.run()
    status = 0
    if app.error:
        print(f"cf: error: {app.error}", file=sys.stderr)
        status = 2
    elif code is None:
        status = 1
    else:
        print(code, flush=True)
        append_history(prompt, code, lang, model)
        learn_pick(prompt, code, lang)
    if remote is None and not app.error:
        start_server_for_next_time(model, opts.device)
    if app.pipeline.busy:
        # Cancelled while torch was still loading: don't wait for it (see cfcli/tui/loader.py).
        sys.stderr.flush()
        os._exit(status)
    return status


def start_server_for_next_time(model: str, device: str) -> None:
    """Config ``serve = "auto"``: the picker found no server, so it starts one for the next prompt
    (the shell key's next press), as it exits, so that the load does not slow this one."""
    from cfcli.client import start_server
    from cfcli.userconfig import load_config

    if device == "auto" and load_config().serve == "auto":
        start_server(model)
