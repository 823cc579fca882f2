"""Bash template metrics, after NL2Bash.

Source: Lin, Wang, Zettlemoyer, Ernst, "NL2Bash: A Corpus and Semantic Parser for
Natural Language Interface to the Linux Operating System" (LREC 2018). A command's
*template* keeps its utilities, flags and structure and replaces each argument value
by its kind (``find . -name "*.txt"`` -> ``find _PATH -name _REGEX``). The CodeFusion
paper (Singh et al., AAAI 2024) scores Bash with "the template match metric, which performs
some basic normalization, provided with the dataset".

Here a template is a bag of tokens: ``template_match`` is the cosine similarity of
token-count bags (best over references) and ``template_accuracy`` asks for an identical
bag. Flags commute for nearly every utility, so the bag ignores their order. Flags are not
qualified by utility: ``ls -l`` and ``grep -l`` share the token ``-l``.

The bashlex walk is shared with other consumers: ``parse_simple_commands`` returns every
simple command of a command line (including ones run by ``find -exec``, ``xargs``,
``sudo``, ``sh -c`` and ``$(...)``) with its wrappers, redirections and the utilities
piped into it, which is what a safety checker needs.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterator, Mapping, Sequence, Union

from core.metrics.python import MetricUnavailable

# ---------------------------------------------------------------------------
# Argument kinds (template tokens that stand for argument values)
# ---------------------------------------------------------------------------

PATH = "_PATH"  # a directory or any file-system path (find roots, cd, ls)
FILE = "_FILE"
REGEX = "_REGEX"  # glob or regular expression
NUM = "_NUM"
SIZE = "_SIZE"
TIME = "_TIME"  # timespans and dates: -mtime +7, -newermt 2020-01-01
PERM = "_PERM"
USER = "_USER"
GROUP = "_GROUP"
TYPE = "_TYPE"  # find -type letter
STR = "_STR"  # free text: echo arguments, delimiters, formats
SCRIPT = "_SCRIPT"  # sed / awk programs
HOST = "_HOST"
URL = "_URL"
SIGNAL = "_SIGNAL"
ARG = "_ARG"  # an argument of unknown kind
ASSIGN = "_ASSIGN"  # NAME=value
PLACEHOLDER = "{}"  # find -exec / xargs -I replacement string, kept as itself

# Sentinel kinds: resolved from the word itself rather than from the table.
KEEP = "=keep"  # the word is the token (git subcommands, ps aux)
GUESS = "=guess"  # _NUM when numeric, else _ARG (unknown utilities)
COMMAND = "=command"  # a shell command string (sh -c '...'), parsed recursively


# ---------------------------------------------------------------------------
# The parsed representation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Redirection:
    operator: str  # as written, fd included: '>', '>>', '2>', '<', '<<<', '2>&'
    target: str  # file name, fd number ('1' in 2>&1), or heredoc delimiter


@dataclass(frozen=True)
class SimpleCommand:
    """One utility invocation, with the noise a template drops kept for other checks."""

    utility: str  # normalised: wrappers stripped, '/usr/bin/find' -> 'find'
    args: tuple[str, ...]  # words after the utility, quotes removed by bashlex
    redirections: tuple[Redirection, ...] = ()
    wrappers: tuple[str, ...] = ()  # stripped prefixes in order, e.g. ('sudo', 'env')
    assignments: tuple[str, ...] = ()  # NAME=value words before the utility
    upstream: tuple[str, ...] = ()  # utilities earlier in the same pipeline
    via: str = ""  # how it is run: '' (directly), '$()', '-exec', 'xargs', 'sh -c', ...
    function: str = ""  # name of the enclosing shell function definition, if any


Element = Union[str, SimpleCommand]  # a structural token ('|', '&&', 'for') or a command


# ---------------------------------------------------------------------------
# Utility table: which flags take arguments, of which kind
# ---------------------------------------------------------------------------

Kinds = Union[str, tuple[str, ...]]


@dataclass(frozen=True)
class UtilitySpec:
    takes: Mapping[str, Kinds] = field(default_factory=dict)  # flag -> kind(s) of its argument(s)
    operands: tuple[str, ...] = (ARG,)  # kinds of operands in order; the last repeats
    bundled: bool = True  # getopt short options: '-la' is '-l -a', '-n5' is '-n 5'
    runs_command_at: int | None = None  # operand index where a nested command starts
    exec_flags: frozenset[str] = frozenset()  # find -exec: a command up to ';' or '{} +'
    operand_flags: frozenset[str] = frozenset()  # flags that supply the first operand (grep -e)
    literals: frozenset[str] = frozenset()  # words kept verbatim (find's '!', '(', ')')
    optional_attached: frozenset[str] = frozenset()  # optional argument, attached only: sed -i.bak
    numeric_flag: str | None = None  # 'head -5' means 'head -n 5'
    dash_operand: str | None = None  # regex of dash-words that are operands: 'chmod -x'
    assignments: bool = False  # leading NAME=value operands are settings (env)


def _takes(groups: Mapping[str, str]) -> dict[str, Kinds]:
    """{flag: kind} from {kind: 'space separated flags'}, to keep the table compact."""
    return {flag: kind for kind, flags in groups.items() for flag in flags.split()}


def _spec(takes: Mapping[str, str] | None = None, operands: tuple[str, ...] = (FILE,), **options) -> UtilitySpec:
    """A table entry; flag sets may be written as plain sets."""
    options = {k: frozenset(v) if isinstance(v, set) else v for k, v in options.items()}
    return UtilitySpec(takes=_takes(takes or {}), operands=operands, **options)


_FIND_TAKES: dict[str, Kinds] = {
    **_takes({
        REGEX: "-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname",
        TYPE: "-type -xtype",
        SIZE: "-size",
        TIME: "-mtime -atime -ctime -mmin -amin -cmin -used -newermt -newerat -newerct",
        FILE: "-newer -anewer -cnewer -samefile -fprint -fprint0 -fls",
        NUM: "-maxdepth -mindepth -links -inum -uid -gid",
        PERM: "-perm",
        USER: "-user",
        GROUP: "-group",
        STR: "-printf -fstype -regextype -context",
    }),
    "-fprintf": (FILE, STR),
}

_FIND = UtilitySpec(
    takes=_FIND_TAKES,
    operands=(PATH,),
    bundled=False,  # find's primaries are single-dash words: -name, -print0
    exec_flags=frozenset({"-exec", "-execdir", "-ok", "-okdir"}),
    literals=frozenset({"!", "(", ")", ","}),
)

_GREP = _spec(
    {REGEX: "-e --regexp --include --exclude --exclude-dir", FILE: "-f --file",
     NUM: "-A -B -C -m --max-count --after-context --before-context --context",
     STR: "--label -d -D --directories --devices"},
    (REGEX, FILE), operand_flags={"-e", "--regexp", "-f", "--file"})
_SED = _spec(
    {SCRIPT: "-e --expression", FILE: "-f --file", NUM: "-l --line-length"},
    (SCRIPT, FILE), operand_flags={"-e", "--expression", "-f", "--file"}, optional_attached={"-i"})
_AWK = _spec({FILE: "-f --file", STR: "-F --field-separator -v --assign"}, (SCRIPT, FILE),
             operand_flags={"-f", "--file"})
_COPY = _spec({PATH: "-t --target-directory", STR: "-S --suffix"})
_GZIP = _spec({STR: "-S --suffix"})
_SHELL = _spec({COMMAND: "-c", STR: "-o -O"}, (FILE, ARG))
_HEAD = _spec({NUM: "-n -c --lines --bytes"}, numeric_flag="-n")

UTILITIES: dict[str, UtilitySpec] = {
    "find": _FIND,
    "grep": _GREP, "egrep": _GREP, "fgrep": _GREP,
    "xargs": _spec(
        {PLACEHOLDER: "-I", FILE: "-a --arg-file", STR: "-d --delimiter -E",
         NUM: "-n -P -L -s --max-args --max-procs --max-lines --max-chars"},
        (ARG,), runs_command_at=0, optional_attached={"-i", "-e", "-l"}),
    "sort": _spec({STR: "-k --key -t --field-separator", FILE: "-o --output", PATH: "-T --temporary-directory",
                   SIZE: "-S --buffer-size", NUM: "--parallel"}),
    "head": _HEAD,
    "tail": _spec({NUM: "-n -c --lines --bytes -s --sleep-interval --pid"}, numeric_flag="-n"),
    "wc": _spec({FILE: "--files0-from"}),
    "ls": _spec({REGEX: "-I --ignore --hide", NUM: "-w --width -T --tabsize"}, (PATH,)),
    "rm": _spec(),
    "cp": _COPY, "mv": _COPY, "ln": _COPY,
    "chmod": _spec({FILE: "--reference"}, (PERM, FILE), dash_operand=r"-[rwxXst]+"),
    "chown": _spec({FILE: "--reference", USER: "--from"}, (USER, FILE)),
    "chgrp": _spec({FILE: "--reference"}, (GROUP, FILE)),
    "tar": _spec({FILE: "-f --file -T --files-from -X --exclude-from", PATH: "-C --directory",
                  REGEX: "--exclude", NUM: "--strip-components"}),
    "sed": _SED,
    "awk": _AWK, "gawk": _AWK,
    "cut": _spec({STR: "-d --delimiter -f --fields -c --characters -b --bytes --output-delimiter"}),
    "du": _spec({NUM: "-d --max-depth", REGEX: "--exclude", SIZE: "-B --block-size -t --threshold"}, (PATH,)),
    "df": _spec({STR: "-t -x --type --exclude-type --output", SIZE: "-B --block-size"}, (PATH,)),
    "ps": _spec({STR: "-o -O --format -C", USER: "-u -U --user", NUM: "-p --pid --ppid"}, (KEEP,)),
    "kill": _spec({SIGNAL: "-s -n"}, (NUM,), bundled=False),  # '-9', '-HUP' are whole words
    "pkill": _spec({SIGNAL: "--signal", USER: "-u -U"}, (REGEX,), bundled=False),
    "killall": _spec({SIGNAL: "-s --signal", USER: "-u --user"}, (STR,), bundled=False),
    "mkdir": _spec({PERM: "-m --mode"}, (PATH,)),
    "cd": _spec({}, (PATH,)),
    "cat": _spec(), "tac": _spec(),
    "echo": _spec({}, (STR,)), "printf": _spec({}, (STR,)),
    "tr": _spec({}, (STR,)),
    "uniq": _spec({NUM: "-f -s -w --skip-fields --skip-chars --check-chars"}),
    "ssh": _spec({FILE: "-i -F -E", NUM: "-p", USER: "-l",
                  STR: "-o -L -R -D -c -m -b -e -O -S -W -w -J -B -I -Q"}, (HOST, ARG), runs_command_at=1),
    "scp": _spec({FILE: "-i -F", NUM: "-P -l", STR: "-o -c -S -J"}),
    "rsync": _spec({STR: "-e --rsh --chmod --chown", REGEX: "--exclude --include",
                    FILE: "--exclude-from --include-from --files-from --log-file --password-file",
                    SIZE: "--max-size --min-size --bwlimit"}),
    "gzip": _GZIP, "gunzip": _GZIP, "zcat": _GZIP,
    "zip": _spec({REGEX: "-x --exclude -i --include", STR: "-P --password -b"}),
    "unzip": _spec({PATH: "-d", REGEX: "-x"}),
    "git": _spec({PATH: "-C", STR: "-c -m --message --author --format --pretty -b",
                  NUM: "-n --depth --max-count"}, (KEEP, ARG)),
    "curl": _spec({FILE: "-o --output -T --upload-file -K --config -b --cookie -c --cookie-jar",
                   STR: "-X --request -H --header -d --data --data-binary --data-raw --data-urlencode -u --user "
                        "-A --user-agent -e --referer -F --form -w --write-out",
                   NUM: "-m --max-time --connect-timeout --retry"}, (URL,)),
    "wget": _spec({FILE: "-O --output-document -o --output-file -a --append-output -i --input-file",
                   PATH: "-P --directory-prefix", STR: "-U --user-agent --header --user --password",
                   NUM: "-t --tries -T --timeout -l --level -w --wait"}, (URL,)),
    "sh": _SHELL, "bash": _SHELL, "zsh": _SHELL, "dash": _SHELL,
    "nice": _spec({NUM: "-n --adjustment"}, (ARG,), runs_command_at=0),
    "timeout": _spec({SIGNAL: "-s --signal", TIME: "-k --kill-after"}, (TIME, ARG), runs_command_at=1),
    "watch": _spec({NUM: "-n --interval"}, (ARG,), runs_command_at=0),
}

# Prefixes that only change how a command runs; the template drops them.
WRAPPERS: dict[str, UtilitySpec] = {
    "sudo": _spec({USER: "-u --user", GROUP: "-g --group", STR: "-p --prompt -h --host -r --role -t --type",
                   NUM: "-C --close-from", PATH: "-D --chdir"}, (ARG,), runs_command_at=0),
    "env": _spec({STR: "-u --unset -S --split-string", PATH: "-C --chdir"}, (ARG,),
                 runs_command_at=0, assignments=True),
    "command": _spec({}, (ARG,), runs_command_at=0),
    "nohup": _spec({}, (ARG,), runs_command_at=0),
    "time": _spec({FILE: "-o --output", STR: "-f --format"}, (ARG,), runs_command_at=0),
}

_UNKNOWN = UtilitySpec(operands=(GUESS,), bundled=False)  # don't split flags we know nothing about


# ---------------------------------------------------------------------------
# Reading one command's words against its table entry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One piece of a command's argument list, as the table reads it."""

    role: str  # 'flag' | 'value' (a flag's argument) | 'operand' | 'literal' | 'command'
    text: str  # the flag, the word, or (for 'command') what runs it: '-exec', 'xargs'
    kind: str = ""  # argument kind of a value or operand
    words: tuple[str, ...] = ()  # a nested command's words
    terminator: str = ""  # ';' or '+' closing find -exec
    placeholder: str = ""  # xargs -I replacement string in force for a nested command


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")
_NUMERIC_FLAG = re.compile(r"-\d+")


def _as_kinds(kinds: Kinds) -> tuple[str, ...]:
    return (kinds,) if isinstance(kinds, str) else tuple(kinds)


def _is_flag(word: str, spec: UtilitySpec) -> bool:
    if len(word) < 2 or not word.startswith("-"):
        return False
    return not (spec.dash_operand and re.fullmatch(spec.dash_operand, word))


def _flag_with_args(flag: str, following: Sequence[str], spec: UtilitySpec) -> tuple[list[_Item], int]:
    kinds = _as_kinds(spec.takes.get(flag, ()))
    values = following[: len(kinds)]
    return [_Item("flag", flag)] + [_Item("value", w, k) for w, k in zip(values, kinds)], len(values)


def _bundled_flags(word: str, following: Sequence[str], spec: UtilitySpec) -> tuple[list[_Item], int]:
    """getopt semantics: '-la' is '-l -a'; a letter taking an argument ends the bundle,
    and the rest of the word ('-n5', '-F,', '-i.bak') is that argument."""
    items: list[_Item] = []
    for offset in range(1, len(word)):
        flag, rest = "-" + word[offset], word[offset + 1:]
        if flag in spec.takes or flag in spec.optional_attached:
            if rest:
                kind = _as_kinds(spec.takes.get(flag, STR))[0]
                return items + [_Item("flag", flag), _Item("value", rest, kind)], 0
            more, consumed = _flag_with_args(flag, following, spec)
            return items + more, consumed
        items.append(_Item("flag", flag))
    return items, 0


def _flag_items(word: str, following: Sequence[str], spec: UtilitySpec) -> tuple[list[_Item], int]:
    """The items one flag word yields, and how many following words it consumes."""
    if word.startswith("--"):
        name, has_value, value = word.partition("=")
        if has_value:
            kind = _as_kinds(spec.takes.get(name, GUESS))[0]
            return [_Item("flag", name), _Item("value", value, kind)], 0
        return _flag_with_args(name, following, spec)
    if spec.numeric_flag and _NUMERIC_FLAG.fullmatch(word):
        return [_Item("flag", spec.numeric_flag), _Item("value", word[1:], NUM)], 0
    if spec.bundled and len(word) > 2 and word not in spec.takes:
        return _bundled_flags(word, following, spec)
    return _flag_with_args(word, following, spec)


def _until_terminator(words: Sequence[str], start: int) -> tuple[tuple[str, ...], str, int]:
    """A find -exec body: up to ';', or '+' right after '{}' (POSIX)."""
    for end in range(start, len(words)):
        if words[end] == ";" or (words[end] == "+" and end > start and words[end - 1] == "{}"):
            return tuple(words[start:end]), words[end], end + 1
    return tuple(words[start:]), "", len(words)


def _scan(words: Sequence[str], spec: UtilitySpec, utility: str) -> Iterator[_Item]:
    """Read a command's arguments (after the utility) against its table entry."""
    position, operand_index, options_ended, placeholder = 0, 0, False, ""
    while position < len(words):
        word = words[position]
        position += 1
        if word in spec.literals:
            yield _Item("literal", word)
        elif not options_ended and word == "--":
            options_ended = True
        elif not options_ended and _is_flag(word, spec):
            if word in spec.exec_flags:
                body, terminator, position = _until_terminator(words, position)
                yield _Item("flag", word)
                yield _Item("command", word, words=body, terminator=terminator)
                continue
            items, consumed = _flag_items(word, words[position:], spec)
            position += consumed
            for item in items:
                if item.kind == PLACEHOLDER:
                    placeholder = item.text
                if item.role == "flag" and item.text in spec.operand_flags:
                    operand_index = max(operand_index, 1)
                yield item
        elif spec.assignments and _ASSIGNMENT.match(word):
            yield _Item("operand", word, ASSIGN)
        elif operand_index == spec.runs_command_at:
            yield _Item("command", utility, words=tuple(words[position - 1:]), placeholder=placeholder)
            return
        else:
            yield _Item("operand", word, spec.operands[min(operand_index, len(spec.operands) - 1)])
            operand_index += 1


# ---------------------------------------------------------------------------
# Building SimpleCommands from words (wrappers, utility names)
# ---------------------------------------------------------------------------


def _utility_name(word: str) -> str:
    """'/usr/bin/find' -> 'find'; relative paths such as './run.sh' stay as written."""
    return (posixpath.basename(word) or word) if word.startswith("/") else word


def _strip_wrappers(words: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """('sudo', '-u', 'bob', 'env', 'A=1', 'find', '.') -> (('sudo', 'env'), ('A=1',), ('find', '.')).

    A wrapper that runs nothing ('sudo -i') is the command itself."""
    wrappers: list[str] = []
    assignments: list[str] = []
    words = tuple(words)
    while words and _utility_name(words[0]) in WRAPPERS:
        name = _utility_name(words[0])
        items = list(_scan(words[1:], WRAPPERS[name], name))
        wrapped = next((item.words for item in items if item.role == "command"), ())
        if not wrapped:
            break
        wrappers.append(name)
        assignments += [item.text for item in items if item.kind == ASSIGN]
        words = wrapped
    return tuple(wrappers), tuple(assignments), words


def _command_from_words(words: Sequence[str], via: str, assignments: tuple[str, ...] = (),
                        **context) -> SimpleCommand | None:
    wrappers, env_assignments, words = _strip_wrappers(words)
    if not words:
        return None
    return SimpleCommand(utility=_utility_name(words[0]), args=tuple(words[1:]), wrappers=wrappers,
                         assignments=assignments + env_assignments, via=via, **context)


# ---------------------------------------------------------------------------
# The bashlex walk
# ---------------------------------------------------------------------------

_SUBSTITUTIONS = ("commandsubstitution", "processsubstitution")
# Dataset placeholders such as '<account>' or '/home/<user>' would read as redirections.
_PLACEHOLDER_WORD = re.compile(r"(?<![^\s/=])<([A-Za-z][\w-]*)>(?![^\s/;|&)])")
_LEADING_TIME = re.compile(r"^\s*time(\s+-p)?\s+")  # bashlex has no 'time' pipelines


@dataclass(frozen=True)
class _Context:
    via: str = ""
    function: str = ""


def _children(node) -> list:
    children = list(getattr(node, "parts", None) or [])
    output = getattr(node, "output", None)
    if hasattr(output, "kind"):
        children.append(output)
    return children


def _substitutions(node, ctx: _Context) -> list[Element]:
    """Commands inside $(...), `...` and <(...) anywhere within a word or redirection."""
    found: list[Element] = []
    for child in _children(node):
        if child.kind in _SUBSTITUTIONS:
            found += _walk(child.command, replace(ctx, via="$()"))
        else:
            found += _substitutions(child, ctx)
    return found


def _redirection(node) -> Redirection:
    fd = getattr(node, "input", None)
    output = node.output
    target = str(output) if isinstance(output, int) else getattr(output, "word", "")
    return Redirection(operator=(str(fd) if isinstance(fd, int) else "") + node.type, target=target)


def _redirection_tokens(redirection: Redirection) -> list[str]:
    if redirection.operator.endswith("&") and redirection.target.isdigit():
        return [redirection.operator + redirection.target]  # 2>&1 is one idiom
    if redirection.operator.lstrip("0123456789").startswith("<<"):
        return [redirection.operator, STR]  # heredoc / herestring
    return [redirection.operator, FILE]


def _command_elements(node, ctx: _Context) -> list[Element]:
    words: list[str] = []
    assignments: list[str] = []
    redirections: list[Redirection] = []
    nested: list[Element] = []
    for part in node.parts:
        if part.kind == "word":
            words.append(part.word)
        elif part.kind == "assignment":
            assignments.append(part.word)
        elif part.kind == "redirect":
            redirections.append(_redirection(part))
        nested += _substitutions(part, ctx)
    command = _command_from_words(words, ctx.via, redirections=tuple(redirections),
                                  assignments=tuple(assignments), function=ctx.function)
    if command is None:  # a bare assignment or redirection: 'x=$(date)', '> file'
        own: list[Element] = [ASSIGN] * len(assignments)
        for redirection in redirections:
            own += _redirection_tokens(redirection)
        return own + nested
    return [command] + nested


def _pipeline_elements(node, ctx: _Context) -> list[Element]:
    """Record, on each command, the utilities piped into it (for 'curl ... | sh')."""
    elements: list[Element] = []
    upstream: list[str] = []
    for part in node.parts:
        if part.kind == "pipe":
            elements.append(part.pipe)
            continue
        stage: list[str] = []
        for element in _walk(part, ctx):
            if isinstance(element, SimpleCommand) and element.via == ctx.via:
                element = replace(element, upstream=tuple(upstream))
                stage.append(element.utility)
            elements.append(element)
        upstream += stage
    return elements


def _walk(node, ctx: _Context) -> list[Element]:
    kind = node.kind
    if kind == "command":
        return _command_elements(node, ctx)
    if kind == "pipeline":
        return _pipeline_elements(node, ctx)
    if kind == "operator":
        return [";" if node.op == "\n" else node.op]
    if kind == "reservedword":
        return [node.word]
    if kind in ("word", "assignment"):
        return [ARG if kind == "word" else ASSIGN] + _substitutions(node, ctx)
    if kind == "redirect":
        return _redirection_tokens(_redirection(node)) + _substitutions(node, ctx)
    if kind == "function":  # its body's commands remember the name (fork bombs call themselves)
        ctx = replace(ctx, function=node.name.word)
    children = list(getattr(node, "parts", None) or getattr(node, "list", None) or [])
    if kind == "list" and children and children[-1].kind == "operator" and children[-1].op in (";", "\n"):
        children.pop()  # 'ls;' is 'ls'
    elements: list[Element] = []
    for child in children:
        elements += _walk(child, ctx)
    for redirect in getattr(node, "redirects", None) or []:  # 'while ...; done < list'
        elements += _walk(redirect, ctx)
    return elements


def _prepare(cmd: str) -> str:
    cmd = _LEADING_TIME.sub("", cmd.strip())
    return _PLACEHOLDER_WORD.sub(r"'<\1>'", cmd)


def _bashlex():
    """bashlex, imported on first use: machines that only train need not install it."""
    try:
        import bashlex
    except ImportError as error:
        raise MetricUnavailable(f"bashlex is not installed ({error})") from error
    return bashlex


@lru_cache(maxsize=8192)
def _parse_elements(cmd: str, ctx: _Context = _Context()) -> tuple[Element, ...] | None:
    """Structural tokens and simple commands in source order; None when bashlex fails. Cached
    (elements are immutable): generating reads each candidate and example several times (its
    template, its arguments, its effects), and bashlex takes about a millisecond a line."""
    bashlex = _bashlex()
    prepared = _prepare(cmd)
    if not prepared:
        return None
    try:
        nodes = bashlex.parse(prepared)
        elements: list[Element] = []
        for index, node in enumerate(nodes):
            elements += ([";"] if index else []) + _walk(node, ctx)
    except Exception:  # bashlex raises ParsingError, NotImplementedError, AttributeError, ...
        return None
    return tuple(elements) or None


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

_TERMINATOR_TOKENS = {";": "\\;", "+": "+"}


def _kind_token(kind: str, word: str, placeholders: frozenset[str]) -> str:
    if word in placeholders:
        return PLACEHOLDER
    if kind == KEEP:
        return word
    if kind == GUESS:
        return NUM if _NUMBER.fullmatch(word) else ARG
    return kind


def _command_string(text: str, via: str) -> tuple[list[str], list[SimpleCommand]]:
    """Template of a command given as one string (sh -c '...', ssh host 'ls -l')."""
    elements = _parse_elements(text, _Context(via=via))
    return _elements_template(elements) if elements else ([STR], [])


def _nested_command(item: _Item, placeholders: frozenset[str]) -> tuple[list[str], list[SimpleCommand]]:
    if len(item.words) == 1 and any(c.isspace() for c in item.words[0]):
        return _command_string(item.words[0], item.text)  # ssh host 'rm -rf /tmp/x'
    command = _command_from_words(item.words, item.text)
    if command is None:
        return [], []
    extra = {item.placeholder} if item.placeholder else set()
    tokens, nested = _interpret(command, placeholders | extra)
    return tokens, [command] + nested


def _interpret(command: SimpleCommand, placeholders: frozenset[str] = frozenset({"{}"})
               ) -> tuple[list[str], list[SimpleCommand]]:
    """Template tokens of one command, and the commands it runs (find -exec, xargs, sh -c)."""
    spec = UTILITIES.get(command.utility, _UNKNOWN)
    tokens = [command.utility]
    nested: list[SimpleCommand] = []
    for item in _scan(command.args, spec, command.utility):
        if item.role in ("flag", "literal"):
            tokens.append(item.text)
        elif item.role == "command":
            inner_tokens, inner_commands = _nested_command(item, placeholders)
            tokens += inner_tokens + ([_TERMINATOR_TOKENS[item.terminator]] if item.terminator else [])
            nested += inner_commands
        elif item.kind == COMMAND:
            inner_tokens, inner_commands = _command_string(item.text, f"{command.utility} -c")
            tokens += inner_tokens
            nested += inner_commands
        else:
            tokens.append(_kind_token(item.kind, item.text, placeholders))
    for redirection in command.redirections:
        tokens += _redirection_tokens(redirection)
    return tokens, nested


def _elements_template(elements: Sequence[Element]) -> tuple[list[str], list[SimpleCommand]]:
    tokens: list[str] = []
    commands: list[SimpleCommand] = []
    for element in elements:
        if isinstance(element, str):
            tokens.append(element)
        else:
            inner_tokens, nested = _interpret(element)
            tokens += inner_tokens
            commands += [element] + nested
    return tokens, commands


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def parse_simple_commands(cmd: str) -> list[SimpleCommand] | None:
    """Every simple command in a command line, nested ones included (find -exec, xargs,
    sudo, sh -c, $(...)), in source order; None when bashlex cannot parse the line."""
    elements = _parse_elements(cmd)
    return None if elements is None else _elements_template(elements)[1]


def bash_template(cmd: str) -> list[str]:
    """The token bag of a command: utilities, flags, operators and argument kinds.

    A line bashlex cannot parse falls back to its whitespace tokens, so it can still
    match partially."""
    elements = _parse_elements(cmd)
    if elements is None:
        return cmd.split()
    return _elements_template(elements)[0]


def bash_is_valid(cmd: str) -> bool:
    """bashlex parses the command and it is not empty."""
    return _parse_elements(cmd) is not None


def _as_references(references: str | Sequence[str]) -> list[str]:
    return [references] if isinstance(references, str) else list(references)


def _cosine(a: Counter, b: Counter) -> float:
    norms = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    if not norms:
        return 0.0
    return sum(count * b[token] for token, count in a.items()) / norms


def template_match(candidate: str, references: str | Sequence[str]) -> float:
    """Cosine similarity of template token counts, best over the references (0..1)."""
    if not candidate.strip():
        return 0.0
    bag = Counter(bash_template(candidate))
    return max((_cosine(bag, Counter(bash_template(r))) for r in _as_references(references)), default=0.0)


def template_accuracy(candidate: str, references: str | Sequence[str]) -> bool:
    """The candidate's template equals some reference's (as bags: flag order is ignored)."""
    bag = Counter(bash_template(candidate))
    return bool(bag) and any(bag == Counter(bash_template(r)) for r in _as_references(references))
