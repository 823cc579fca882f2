"""What a candidate would change if the user ran it: the files it deletes or overwrites, the
processes it kills, the data it sends, the downloaded code it runs.

core.safety says what is *dangerous* (``rm -rf /``); this says what a command *does* beyond
reading, for every candidate (``rm notes.txt`` deletes notes.txt, ``kill -9 $(lsof -t -i:3000)``
kills a process): one short phrase per effect, shown beside the candidate in the picker, the
JSON and the language server's completion detail. Bash is read with the bashlex walk of the
metrics (``parse_simple_commands``: it sees through sudo, xargs, find -exec, sh -c and $(...)),
Python with ``ast``. Pure functions; nothing looks at the file system.

The picker and the ranking also use it: for a prompt that asks to *show* something
(``asks_to_show``), a candidate that only reads goes before one that deletes or kills
(``reads_first``), and when every candidate would, the read-only part of the first one is
offered too (``read_only_version``: ``lsof -t -i:3000 | xargs kill -9`` -> ``lsof -t -i:3000``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from core.metrics.bash import SimpleCommand

# What each effect's phrase starts with; DESTRUCTIVE ones are marked ⚠ in the picker and keep a
# candidate from being an editor's "preferred" action; a "show" prompt ranks those that delete or
# kill (DEMOTED) after those that only read. Not "overwrites": "list the files into files.txt"
# asks for that.
DESTRUCTIVE = ("deletes", "overwrites", "kills", "formats")
DEMOTED = ("deletes", "kills", "formats")
VERBS = DESTRUCTIVE + ("changes", "sends", "runs")


@dataclass(frozen=True)
class Effect:
    verb: str  # one of VERBS
    what: str  # "notes.txt", "the files find lists", "process 1234 (SIGKILL: no clean-up)"

    def __str__(self) -> str:
        return f"{self.verb} {self.what}"

    @property
    def destructive(self) -> bool:
        return self.verb in DESTRUCTIVE


def code_effects(code: str, lang: str) -> list[str]:
    """The phrases for a candidate in ``lang`` (CF rules only format cells: none)."""
    found = bash_effects(code) if lang == "bash" else python_effects(code) if lang == "python" else []
    return list(dict.fromkeys(str(e) for e in found))


def destructive(effects: Iterable[str], verbs: Sequence[str] = DESTRUCTIVE) -> bool:
    """Whether any of these phrases (``code_effects``) deletes, overwrites, kills or formats."""
    return any(e.split(" ", 1)[0] in verbs for e in effects)


# ---------------------------------------------------------------------------------------------
# Bash
# ---------------------------------------------------------------------------------------------


def _commands(code: str) -> list[SimpleCommand]:
    from core.safety import _commands as commands  # bashlex, or the rough splitter for broken lines

    return commands(code)


def _operands(args: Sequence[str]) -> list[str]:
    from core.safety import _operands as operands

    return operands(args)


def _flag(args: Sequence[str], letters: str, long: Iterable[str] = ()) -> bool:
    from core.safety import _has_short_flag

    return _has_short_flag(args, letters, long)


_SIGKILL = {"-9", "-KILL", "-SIGKILL", "-s9", "-sKILL"}
_UPLOAD_FLAGS = {"-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "-F", "--form", "-T",
                 "--upload-file", "--post-data", "--post-file", "--body-data", "--body-file"}
_SUBSTITUTED = re.compile(r"(?:\$\(|`)\s*(?:sudo\s+)?([\w.-]+)")  # the utility inside $(…) or `…`
_REMOTE = re.compile(r"^(?:[\w.-]+@)?[\w.-]+:(?!//)")  # host:path, user@host:path (not a URL)
_URL = re.compile(r"^(?:https?|ftp)://([^/\s:]+)")


def _fed_by(commands: list[SimpleCommand], index: int) -> str:
    """What a command run by xargs gets its words from: the utility at the head of xargs' pipe."""
    for earlier in reversed(commands[:index]):
        if earlier.utility == "xargs" and earlier.upstream:
            return earlier.upstream[0]
    return ""


def _listed(source: str) -> str:
    return f"what {source} lists" if source else "the files given on its input"


def bash_effects(code: str) -> list[Effect]:
    """Every effect of a Bash command line beyond reading, in source order."""
    commands = _commands(code)
    out: list[Effect] = []
    for i, c in enumerate(commands):
        u, args = c.utility, list(c.args)
        ops = _operands(args)
        fed = _fed_by(commands, i) if c.via == "xargs" else ""
        if u in ("rm", "rmdir", "unlink", "shred", "srm"):
            recursive = u == "rm" and _flag(args, "rR", ["--recursive"])
            ops = ["the files find matches" if w == "{}" and c.via != "xargs" else w for w in ops]
            targets = ops or ([_listed(fed)] if c.via == "xargs" else ["the files find matches"]
                              if c.via in ("-exec", "-execdir", "-ok", "-okdir") else [])
            out += [Effect("deletes", f"{t} and everything inside" if recursive else t) for t in targets]
        elif u == "find" and ("-delete" in args):
            roots = [w for w in args[: next((j for j, w in enumerate(args) if w.startswith("-") or w in "(!,"),
                                            len(args))]] or ["."]
            out += [Effect("deletes", f"the files find matches under {r}") for r in roots]
        elif u == "dd":
            out += [Effect("overwrites", w[3:]) for w in args if w.startswith("of=")]
        elif u.startswith("mkfs") or u in ("mke2fs", "mkswap", "wipefs"):
            out += [Effect("formats", t) for t in ops[-1:]] or [Effect("formats", "a disk")]
        elif u == "truncate":
            out += [Effect("overwrites", f"{t} (truncates it)") for t in ops if not re.fullmatch(r"[-+<>/%]?\d+\w*", t)]
        elif u == "tee" and not _flag(args, "a", ["--append"]):
            out += [Effect("overwrites", t) for t in ops if t != "/dev/null"]
        elif u in ("chmod", "chown", "chgrp") and _flag(args, "R", ["--recursive"]):
            what = "permissions" if u == "chmod" else "ownership"
            out += [Effect("changes", f"the {what} of everything under {t}") for t in ops[1:]]
        elif u in ("kill", "pkill", "killall", "skill", "xkill") and not {"-l", "-L", "--list"} & set(args) and \
                (ops or c.via == "xargs" or u == "xkill"):
            hard = any(w in _SIGKILL or w.upper() in ("-KILL", "-SIGKILL") for w in args) or \
                any(a in ("-s", "--signal") and b.upper().lstrip("SIG") in ("KILL", "9") for a, b in zip(args, args[1:]))
            how = " (SIGKILL: no clean-up)" if hard else ""
            names = [w for w in ops if not re.fullmatch(r"-?\d+|[A-Z]+", w)] if u != "kill" else []
            pids = [w for w in ops if u == "kill" and w not in ("-s", "--signal")]
            if u == "kill":
                target = ("process " + " ".join(pids)) if pids and not c.via else \
                    f"the processes {fed or 'its input'} lists" if c.via == "xargs" else "processes"
                inner = next((m.group(1) for m in map(_SUBSTITUTED.search, pids) if m), "")
                if inner:  # kill -9 $(lsof -t -i:3000)
                    target = f"the processes {inner} finds"
            else:
                target = "processes named " + " ".join(names or ["…"])
            out.append(Effect("kills", target + how))
        elif u == "git":
            from core.safety import git_history

            for phrase in git_history(c):
                out.append(Effect("overwrites", "commits on the remote (force-push)") if "push" in phrase
                           else Effect("deletes", "uncommitted changes (git reset --hard)") if "reset" in phrase
                           else Effect("deletes", phrase.removeprefix("deletes ")))
        elif u in ("curl", "wget") and any(w in _UPLOAD_FLAGS or w.startswith(tuple(f + "=" for f in _UPLOAD_FLAGS))
                                           for w in args):
            hosts = [m.group(1) for m in (_URL.match(w) for w in args) if m]
            out.append(Effect("sends", f"data to {hosts[0] if hosts else 'a server'}"))
        elif u in ("scp", "rsync", "sftp") and ops and _REMOTE.match(ops[-1]):
            out.append(Effect("sends", f"{' '.join(ops[:-1]) or 'files'} to {ops[-1].split(':')[0]}"))
        elif u in ("nc", "ncat", "netcat", "telnet") and len(ops) >= 2:
            out.append(Effect("sends", f"data to {ops[0]}"))
        from core.safety import remote_scripts

        if remote_scripts(c):
            out.append(Effect("runs", f"a script downloaded from the internet with {u}"))
        for r in c.redirections:  # '> file': the file is emptied first
            op = r.operator.lstrip("0123456789")
            if op in (">", ">|", "&>") and not r.target.isdigit() and r.target not in ("/dev/null", "/dev/stderr",
                                                                                        "/dev/stdout"):
                out.append(Effect("overwrites", r.target))
    from core.safety import bare_truncation

    out += [Effect("overwrites", phrase.removeprefix("empties ")) for phrase in bare_truncation(code)
            if phrase.startswith("empties ") and not any(e.what == phrase.removeprefix("empties ") for e in out)]
    return out


# ---------------------------------------------------------------------------------------------
# Python
# ---------------------------------------------------------------------------------------------

_DELETERS = {"rmtree": "recursively deletes", "remove": "deletes", "unlink": "deletes", "rmdir": "deletes",
             "removedirs": "deletes"}
_WRITE_MODES = re.compile(r"[wx]")
_SENDERS = {"post", "put", "patch", "sendmail", "send_message", "sendall", "urlopen"}


def _name(node: ast.AST) -> str:
    """'shutil.rmtree' for shutil.rmtree, 'rmtree' for a bare name, '' otherwise."""
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _shown(node: ast.AST | None) -> str:
    if node is None:
        return "a path"
    try:
        text = ast.unparse(node)
    except Exception:  # an odd node: say what kind it is
        text = type(node).__name__
    return text if len(text) <= 40 else text[:37] + "…"


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def python_effects(code: str) -> list[Effect]:
    """Every effect of a Python snippet beyond reading (calls only: what it would run)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    out: list[Effect] = []
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
    for call in calls:
        name = _name(call.func)
        last = name.rsplit(".", 1)[-1]
        first = call.args[0] if call.args else None
        if last in _DELETERS and (last != "remove" or name.startswith(("os.", "shutil."))) and \
                (name.startswith(("os.", "shutil.", "Path", "pathlib")) or last in ("rmtree", "unlink", "rmdir")):
            target = _shown(first) if first is not None else _shown(getattr(call.func, "value", None))
            out.append(Effect("deletes", f"{target} and everything inside" if last == "rmtree" else target))
        elif last == "open" and name in ("open", "io.open", "codecs.open"):
            mode = call.args[1] if len(call.args) > 1 else _keyword(call, "mode")
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and _WRITE_MODES.search(mode.value):
                out.append(Effect("overwrites", _shown(first)))
        elif last in ("write_text", "write_bytes") and isinstance(call.func, ast.Attribute):
            out.append(Effect("overwrites", _shown(call.func.value)))
        elif name in ("os.system", "os.popen") or (name.startswith("subprocess.") and _shell_true(call)):
            out.append(Effect("runs", "a shell command"))
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out += bash_effects(first.value)
        elif name in ("os.kill", "os.killpg") or (last in ("kill", "terminate") and isinstance(call.func, ast.Attribute)
                                                  and not name.startswith("os.")):
            out.append(Effect("kills", f"process {_shown(first)}" if name.startswith("os.") else
                              f"the process {_shown(call.func.value)}"))
        elif last in _SENDERS and (name.startswith(("requests.", "httpx.", "session.", "s.", "urllib.", "smtp"))
                                   or last in ("sendmail", "send_message")):
            if last != "urlopen" or _keyword(call, "data") is not None or len(call.args) > 1:
                out.append(Effect("sends", f"data to {_shown(first)}" if first is not None else "data"))
    return out


def _shell_true(call: ast.Call) -> bool:
    value = _keyword(call, "shell")
    return isinstance(value, ast.Constant) and bool(value.value)


# ---------------------------------------------------------------------------------------------
# "show me" prompts: reading first
# ---------------------------------------------------------------------------------------------

_SHOW = re.compile(r"\b(show|shows|list|lists|find|which|count|display|print|get|see|view|check|what|tell)\b",
                   re.IGNORECASE)
_CHANGE = re.compile(r"\b(delete|deletes|remove|removes|rm|kill|kills|stop|terminate|erase|wipe|clean|clear|"
                     r"purge|overwrite|truncate|empty|format|destroy|drop|uninstall|unlink|shred|end)\b",
                     re.IGNORECASE)


def asks_to_show(prompt: str) -> bool:
    """The prompt asks to see something (show, list, find, which, count, …) and says nothing of
    deleting, killing or overwriting it."""
    return bool(_SHOW.search(prompt)) and not _CHANGE.search(prompt)


def reads_first(prompt: str, effects: Sequence[Sequence[str]]) -> list[int]:
    """The order of candidates (given each one's ``code_effects``) for ``prompt``: for a prompt
    that asks to show, those that delete, kill or format go after the others (each group in its
    order); otherwise the order as it was."""
    order = list(range(len(effects)))
    if not asks_to_show(prompt):
        return order
    return sorted(order, key=lambda i: destructive(effects[i], DEMOTED))


def read_only_version(code: str) -> str:
    """The part of a Bash command that only reads, when its destructive part is a separable
    tail: a pipeline's last stages (``… | xargs kill -9``), the command inside a ``$(…)`` a
    destructive command consumes (``kill -9 $(lsof -t -i:3000)``), or find's -delete / -exec rm
    action. '' when there is none."""
    import bashlex

    try:
        parts = bashlex.parse(code)
    except Exception:  # bashlex raises its own errors and others on odd input
        return ""
    if len(parts) != 1:
        return ""
    node = parts[0]
    if node.kind == "pipeline":
        stages = [p for p in node.parts if p.kind == "command"]
        keep = []
        for stage in stages:
            if destructive(code_effects(code[stage.pos[0]:stage.pos[1]], "bash")):
                break
            keep.append(stage)
        if keep and len(keep) < len(stages):
            return code[keep[0].pos[0]:keep[-1].pos[1]].strip()
        return ""
    if node.kind != "command":
        return ""
    words = [p for p in node.parts if p.kind == "word"]
    if words and words[0].word == "find":
        text = re.sub(r"\s+-delete\b", "", code)
        text = re.sub(r"\s+-(exec|execdir|ok|okdir)\s+(sudo\s+)?(rm|shred|unlink)\b.*?(\\;|';'|\";\"|\+)", "", text)
        return text.strip() if text != code and not destructive(code_effects(text, "bash")) else ""
    for word in words:
        for sub in getattr(word, "parts", []):
            if sub.kind == "commandsubstitution":
                inner = code[sub.pos[0]:sub.pos[1]]
                inner = inner[2:-1] if inner.startswith("$(") else inner.strip("`")
                inner = inner.strip()
                if inner and not destructive(code_effects(inner, "bash")):
                    return inner
    return ""
