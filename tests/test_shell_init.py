"""`cf shell-init`: the snippets, and the key binding in real bash, zsh and fish under tmux:
the command line becomes the prompt, the accepted candidate replaces it, nothing runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from cfcli.shell import key_sequences, shell_snippet
from core.errors import CFError
from tests.conftest import cf
from tests.tmux import Tmux, require

PROMPT = "(GNU specific) Display info on most CPU-intensive processes once and exit."
CF = [sys.executable, "-m", "cfcli"]
# Each shell with no user config, a '$ ' prompt, and how to load the snippet.
SHELLS = {
    "bash": (["bash", "--norc", "--noprofile"], "PS1='$ '", 'eval "$({cf} shell-init bash)"'),
    "zsh": (["zsh", "-f"], "PROMPT='$ '", 'eval "$({cf} shell-init zsh)"'),
    "fish": (["fish", "--no-config"], "function fish_prompt; echo -n '$ '; end; set -g fish_greeting; "
             "set -g fish_autosuggestion_enabled 0", "{cf} shell-init fish | source"),
}


def test_keys_are_spelled_for_each_shell():
    assert key_sequences("ctrl-g") == {"KEY_NAME": "Ctrl-G", "BASH_KEY": "\\C-g", "ZSH_KEY": "^G", "FISH_KEY": "\\cg"}
    assert key_sequences("Alt+K")["ZSH_KEY"] == "^[k" and key_sequences("alt-k")["BASH_KEY"] == "\\ek"
    with pytest.raises(CFError, match="ctrl-LETTER"):
        key_sequences("F5")


@pytest.mark.parametrize("shell", SHELLS)
def test_snippet_binds_the_key_and_parses(shell, tmp_path):
    snippet = shell_snippet(shell, "ctrl-g", ["/opt/my cf/bin/cf"])
    assert "'/opt/my cf/bin/cf'" in snippet and "ask --" in snippet and not re.search(r"@[A-Z_]+@", snippet)
    assert {"bash": "bind -x '\"\\C-g\"", "zsh": "bindkey -M emacs '^G'", "fish": "bind \\cg"}[shell] in snippet
    require(shell)
    path = tmp_path / f"snippet.{shell}"
    path.write_text(snippet)
    r = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_shell_init_cli_uses_the_config_key_and_rejects_unknown_shells(tmp_path):
    (tmp_path / "config.toml").write_text('key = "alt-j"\n')
    r = cf("shell-init", "zsh", env={"CODEFUSION_HOME": str(tmp_path)})
    assert r.returncode == 0 and "bindkey -M emacs '^[j'" in r.stdout.decode()
    assert "bind -x '\"\\C-t\"" in cf("shell-init", "bash", "--key", "ctrl-t").stdout.decode()
    r = cf("shell-init", "tcsh")
    assert r.returncode == 2
    assert r.stderr.decode().strip() == "cf: error: unknown shell 'tcsh': choose one of bash, zsh, fish"


@pytest.mark.parametrize("shell", SHELLS)
def test_key_binding_replaces_the_command_line_with_the_accepted_candidate(shell, tiny_model, tmp_path):
    require("tmux", shell)
    home = tmp_path / "home"
    home.mkdir()
    # serve = "off": the model loads in the picker (tests/test_serve.py has the key with a server)
    (home / "config.toml").write_text(f'model = "{tiny_model}"\nsteps = 4\ntop_k = 3\nserve = "off"\n')
    command, setup, load = SHELLS[shell]
    env = {"HOME": str(home), "CODEFUSION_HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share")}
    term = Tmux(command, env)
    try:
        cf_words = " ".join(f"'{w}'" for w in CF)
        term.type(f"{setup}; {load.format(cf=cf_words)}; clear")
        term.keys("Enter")
        term.wait_for(lambda s: s.strip() == "$", what="a clear prompt")
        term.type(PROMPT)
        term.keys("C-g")
        term.wait_for(lambda s: "done" in s and "Accept" in s, what="the picker's candidates")
        term.keys("Enter")
        history = home / "history.jsonl"
        term.wait_for(lambda s: history.exists(), what="the accepted candidate in the history")
        entry = json.loads(history.read_text().splitlines()[-1])
        assert entry["prompt"] == PROMPT
        # the candidate is on the command line, for review; it has not run (no output, no new prompt)
        edited_line = ["$ " + entry["code"]]
        term.wait_for(lambda s: [line for line in s.splitlines() if line.strip()] == edited_line,
                      timeout=20, what=f"the command line {edited_line}")
        time.sleep(0.5)
        assert [line for line in term.lines() if line.strip()] == edited_line, term.screen()
    finally:
        term.close()


def test_cancel_leaves_the_command_line_as_it_was(tiny_model, tmp_path):
    require("tmux", "bash")
    (tmp_path / "config.toml").write_text(f'model = "{tiny_model}"\nsteps = 400\nserve = "off"\n')
    term = Tmux(SHELLS["bash"][0], {"HOME": str(tmp_path), "CODEFUSION_HOME": str(tmp_path)})
    try:
        cf_words = " ".join(f"'{w}'" for w in CF)
        term.type(f"PS1='$ '; eval \"$({cf_words} shell-init bash)\"; clear")
        term.keys("Enter")
        term.wait_for(lambda s: s.strip() == "$", what="a clear prompt")
        term.type("list files")
        term.keys("C-g")
        term.wait_for(lambda s: "Accept" in s, what="the picker")
        term.keys("Escape")
        term.wait_for(lambda s: "Accept" not in s and s.strip() == "$ list files", what="the original line")
    finally:
        term.close()
    assert not (tmp_path / "history.jsonl").exists()
