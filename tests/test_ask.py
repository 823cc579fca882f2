"""`cf "PROMPT"`: the real `cf` in a real terminal (tmux), without a terminal (plain, JSON),
bad input, and the config and history files."""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cf
from tests.tmux import Tmux

PROMPT = "(GNU specific) Display info on most CPU-intensive processes once and exit."


def cf_command() -> list[str]:
    """The installed `cf` script beside this Python, else the module."""
    script = Path(sys.executable).parent / "cf"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cfcli"]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """CODEFUSION_HOME for this test: its own config and history."""
    d = tmp_path / "home"
    d.mkdir()
    monkeypatch.setenv("CODEFUSION_HOME", str(d))
    return d


# -- in a terminal ---------------------------------------------------------------------------


def test_cf_in_tmux_animates_then_enter_prints_the_chosen_candidate_on_stdout(tiny_model, tmp_path, home):
    out, status = tmp_path / "out.txt", tmp_path / "status"
    (home / "config.toml").write_text('serve = "off"\n')  # in-process; tests/test_serve.py has the server
    command = " ".join(shlex.quote(w) for w in [*cf_command(), PROMPT, "--model", str(tiny_model), "--steps", "150",
                                                 "--seed", "1"])
    term = Tmux(["bash", "--norc", "--noprofile", "-c", f"{command} > {out}; echo $? > {status}"], {})
    try:
        term.wait_for(lambda s: re.search(r"step \d+/150", s), what="denoising")
        frames = [term.screen()]
        for _ in range(2):
            time.sleep(0.3)
            frames.append(term.screen())
        final = term.wait_for(lambda s: "done" in s, what="the end of denoising")
        rows = [line for line in final.splitlines() if re.match(r" [1-5]  \S", line)]
        assert rows, final
        chosen = rows[-1][4:].rstrip()  # the last row: a key must move the selection there
        term.keys(str(len(rows)))
        term.keys("Enter")
        deadline = time.monotonic() + 30
        while not (status.exists() and status.read_text().strip()):  # the session ends with cf
            assert time.monotonic() < deadline, "cf did not exit after Enter"
            time.sleep(0.1)
    finally:
        term.close()
    assert len(set(frames)) > 1, "the screen did not change while denoising"
    assert status.read_text().strip() == "0"
    assert out.read_text() == chosen + "\n"  # the TUI drew on the terminal, not on stdout
    (entry,) = [json.loads(line) for line in (home / "history.jsonl").read_text().splitlines()]
    assert entry["prompt"] == PROMPT and entry["code"] == chosen and entry["lang"] == "bash"


# -- without a terminal ----------------------------------------------------------------------


def test_without_a_terminal_it_prints_plain_candidates_or_json(tiny_model, home):
    plain = cf(PROMPT, "--model", str(tiny_model), "--steps", "3", "--seed", "1", input=b"")
    assert plain.returncode == 0, plain.stderr.decode()
    lines = plain.stdout.decode().splitlines()
    assert 1 <= len(lines) <= 5 and all(line.strip() for line in lines)
    assert "\x1b" not in plain.stdout.decode() + plain.stderr.decode()  # no picker, no colour codes

    many = cf("-", "--model", str(tiny_model), "--steps", "3", "--seed", "1", "--json", "--top-k", "2",
              input=b"list files\n\n" + PROMPT.encode() + b"\n")
    assert many.returncode == 0, many.stderr.decode()
    results = [json.loads(line) for line in many.stdout.decode().splitlines()]
    assert [r["prompt"] for r in results] == ["list files", PROMPT]
    candidate = results[1]["candidates"][0]
    assert set(candidate) == {"code", "score", "valid", "warnings", "effects", "confidence", "origin"}
    assert isinstance(candidate["warnings"], list) and isinstance(candidate["effects"], list)
    assert candidate["origin"] == "the model" and candidate["confidence"] is None  # no retrieval, no calibration


def test_bad_input_is_one_line_and_nonzero(tiny_model, tmp_path, home):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_bytes((Path(tiny_model) / "config.json").read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 64)
    model = ["--model", str(tiny_model)]
    cases = {
        "empty": cf("", *model),
        "blank": cf("   ", *model),
        "100 kB": cf("x" * 100_000, *model),
        "stdin not UTF-8": cf("-", *model, input=b"\xff\xfe list files"),
        "empty stdin": cf("-", *model, input=b"\n\n"),
        "missing model": cf("list files", "--model", str(tmp_path / "missing")),
        "no model": cf("list files"),
        "corrupt model": cf("list files", "--model", str(corrupt), "--plain"),
        "wrong language": cf("list files", *model, "--lang", "python"),
    }
    for name, r in cases.items():
        err = r.stderr.decode().strip()
        assert r.returncode != 0 and r.stdout == b"", name
        assert err.startswith("cf: error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, (name, err)
    assert "at most 2000" in cases["100 kB"].stderr.decode()
    assert "corrupt" in cases["corrupt model"].stderr.decode()


def test_commands_still_route_and_prompts_reach_the_picker():
    from cfcli.launch import route_prompt

    assert route_prompt(["train", "--help"]) == ["train", "--help"]
    assert route_prompt(["--help"]) == ["--help"] and route_prompt([]) == []
    assert route_prompt(["remove directory tree", "--steps", "5"]) == ["ask", "remove directory tree", "--steps", "5"]
    assert route_prompt(["--model", "m", "list files"]) == ["ask", "--model", "m", "list files"]
    assert route_prompt(["-"]) == ["ask", "-"]
    # a bare prompt skips typer (cfcli/launch.py): its list of commands must be typer's
    import typer.main

    from cfcli.launch import COMMANDS, ROOT_OPTIONS, bare_prompt
    from cfcli.main import app

    root = typer.main.get_command(app)
    assert COMMANDS == set(root.commands)
    assert set(ROOT_OPTIONS) == {o for p in root.get_params(root.context_class(root, info_name="cf", **root.context_settings)) for o in p.opts}
    assert bare_prompt(["list files"]) == "list files" and bare_prompt(["ask", "--", "-rf"]) == "-rf"
    assert bare_prompt(["ask", "list files"]) == "list files" and bare_prompt(["--", "history"]) == "history"
    for argv in (["train"], ["-"], ["--help"], [], ["list files", "--steps", "5"], ["ask", "--json", "x"]):
        assert bare_prompt(argv) is None, argv
    helps = cf("--help"), cf("train", "--help"), cf("ask", "--help")
    assert all(r.returncode == 0 for r in helps)
    assert "shell-init" in helps[0].stdout.decode() and "--preset" in helps[1].stdout.decode()
    assert "--plain" in helps[2].stdout.decode()


def test_version_short_help_help_once_and_a_mistyped_command(home, tiny_model):
    from importlib.metadata import version

    r = cf("--version")
    assert r.returncode == 0 and r.stdout.decode() == f"cf {version('codefusion')}\n"
    for argv in ([], ["-h"], ["examples"], ["model"], ["config"], ["data"], ["examples", "-h"], ["train", "-h"]):
        r = cf(*argv)
        assert r.returncode == 0 and r.stdout.decode().count("Usage:") == 1 and r.stderr == b"", argv
    for typo, meant in (("histroy", "history"), ("genrate", "generate"), ("exmaples", "examples")):
        r = cf(typo, "--json")
        assert r.returncode == 2 and r.stdout == b"", typo
        assert f"did you mean `cf {meant}`?" in r.stderr.decode() and len(r.stderr.splitlines()) == 1, typo
    # a sentence, or a word far from every command, is a prompt; `cf -- WORD` makes any word one
    (home / "config.toml").write_text(f'serve = "off"\nmodel = "{tiny_model}"\nsteps = 5\n')
    for argv in (["--", "histroy"], ["histroy of my shell"], ["ps"]):
        r = cf(*argv)
        assert r.returncode == 0 and r.stdout.strip(), (argv, r.stderr.decode())


# -- config and history ----------------------------------------------------------------------


def test_config_file_supplies_defaults_and_bad_ones_are_one_line(home):
    r = cf("config", "path")
    assert r.stdout.decode().strip() == str(home / "config.toml")
    (home / "config.toml").write_text('model = "~/m"\nsteps = 7\nlang = "cf"\nkey = "alt-g"\n')
    from cfcli.userconfig import load_config

    config = load_config()
    assert (config.steps, config.lang, config.key, config.top_k) == (7, "cf", "alt-g", None)
    assert config.model == str(Path("~/m").expanduser())
    for bad, message in [("steps = 'x'", "steps must be a positive integer"), ("colour = 1", "unknown setting"),
                         ("lang = 'perl'", "lang must be one of"), ("model = ", "config.toml")]:
        (home / "config.toml").write_text(bad + "\n")
        r = cf("list files")
        err = r.stderr.decode().strip()
        assert r.returncode == 2 and message in err and len(err.splitlines()) == 1, err


def test_history_lists_accepted_candidates(home):
    from cfcli.history import append_history, read_history

    append_history("list files", "ls -l", "bash", "m")
    append_history("count lines", "wc -l *.txt", "bash", "m")
    (home / "history.jsonl").open("a").write("not json\n")
    assert [e["code"] for e in read_history()] == ["ls -l", "wc -l *.txt"]
    r = cf("history", "--limit", "1")
    assert r.returncode == 0 and r.stdout.decode().strip().endswith("count lines  ->  wc -l *.txt")
    assert json.loads(cf("history", "--json").stdout.decode().splitlines()[0])["prompt"] == "list files"
