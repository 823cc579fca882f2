"""`cf "PROMPT"` (the `ask` command): the live picker on a terminal, plain or JSON output otherwise."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

from core.errors import CFError

# Prompts are a sentence or two; the models read at most prompt_len tokens (32 to 128). A limit
# in characters turns a pasted file into a clear error instead of seconds of tokenizing.
MAX_PROMPT_CHARS = 2000


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


def read_prompts(prompt: str) -> list[str]:
    """The prompt, or one prompt per non-empty line of stdin for '-'; each one checked."""
    if prompt == "-":
        raw = sys.stdin.buffer.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CFError(f"stdin is not valid UTF-8 (byte {e.start})") from None
        prompts = [line.strip() for line in text.splitlines() if line.strip()]
        if not prompts:
            raise CFError("no prompt on stdin")
    else:
        prompts = [prompt.strip()]
    for p in prompts:
        check_prompt(p)
    return prompts


def check_prompt(prompt: str) -> None:
    if not prompt:
        raise CFError("empty prompt: say what the code should do, e.g. cf \"remove directory tree\"")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in argv arrive as surrogates
        raise CFError("the prompt is not valid UTF-8") from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise CFError(f"the prompt is too long ({len(prompt)} characters; at most {MAX_PROMPT_CHARS})")


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
    prompts = read_prompts(opts.prompt)
    model = check_model_dir(resolve_model(chosen.model), lang)
    interactive = not (opts.as_json or opts.plain or opts.prompt == "-") and sys.stdin.isatty() \
        and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    if not interactive:
        print_candidates(prompts, model, lang, top_k, steps, opts.seed, opts.device, opts.as_json)
        return 0
    return pick(prompts[0], model, lang, top_k, steps, opts)


def print_candidates(prompts: list[str], model: str, lang: str, top_k: int, steps: int | None, seed: int | None,
                     device: str, as_json: bool) -> None:
    """`cf generate`, and `cf "…"` without a terminal: one JSON object per prompt (--json), else
    one candidate a line."""
    for result in generate_all(prompts, model, lang, top_k, steps, seed, device):
        if as_json:
            print(json.dumps(result.to_json()), flush=True)
        else:
            for candidate in result.candidates:
                print(candidate.code, flush=True)


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
                from cfcli.main import load_pipeline
                from core import threads

                threads.configure("interactive")  # before torch loads
                pipe = load_pipeline(model, device, lang)
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
        from cfcli.main import load_pipeline  # typer comes with it: not before the first frame

        return load_pipeline(model, opts.device, lang)

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
