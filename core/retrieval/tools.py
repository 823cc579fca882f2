"""The tool a command runs, and the tool a prompt names: what lets rows of every source compete.

bm25 over every source put tldr's terse rows for niche tools first ("show disk usage of the
current directory" -> `gdu`, where train has `du`); the ranking (core/retrieval/ranker.py) reads
these signals to tell a mainstream tool from a niche one and to follow a prompt that names its tool
("use jq to ...", "with curl", "git ...", "`tar`"), the cheapest strong signal there is.

The tool is the command's first word after `sudo`, `env` and variable assignments: a cheap
stand-in for core.metrics.tldr.first_utility that reads every row of the store in about 0.1 s.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Words a command line starts with that run another command.
_WRAPPERS = {"sudo", "env", "nohup", "time", "nice", "exec", "command", "builtin"}
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# A word that names a tool when it comes after one of these (or before "command"/"utility").
_CUES = {"use", "using", "via", "run", "runs", "call", "invoke"}
_WEAK_CUES = {"with", "through"}  # "with curl", but "files with size ...": not for common words
_AFTER = {"command", "utility", "tool", "cli", "program", "subcommand"}
# A tool named in a prompt: letters, digits and - . _ + (docker-compose, yt-dlp, 7z, g++).
_WORD = re.compile(r"[a-z0-9][a-z0-9._+-]*")
# A word that can be a tool's name, without a sentence's full stop after it ("... with du." is du).
TOOL_WORD = re.compile(r"[a-z0-9](?:[a-z0-9._+-]*[a-z0-9+])?")
# Words that are tools but mostly plain English in a request: named only with a cue (or in
# backquotes), never by the word alone.
COMMON_WORDS = frozenset("""
a at be bc cal cat cd chat clear column comm command compare convert copy count cut date dd df diff dig
echo env expand expr false file find fold free from go groups head help history host id install join
kill last less let link list look make man mark more mount mv nice nl open pass paste patch print
printf read rename reset rev say script see seq set shift show size sleep sort split stat strings
sum sync tail tee test time top touch tr true type unexpand uniq units unlink up watch wait wc what
which who whoami write yes zip apply base basename dirname do done edit for if in is it of on or the
then to until view while with use using via run runs call invoke all new get add remove delete
display search replace create start stop restart enable disable check update upgrade
""".split())


@lru_cache(maxsize=65536)
def tool_of(code: str) -> str:
    """The tool a command line runs first: `sudo du -sh .` -> du, `/usr/bin/git log` -> git."""
    for word in code.split():
        if _ASSIGN.match(word) or word in _WRAPPERS or word.startswith("-"):
            continue
        return word.strip("(){}`$'\"").rsplit("/", 1)[-1].lower()
    return ""


_FILE_KIND = re.compile(r"\b([a-z0-9][a-z0-9+-]*)\s+files?\b")


def file_kinds(prompt: str) -> set[str]:
    """The words that say what kind of file a prompt means ("python files", "the php file"): a
    kind, not a tool to run."""
    return set(_FILE_KIND.findall(prompt.lower()))


def named_tools(prompt: str) -> tuple[set[str], set[str]]:
    """The words of a prompt that could name a tool: (named with a cue — after "use", "with", ...,
    before "command", in backquotes, or first in an imperative that starts with a tool's name —,
    every such word). Common English words only count with a cue."""
    text = prompt.lower()
    quoted = set(re.findall(r"`([^`\s]+)", text))
    words = _WORD.findall(text)
    cued = set(quoted)
    for i, w in enumerate(words):
        if (i > 0 and words[i - 1] in _CUES) or (i + 1 < len(words) and words[i + 1] in _AFTER) \
                or (i > 0 and words[i - 1] in _WEAK_CUES and w not in COMMON_WORDS) \
                or (i == 0 and w not in COMMON_WORDS):
            cued.add(w)
    kinds = file_kinds(prompt)
    cued -= kinds - quoted  # "run the python files" names no python to run
    plain = {w for w in words if len(w) >= 2 and w not in COMMON_WORDS} - kinds
    return cued, plain | cued


# A command's own words: its tool and a subcommand (`git reset`, `systemctl restart`), not a value.
_COMMAND_WORD = re.compile(r"[a-z][a-z0-9_+-]*")


def command_words(code: str) -> list[str]:
    """The words that say which command a line runs: the tool and, when the next word is a bare
    lower-case word, that word (a subcommand, or an argument that reads like one)."""
    words = code.split()
    start = next((i for i, w in enumerate(words) if not (_ASSIGN.match(w) or w in _WRAPPERS)), len(words))
    out = words[start:start + 1]
    if out and start + 1 < len(words) and _COMMAND_WORD.fullmatch(words[start + 1]):
        out.append(words[start + 1])
    return out


# A word's pieces that say something: letters and digits, two or more (`-r` says nothing new).
_PIECE = re.compile(r"[^\W_]{2,}")


def kept_command(candidate: str, example, prompt: str = "") -> str:
    """The candidate, or the example it edits as it stands where the model changed which command
    runs, or wrote words that are neither the example's nor the prompt's. The model learned to
    edit the train split's rows; a tldr or documentation row's command words it can garble
    (`uptime` -> `tailime`, `git reset` -> `gityn`) and so its arguments (`systemctl cat|edit unit`
    -> `systemctl cat|}/ last`), and what a row from those sources is worth is its command and the
    prompt's values (values.fill_example puts those into the row)."""
    if getattr(example, "source", "train") in ("train", "user", "django"):
        return candidate
    words = command_words(example.code)
    if command_words(candidate)[: len(words)] != words:
        return example.code
    known = {p.lower() for p in _PIECE.findall(example.code + " " + prompt)}
    return candidate if all(p.lower() in known for p in _PIECE.findall(candidate)) else example.code
