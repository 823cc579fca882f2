"""`cf shell-init {bash,zsh,fish}`: a key binding that sends the command line to the picker and
puts the accepted candidate back on the command line (never runs it)."""

from __future__ import annotations

import re
import shlex
from importlib.resources import files

from core.errors import CFError

SHELLS = ("bash", "zsh", "fish")
_KEY = re.compile(r"(?i)(ctrl|control|c|alt|meta|m)[-+]([a-z])")


def key_sequences(key: str) -> dict[str, str]:
    """'ctrl-g' -> how each shell spells it; ctrl-LETTER and alt-LETTER are accepted."""
    match = _KEY.fullmatch(key.strip())
    if not match:
        raise CFError(f"cannot bind {key!r}: use ctrl-LETTER or alt-LETTER, e.g. ctrl-g")
    modifier, letter = match.group(1).lower(), match.group(2).lower()
    if modifier in ("ctrl", "control", "c"):
        return {"KEY_NAME": f"Ctrl-{letter.upper()}", "BASH_KEY": f"\\C-{letter}",
                "ZSH_KEY": f"^{letter.upper()}", "FISH_KEY": f"\\c{letter}"}
    return {"KEY_NAME": f"Alt-{letter.upper()}", "BASH_KEY": f"\\e{letter}",
            "ZSH_KEY": f"^[{letter}", "FISH_KEY": f"\\e{letter}"}


def shell_snippet(shell: str, key: str, command: list[str]) -> str:
    """The snippet for ``shell``; ``command`` is how to run this cf (an absolute path, so the
    binding works without the virtual environment on PATH)."""
    if shell not in SHELLS:
        raise CFError(f"unknown shell {shell!r}: choose one of {', '.join(SHELLS)}")
    text = files(__package__).joinpath(f"codefusion.{shell}").read_text(encoding="utf-8")
    values = {**key_sequences(key), "CF": " ".join(shlex.quote(word) for word in command)}
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text
