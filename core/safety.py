"""Danger warnings for generated shell commands (cf never runs what it suggests; this tells the
user what a candidate would do if *they* ran it).

``bash_warnings(code)`` is pure: it reads the command line with the bashlex walk shared with the
metrics (``core.metrics.bash.parse_simple_commands``, which already sees through ``sudo``,
``xargs``, ``find -exec``, ``sh -c`` and ``$(...)``) and applies one small rule per hazard to
every simple command. When bashlex cannot parse the line (the model can emit broken syntax) a
rough splitter built from regexes feeds the same rules. Each warning is a short phrase for a
person: "recursively deletes /". The function cannot look at the file system, so "empties
FILE" is said of every truncating redirection without a command, whether FILE exists or not.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from typing import Callable, Iterable, Iterator

from core.metrics.bash import Redirection, SimpleCommand


def code_warnings(code: str, lang: str) -> list[str]:
    """Warnings for a candidate in ``lang``: Bash, and Python's shell commands and rmtree calls."""
    return bash_warnings(code) if lang == "bash" else python_warnings(code) if lang == "python" else []


def python_warnings(code: str) -> list[str]:
    """The Bash warnings of the shell commands a snippet runs (os.system, subprocess with a
    shell), and shutil.rmtree of /, your home or the current directory."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    found: list[str] = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        first = call.args[0] if call.args else None
        text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        name = ast.unparse(call.func)
        if text is not None and (name in ("os.system", "os.popen") or name.startswith("subprocess.")):
            found += bash_warnings(text)
        elif text is not None and name.rsplit(".", 1)[-1] == "rmtree":
            place = _place(os.path.expanduser(text) if text.startswith("~") else text) or \
                ("your home directory" if text.startswith("~") and text.strip("~/") == "" else None)
            found += [f"recursively deletes {place}"] if place else []
    return list(dict.fromkeys(found))


def bash_warnings(code: str) -> list[str]:
    """Short phrases naming what is dangerous in a Bash command line; [] when nothing is."""
    found: list[str] = []
    commands = _commands(code)
    for index, command in enumerate(commands):
        for rule in COMMAND_RULES:
            found += rule(command)
        found += piped_delete(commands, index)
    for rule in TEXT_RULES:
        found += rule(code)
    return list(dict.fromkeys(found))  # de-duplicated, in order of appearance


# ---------------------------------------------------------------------------------------------
# Reading the command line
# ---------------------------------------------------------------------------------------------


def _commands(code: str) -> list[SimpleCommand]:
    from core.metrics.bash import parse_simple_commands
    from core.metrics.python import MetricUnavailable

    try:
        parsed = parse_simple_commands(code)
    except MetricUnavailable:  # bashlex not installed: the rough reading still catches the obvious
        parsed = None
    return parsed if parsed is not None else list(_rough_commands(code))


# Separators of a rough split; '|' keeps the pipeline (for 'curl … | sh'), the rest start afresh.
_SEPARATOR = re.compile(r"(\|\||&&|\|&|\||;|&|\n|\$\(|`|<\(|\(|\)|\{|\}|\bthen\b|\bdo\b)")
_REDIRECTION = re.compile(r"(\d*|&)(>>|>\||>|<)\s*(?!&)([^\s;&|<>]+)")
_ROUGH_WRAPPERS = {"sudo", "doas", "env", "nohup", "nice", "time", "command", "exec", "xargs", "timeout"}
_WRAPPER_VALUE_FLAGS = {"-u", "-g", "-n", "-I", "-P", "-d", "-L", "-s", "-E", "-a", "-k"}


def _rough_commands(code: str) -> Iterator[SimpleCommand]:
    """Simple commands of a line bashlex rejects: split on operators, then on whitespace."""
    upstream: list[str] = []
    pieces = _SEPARATOR.split(code)
    for index in range(0, len(pieces), 2):
        separator_before = pieces[index - 1] if index else ""
        if separator_before != "|":
            upstream = []
        text = pieces[index]
        redirections = tuple(Redirection(fd + op, target.strip("'\""))
                             for fd, op, target in _REDIRECTION.findall(text))
        words = _split_words(_REDIRECTION.sub(" ", text))
        wrappers: list[str] = []
        while words and posixpath.basename(words[0]) in _ROUGH_WRAPPERS:
            wrappers.append(posixpath.basename(words.pop(0)))
            while words and (words[0].startswith("-") or "=" in words[0] or words[0].isdigit()):
                flag = words.pop(0)
                if flag in _WRAPPER_VALUE_FLAGS and words:
                    words.pop(0)
        if not words:
            continue
        utility = posixpath.basename(words[0]) if words[0].startswith("/") else words[0]
        yield SimpleCommand(utility, tuple(words[1:]), redirections, tuple(wrappers), upstream=tuple(upstream))
        upstream.append(utility)


def _split_words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quotes: that is often why bashlex failed
        return [w.strip("'\"") for w in text.split()]


# ---------------------------------------------------------------------------------------------
# Words: flags, operands and the places that matter
# ---------------------------------------------------------------------------------------------


def _operands(args: Iterable[str]) -> list[str]:
    """Arguments that are not options ('--' ends the options)."""
    out, options_ended = [], False
    for word in args:
        if not options_ended and word == "--":
            options_ended = True
        elif options_ended or not word.startswith("-") or word == "-":
            out.append(word)
    return out


def _has_short_flag(args: Iterable[str], letters: str, long: Iterable[str] = ()) -> bool:
    """'-rf' has r and f; long names must match whole ('--recursive')."""
    long = set(long)
    for word in args:
        if word == "--":
            return False
        if word in long:
            return True
        if re.fullmatch(r"-[A-Za-z]+", word) and any(letter in word[1:] for letter in letters):
            return True
    return False


_ROOT = re.compile(r"/+(\.|\*|\.\*)?/*")
_HOME = re.compile(r"(~|\$HOME|\$\{HOME\})(/+(\*|\.\*)?)?/*")
_HERE = re.compile(r"(\.{1,2}|\*|\.\*)(/+(\*|\.\*)?)?/*")
_SYSTEM = re.compile(r"/+(bin|boot|dev|etc|home|lib|lib32|lib64|opt|proc|root|sbin|srv|sys|usr|var)(/+\*?)?/*")
_BARE_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?/+\*?")  # rm -rf "$DIR/": / when DIR is empty
_DISK = re.compile(r"/dev/(?:[shv]d[a-z]|xvd[a-z]|nvme\d|mmcblk\d|r?disk\d|disk/|md\d|dm-\d|mapper/)")
_HISTORY_FILE = re.compile(r"_history\b|\$\{?HISTFILE\b")


def _place(word: str) -> str | None:
    """'/', 'your home directory', … for the places a recursive operation must not touch."""
    if _ROOT.fullmatch(word):
        return "/"
    if _HOME.fullmatch(word):
        return "your home directory"
    if _HERE.fullmatch(word):
        return "the parent directory" if word.startswith("..") else "everything in the current directory"
    system = _SYSTEM.fullmatch(word)
    if system:
        return "/" + system.group(1)
    return None


def _truncates(redirection: Redirection) -> bool:
    return redirection.operator.lstrip("0123456789") in (">", ">|", "&>")


def _writes(redirection: Redirection) -> bool:
    return ">" in redirection.operator and not redirection.target.isdigit()


# ---------------------------------------------------------------------------------------------
# Rules over one simple command
# ---------------------------------------------------------------------------------------------

Rule = Callable[[SimpleCommand], list[str]]


def recursive_delete(c: SimpleCommand) -> list[str]:
    if c.utility != "rm" or not _has_short_flag(c.args, "rR", ["--recursive"]):
        return []
    out = []
    for target in _operands(c.args):
        place = _place(target)
        if place:
            out.append(f"recursively deletes {place}")
        elif _BARE_VARIABLE.fullmatch(target) and not _HOME.fullmatch(target):
            out.append(f"recursively deletes / if ${_BARE_VARIABLE.fullmatch(target).group(1)} is empty")
    return out


_FIND_FILTERS = {"-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
                 "-type", "-xtype", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-newer",
                 "-size", "-user", "-group", "-perm", "-empty", "-links", "-inum", "-samefile", "-lname",
                 "-nouser", "-nogroup", "-newermt", "-used"}


def find_delete(c: SimpleCommand) -> list[str]:
    if c.utility != "find":
        return []
    args = list(c.args)
    roots = []
    for word in args:
        if word.startswith("-") or word in ("(", "!", ","):
            break
        roots.append(word)
    execs = [i for i, w in enumerate(args) if w in ("-exec", "-execdir", "-ok", "-okdir")]
    deletes = "-delete" in args or any(i + 1 < len(args) and args[i + 1] in ("rm", "shred") for i in execs)
    if not deletes:
        return []
    filtered = any(w in _FIND_FILTERS for w in args)
    out = []
    for root in roots or ["."]:
        place = _place(root)
        if not filtered:
            out.append(f"deletes everything under {root}")
        elif place and place.startswith("/"):
            out.append(f"deletes files found under {place}")
    return out


def piped_delete(commands: list[SimpleCommand], index: int) -> list[str]:
    """'find … | xargs rm -rf': a recursive rm fed every path an unfiltered find lists (what
    'rm -rf *' does, and more: hidden files too)."""
    c = commands[index]
    if c.via != "xargs" or c.utility != "rm" or not _has_short_flag(c.args, "rR", ["--recursive"]):
        return []
    xargs = next((e for e in reversed(commands[:index]) if e.utility == "xargs"), None)
    find = next((e for e in reversed(commands[:index]) if e.utility == "find"), None)
    if xargs is None or find is None or "find" not in xargs.upstream or any(w in _FIND_FILTERS for w in find.args):
        return []
    roots = [w for w in find.args[: next((j for j, w in enumerate(find.args) if w.startswith("-") or w in "(!,"),
                                         len(find.args))]] or ["."]
    return [f"recursively deletes {_place(root) or 'everything under ' + root}" for root in roots]


def disk_writes(c: SimpleCommand) -> list[str]:
    out = [f"writes directly to the disk {r.target}" for r in c.redirections if _writes(r) and _DISK.match(r.target)]
    if c.utility == "dd":
        out += [f"dd overwrites the disk {w[3:]}" for w in c.args if w.startswith("of=") and _DISK.match(w[3:])]
    elif c.utility in ("tee", "cp"):
        out += [f"writes directly to the disk {w}" for w in _operands(c.args) if _DISK.match(w)]
    elif c.utility.startswith("mkfs") or c.utility in ("mke2fs", "mkswap", "mkdosfs", "mkntfs"):
        targets = [w for w in _operands(c.args) if w.startswith("/dev/")] or _operands(c.args)[-1:]
        out += [f"formats {t} (erases it)" for t in targets] or ["formats a disk (erases it)"]
    elif c.utility == "wipefs":
        out += [f"wipes the file-system signatures of {t}" for t in _operands(c.args)] or ["wipes a disk"]
    elif c.utility == "shred":
        out += [f"shreds the disk {w}" for w in _operands(c.args) if w.startswith("/dev/")]
    return out


# Modes that let everyone write: others' digit 2, 3, 6 or 7; o+w, a=rw, +w (symbolic, as chmod takes them).
_WORLD_WRITABLE = re.compile(r"[0-7]?[0-7]{2}[2367]|([ugo]*[oa][ugoa]*)?[+=][rwxXst]*w[rwxXst]*")


def permission_changes(c: SimpleCommand) -> list[str]:
    if c.utility not in ("chmod", "chown", "chgrp"):
        return []
    recursive = _has_short_flag(c.args, "R", ["--recursive"])
    operands = _operands(c.args)
    if c.utility == "chmod":  # modes such as -x are dash-words: take the first word that is a mode
        mode = next((w for w in c.args if re.fullmatch(r"[0-7]{3,4}|[ugoa]*[-+=][rwxXst]*(,.*)?", w)), "")
        targets = [w for w in operands if w != mode]
    else:
        mode, targets = "", operands[1:]
    what = "permissions" if c.utility == "chmod" else "ownership"
    out = []
    for target in targets:
        place = _place(target)
        world = c.utility == "chmod" and _WORLD_WRITABLE.fullmatch(mode)
        if recursive and place and place.startswith("/"):
            out.append(f"changes the {what} of everything under {place}")
        elif world and (recursive or (place and place.startswith("/"))):
            out.append(f"makes everything under {target} world-writable" if recursive
                       else f"makes {place} world-writable")
    return out


_INTERPRETERS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python2", "python3", "perl", "ruby",
                 "node", "php"}
_DOWNLOADERS = ("curl", "wget", "fetch")
_DOWNLOAD_SUBSTITUTION = re.compile(r"(\$\(|`|<\()\s*(sudo\s+)?(curl|wget|fetch)\b")


def remote_scripts(c: SimpleCommand) -> list[str]:
    if c.utility in _INTERPRETERS:
        source = next((u for u in c.upstream if u in _DOWNLOADERS), None)
        if source:
            return [f"pipes a download from {source} straight into {c.utility}"]
    if c.utility in _INTERPRETERS | {"eval", "source", "."}:
        if any(_DOWNLOAD_SUBSTITUTION.search(w) for w in c.args):
            return [f"runs a script downloaded from the internet with {c.utility}"]
    return []


def fork_bomb(c: SimpleCommand) -> list[str]:
    recursive_pipe = c.function and c.utility == c.function and c.function in c.upstream
    return ["fork bomb: starts processes until the machine hangs"] if recursive_pipe else []


def truncation(c: SimpleCommand) -> list[str]:
    """':> f', 'cat /dev/null > f', 'truncate -s 0 f': commands whose only effect is emptying f."""
    out = []
    empty_output = (c.utility in (":", "true") and not c.args) or (c.utility == "cat" and c.args == ("/dev/null",)) \
        or (c.utility in ("echo", "printf") and all(w in ("-n", "") for w in c.args))
    if empty_output:
        out += [_emptied(r.target) for r in c.redirections if _truncates(r) and r.target != "/dev/null"]
    if c.utility == "truncate" and any(w in ("-s0", "--size=0") or w == "0" for w in c.args):
        out += [_emptied(t) for t in _operands(c.args) if t != "0"]
    if c.utility == "cp" and _operands(c.args)[:1] == ["/dev/null"]:
        out += [_emptied(t) for t in _operands(c.args)[1:]]
    return out


def _emptied(target: str) -> str:
    return "erases your shell history" if _HISTORY_FILE.search(target) else f"empties {target}"


_PRECIOUS = re.compile(r"/etc/|/boot/|(~|\$HOME|\$\{HOME\})/\.(bashrc|zshrc|profile|bash_profile|zprofile|ssh/)")


def overwrites(c: SimpleCommand) -> list[str]:
    """'… > /etc/passwd': a truncating redirection onto a system or shell start-up file."""
    return [f"overwrites {r.target}" for r in c.redirections if _truncates(r) and _PRECIOUS.match(r.target)]


def move_to_null(c: SimpleCommand) -> list[str]:
    operands = _operands(c.args)
    if c.utility == "mv" and len(operands) >= 2 and operands[-1] == "/dev/null":
        return ["moves files onto /dev/null: they are lost (and /dev/null is replaced, as root)"]
    return []


def git_history(c: SimpleCommand) -> list[str]:
    if c.utility != "git":
        return []
    args = list(c.args)
    while args and args[0].startswith("-"):  # global options, some with a value: git -C dir push
        flag = args.pop(0)
        if flag in ("-C", "-c") and args:
            args.pop(0)
    if not args:
        return []
    sub, rest = args[0], args[1:]
    if sub == "push" and (_has_short_flag(rest, "f", ["--force"]) or any(w.startswith("+") for w in rest)):
        return ["force-pushes: can overwrite commits on the remote"]
    if sub == "reset" and "--hard" in rest:
        return ["git reset --hard discards uncommitted changes"]
    if sub == "clean" and _has_short_flag(rest, "f", ["--force"]) and not _has_short_flag(rest, "n", ["--dry-run"]):
        ignored = _has_short_flag(rest, "xX")
        return [f"deletes untracked{' and ignored' if ignored else ''} files (git clean)"]
    return []


def kill_everything(c: SimpleCommand) -> list[str]:
    if c.utility == "killall5":
        return ["kills every process on the machine"]
    if c.utility != "kill":
        return []
    args = list(c.args)
    if args and args[0] in ("-s", "-n", "--signal"):
        args = args[2:]
    elif args and args[0].startswith("-") and args[0] != "--":
        args = args[1:]  # the signal: 'kill -1 1234' sends SIGHUP to 1234
    return ["kills every process you can (kill -1)"] if "-1" in args else []


def power(c: SimpleCommand) -> list[str]:
    utility, args = c.utility, list(c.args)
    if utility == "systemctl" and args:
        utility, args = args[0], args[1:]
    if utility in ("init", "telinit") and args[:1] in (["0"], ["6"]):
        utility = "reboot" if args[0] == "6" else "poweroff"
    if utility == "shutdown" and _has_short_flag(args, "c"):
        return []
    if utility == "reboot" or (utility == "shutdown" and _has_short_flag(args, "r", ["--reboot"])):
        return ["reboots the machine"]
    if utility in ("shutdown", "poweroff", "halt"):
        return ["shuts the machine down"]
    return []


_NO_HISTORY = re.compile(r"(HISTFILE=(/dev/null)?|HISTSIZE=0|HISTFILESIZE=0)")


def history(c: SimpleCommand) -> list[str]:
    if c.utility == "history" and _has_short_flag(c.args, "cd"):
        return ["erases your shell history"]
    if c.utility in ("rm", "shred", "ln") and any(_HISTORY_FILE.search(w) for w in _operands(c.args)):
        return ["erases your shell history"]
    settings = list(c.assignments) + (list(c.args) if c.utility in ("export", "declare", "typeset") else [])
    if any(_NO_HISTORY.fullmatch(w) for w in settings) or (c.utility == "unset" and "HISTFILE" in c.args) \
            or (c.utility == "set" and c.args[:2] == ("+o", "history")):
        return ["turns off your shell history"]
    return []


def crontab(c: SimpleCommand) -> list[str]:
    return ["deletes your crontab"] if c.utility == "crontab" and _has_short_flag(c.args, "r") else []


COMMAND_RULES: list[Rule] = [recursive_delete, find_delete, disk_writes, permission_changes, remote_scripts,
                             fork_bomb, truncation, overwrites, move_to_null, git_history, kill_everything,
                             power, history, crontab]


# ---------------------------------------------------------------------------------------------
# Rules over the raw text (things the simple-command view loses, and any broken line)
# ---------------------------------------------------------------------------------------------


_FORK_BOMB = re.compile(r"([\w:.]+)\s*\(\s*\)\s*\{\s*\1\s*\|\s*\1\s*&")
# A redirection with no command ('> f', '; > f'): bashlex keeps no SimpleCommand for it.
_BARE_TRUNCATION = re.compile(r"(?:^|[;&|({]|&&|\|\|)\s*(?:\d?>\|?|>)\s*(?!&)([^\s;&|<>()]+)")
_QUOTED = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"")


def _unquoted(code: str) -> str:
    """The text outside quotes: echo ':(){ :|:& };:' only prints."""
    return _QUOTED.sub("''", code)


def fork_bomb_text(code: str) -> list[str]:
    return ["fork bomb: starts processes until the machine hangs"] if _FORK_BOMB.search(_unquoted(code)) else []


def bare_truncation(code: str) -> list[str]:
    targets = (m.group(1).strip("'\"") for m in _BARE_TRUNCATION.finditer(_unquoted(code)))
    return [_emptied(t) for t in targets if t and t != "/dev/null"]


TEXT_RULES: list[Callable[[str], list[str]]] = [fork_bomb_text, bare_truncation]
