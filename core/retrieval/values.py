"""A value the prompt gives goes into the example's placeholder: for "show the last 20 lines of
app.log" the tldr row `tail -n count path/to/file` becomes `tail -n 20 app.log`.

tldr-pages write each value of an example as a placeholder (``{{path/to/file}}``, ``{{count}}``,
``{{user}}``); the store keeps each tldr row's placeholders (``placeholders_of``, at build time).
A number that an example's description says and its command holds ("Show last 5 lines in file",
`tail -5 path/to/file`) is a placeholder too. The prompt's values are read by their form alone:
numbers, quoted strings, paths and file names (`app.log`, `~/bin`, `*.py`), URLs, host names,
"the current directory", and the word after "named", "called" or a noun a placeholder names
("user bob" for ``{{user}}``, "port 3000" for ``{{port}}``), or before one ("the nginx service"
for ``{{service_name}}``). Each goes, in the prompt's order, to
the first free placeholder of its kind, one that names the value's noun first. A placeholder no
value fills stays as it is, for the user to see (core/retrieval/placeholders.py).

A train example has no placeholders; its own values (the arguments its description names:
"Display the contents of xx.sh", `cat xx.sh`) take the prompt's bare paths, file names, hosts and
URLs (``own_values``); quoted strings and numbers the model copies through its slots. Its implied
place, the `.` that `find .`, `du .` or `ls .` search, takes a directory the prompt names ("... in
the /testbed directory" -> `find /testbed ...`): NL2Bash writes most prompts for the current
directory, so without it a prompt's own directory was lost (InterCode-ALFA, docs/results.md).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from core.data.literals import NUMBER, QUOTED

# A placeholder's kind, read from its text (tldr's own naming: CONTRIBUTING.md's "placeholders").
_NUMERIC = frozenset("""count n number num lines seconds minutes hours days size amount length limit depth
level width height port pid timeout interval percent times bytes index offset line column delay""".split())
_USER = frozenset("user username user_name owner login".split())
_HOST = frozenset("host hostname remote_host domain example.com ip_address server address ip".split())
_URL = frozenset("url https://example.com http://example.com".split())
# A path's placeholder: tldr writes them path/to/...; a bare "file" or "directory" counts too.
_PATHISH = re.compile(r"^(path/to/|~/|/)|(^|_)(file|directory|dir|folder|path)s?(\d*|_or_directory\d*)$")
# A noun of the prompt that a placeholder's text may name, and what it names there. A bare word
# counts as a value only after one of these ("user bob", "branch feature", "port 3000"): after
# "directory" or "command", the next word is seldom a name ("copy a directory recursively").
_NOUN_ALIASES = {"folder": "directory", "dir": "directory", "proc": "process", "named": "name", "called": "name"}
_NAMING_NOUNS = frozenset("user group name branch port host process pid service package container".split())
# A noun that names the word before it: "the nginx service", "the python3 command", "the feature
# branch" (after "the", and not a word that says which one: "the remote branch"). Not "user" or
# "process", whose word before is mostly an adjective ("the full user and domain names").
_NAMED_BEFORE = frozenset("service package command executable program binary container group branch".split())
_WHICH = frozenset("""running last first next previous same default remote local whole entire installed active given
specified following other parent child foreground background system shell original old latest full right correct
wrong primary specific proper exact""".split())
# A noun's next word that makes one noun with it: "process id", "user name", "branch name".
_COMPOUND = frozenset("id ids name names number numbers".split())
_STOP = frozenset("a an the of in on to and or for with from by all any each this that it its is are my "
                  "me into under current given named called new some every".split())
_NO_NAME_AFTER = _STOP | _COMPOUND  # words that are no name after a naming noun
_NO_NAME_BEFORE = _STOP | _WHICH  # ... nor before one
# Forms of a value typed in a prompt.
_URL_VALUE = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
_HOST_VALUE = re.compile(r"^(?:[a-z0-9-]+\.)+(?:com|org|net|io|dev|edu|gov|co|uk|de|fr|local|lan|internal)$")
_IP_VALUE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
# A path starts at / ~ . or ends with /; a word/word with no such mark is English ("normal/regular
# files", "and/or") unless its last part has an extension (src/main.c).
# A file name is a name and an extension with a letter (`app.log`, `.bashrc`; not `file1..40000`).
_EXT = r"\.(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,8}"
_ROOTED = r"^(?:~|\.{1,2})?/\S*$"  # /tmp, ~/bin, ./src: a path by its start alone
_PATH_VALUE = re.compile(_ROOTED + r"|^\S+/$|^\S+/\S*" + _EXT + r"$|^\*?\w[\w-]*(?:\.\w[\w-]*)*" + _EXT + "$"
                         r"|^\*\.\w+$|^\.\w[\w-]*$")
_HERE = re.compile(r"\b(?:the |this )?(?:current|working) (?:directory|folder|dir)\b|\bthis (?:directory|folder)\b")
_ARTICLE = re.compile(r"(?:^|\s)(?:a|an)\s+$", re.I)
_HOME = re.compile(r"\b(?:my|the) home (?:directory|folder|dir)\b")


@dataclass(frozen=True)
class Value:
    text: str
    kind: str  # num, str, path, file, dir, url, host, word
    noun: str = ""  # the word before it that says what it is ("user", "port"), or ""


def placeholders_of(raw: str) -> list[str]:
    """A tldr command's value placeholders as the stored command writes them (core/data/tldr.py),
    in order, once each: not the option ones (``{{[-r|--recursive]}}``, ``{{-p}}``)."""
    from core.data.tldr import PLACEHOLDER, placeholder_text

    out: list[str] = []
    for m in PLACEHOLDER.finditer(raw):
        text = placeholder_text(m)
        if text and not text.startswith("-") and not m.group(1).startswith("[-") and text not in out:
            out.append(text)
    return out


def slot_kinds(placeholder: str) -> set[str]:
    """The kinds of value a placeholder takes."""
    t = placeholder.lower()
    last = t.rsplit("/", 1)[-1]
    if t.isdigit() or t in _NUMERIC or last in _NUMERIC or t.endswith(("_count", "_number", "_seconds")):
        return {"num"}
    if t in _USER:
        return {"word", "str"}
    if t in _URL or t.startswith(("http://", "https://")):
        return {"url", "str"}
    if t in _HOST:
        return {"host", "word", "str"}
    if _PATHISH.search(t) or " " in t and _PATHISH.search(t.split()[0]):
        kinds = {"path", "str"}
        if "dir" in t or "folder" in t:
            kinds.add("dir")
        if "file" in t or not ("dir" in t or "folder" in t):
            kinds.add("file")
        return kinds
    return {"word", "str"}


def prompt_values(prompt: str) -> list[Value]:
    """The values a prompt gives, in its order."""
    found: list[tuple[int, Value]] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, value: Value) -> None:
        if not any(s < end and start < e for s, e in taken):
            taken.append((start, end))
            found.append((start, value))

    for m in QUOTED.finditer(prompt):
        text = next(g for g in m.groups() if g is not None)
        # A quoted path is a path ('/system/folder1'); any other quoted text a string.
        kind = _path_kind(text) if re.match(_ROOTED, text) else "str"
        add(m.start(), m.end(), Value(text, kind, _noun_before(prompt, m.start())))
    for m in _HERE.finditer(prompt.lower()):
        add(m.start(), m.end(), Value(".", "dir"))
    for m in _HOME.finditer(prompt.lower()):
        add(m.start(), m.end(), Value("~", "dir"))
    for m in re.finditer(r"\S+", prompt):
        word = m.group(0).rstrip(".,;:!?)").lstrip("(")
        start = m.start() + (m.group(0).index(word) if word else 0)
        if not word:
            continue
        noun = _noun_before(prompt, start)
        low = word.lower()
        if _URL_VALUE.match(low):
            add(start, start + len(word), Value(word, "url", noun))
        elif _HOST_VALUE.match(low) or _IP_VALUE.match(low):
            add(start, start + len(word), Value(word, "host", noun))
        elif NUMBER.fullmatch(word):
            add(start, start + len(word), Value(word, "num", noun))
        elif _PATH_VALUE.match(word) and re.search(r"[^\W_]{2}", word) \
                and not _ARTICLE.search(prompt[:start]):  # "a tar.gz archive" names a format, not a file
            add(start, start + len(word), Value(word, _path_kind(word), noun))
        elif noun in _NAMING_NOUNS and low not in _NO_NAME_AFTER and re.fullmatch(r"[\w@:.+-]+", word):
            add(start, start + len(word), Value(word, "word", noun))
        elif (after := _noun_after(prompt, start + len(word))) and low not in _NO_NAME_BEFORE \
                and re.fullmatch(r"[a-z0-9][\w.+-]*", low) and prompt[:start].lower().endswith("the "):
            add(start, start + len(word), Value(word, "word", after))
    return [v for _, v in sorted(found, key=lambda f: f[0])]


def _path_kind(word: str) -> str:
    return "dir" if word.endswith("/") or word in ("~", ".", "..") else "file" if re.search(r"\.\w+$", word) else "path"


def _noun_before(prompt: str, start: int) -> str:
    """The word just before a value that says what it is: "named"/"called" (-> "name"), or any
    plain word but a stop word ("user", "port", "branch"); "" after punctuation or a value."""
    before = prompt[:start].split()
    if not before or not re.fullmatch(r"[A-Za-z_]+", before[-1]):
        return ""
    w = before[-1].lower()
    return _NOUN_ALIASES.get(w, "" if w in _STOP else w)


def _noun_after(prompt: str, end: int) -> str:
    """The noun just after a word that names it ("the nginx service" -> "service"), or ""."""
    m = re.match(r"\s+([A-Za-z]+)\b", prompt[end:])
    return m.group(1).lower() if m and m.group(1).lower() in _NAMED_BEFORE else ""


def _names(placeholder: str, noun: str) -> bool:
    return bool(noun) and (noun in re.split(r"[^a-z0-9]+", placeholder.lower()) or
                           (noun == "name" and "name" in placeholder.lower()))


def _site(code: str, text: str) -> re.Pattern | None:
    if text.isdigit():
        p = re.compile(r"(?<![\w.])" + re.escape(text) + r"(?!\w|\.\d)")
    else:
        p = re.compile(r"(?<![\w./~-])" + re.escape(text) + r"(?![\w/-])")
    return p if p.search(code) else None


def own_numbers(nl: str, code: str) -> list[str]:
    """The numbers an example's description says and its command holds ("every 2 seconds", `-s 2`)."""
    return [m.group(0) for m in NUMBER.finditer(nl) if _site(code, m.group(0))]


@dataclass(frozen=True)
class Slot:
    text: str  # as the command holds it
    kinds: frozenset[str]  # the kinds of value it takes
    names: str  # what a value's noun is matched against ("process_name"; "user")


def placeholder_slot(text: str) -> Slot:
    return Slot(text, frozenset(slot_kinds(text)), text)


# An argument's kind in the Bash metrics' table (core/metrics/bash.py) as a slot's kinds and name.
_ARGUMENT_SLOTS = {"_FILE": ({"file", "path", "str"}, ""), "_PATH": ({"dir", "path", "file", "str"}, ""),
                   "_REGEX": ({"str"}, ""), "_USER": ({"word", "str"}, "user"), "_GROUP": ({"word", "str"}, "group"),
                   "_HOST": ({"host", "str"}, "host"), "_URL": ({"url", "str"}, "")}


def fill(code: str, slots: list, prompt: str, kinds: frozenset[str] | None = None) -> str:
    """``code`` with the prompt's values in its ``slots`` (Slot, or a tldr placeholder's text; in
    the command's order); ``kinds``: only values of these kinds. A value the command holds already
    is not put in again."""
    free = [s if isinstance(s, Slot) else placeholder_slot(s) for s in slots]
    for value in prompt_values(prompt):
        if kinds is not None and value.kind not in kinds:
            continue
        free = [s for s in free if _site(code, s.text)]  # a value put in may have taken another's text
        if not free:
            break
        if _holds(code, value.text):  # there already: its slot is taken
            free = [s for s in free if s.text.rstrip("/") != value.text.rstrip("/")]
            continue
        # Any path fits a path's slot, but a file name not a directory's (`find notes.txt`, `du *.txt`).
        fits = [s for s in free if value.kind in s.kinds
                or (value.kind in ("file", "dir", "path") and "path" in s.kinds
                    and not (value.kind == "file" and "dir" in s.kinds and "file" not in s.kinds))
                or (value.noun and _names(s.names, value.noun) and value.kind in ("word", "str", "num"))]
        if value.kind == "word":  # a bare word only where a slot names its noun, never a path's
            fits = [s for s in fits if "path" not in s.kinds and
                    (_names(s.names, value.noun) or (value.noun == "user" and s.names in _USER))]
        if not fits:
            continue
        best = max(fits, key=lambda s: (_names(s.names, value.noun), value.kind in s.kinds, -free.index(s)))
        # The implied "here" is one argument (find's root); a dot elsewhere is the command's own.
        code = _site(code, best.text).sub(lambda _: _shell(value.text), code, count=int(best.text in (".", "./")))
        free.remove(best)
    return code


def _shell(text: str) -> str:
    """A value as it can stand in the command: quoted when it holds a space or a shell character."""
    return text if re.fullmatch(r"[\w@%+=:,./~*-]+", text) else shlex.quote(text)


def own_values(code: str, example, prompt: str) -> list[Slot]:
    """A curated example's own values that a candidate still holds: its command's arguments (paths,
    files, patterns, users, hosts, URLs) that its description names ("Display the contents of
    xx.sh", `cat xx.sh`) and the prompt does not hold as a word of its own (`data.csv` is not in
    "/system/folder1/data.csv"), the places where the prompt's values belong; and its first `.`
    as a directory argument, the place it searches, for a directory of the prompt only."""
    from core.metrics.python import MetricUnavailable
    from core.retrieval.placeholders import _named, arguments

    try:
        own = set(arguments(example.code))  # (word, kind): a word may stand twice, as two kinds
        found = arguments(code)
    except (MetricUnavailable, RecursionError):
        return []
    out: list[Slot] = []
    for word, kind in found:
        if any(s.text == word for s in out) or (word, kind) not in own:
            continue
        if word in (".", "./") and kind in ("_PATH", "_FILE"):
            # The example's implied place ("find . -name ...": here); a directory the prompt names goes there.
            out.append(Slot(word, _PLACE, ""))
        elif word.startswith("$") and kind in ("_PATH", "_FILE") and not _site(prompt, word):
            # A variable as a path (`mkdir $dir`, `gzip "$file"`) stands for one the user gives; a
            # directory's (`find $LOGDIR`) for a directory.
            out.append(Slot(word, _PLACE if kind == "_PATH" else frozenset(_ARGUMENT_SLOTS[kind][0]), ""))
        elif len(word) > 1 and "$" not in word and _named(word, example.nl) and not _site(prompt, word):
            kinds, names = _ARGUMENT_SLOTS[kind]
            out.append(Slot(word, frozenset(kinds), names))
    return out


def missing_values(prompt: str, code: str) -> int:
    """How many of the prompt's paths, file names, numbers, hosts, URLs and names ("named
    firefox") a candidate lacks. Not its quoted strings: NL2Bash quotes patterns that a command
    writes otherwise (".doc" as `-name '*.doc'`), and a candidate that holds one as it stands is
    often of another shape; nor the word after a noun ("a user interactively", "a process using"):
    tldr's descriptions put adverbs there. "The current directory" and "my home directory" count
    as said, as a command often says them by omission."""
    return sum(1 for text in _counted_values(prompt) if not _holds(code, text))


@lru_cache(maxsize=256)
def _counted_values(prompt: str) -> tuple[str, ...]:
    """missing_values' values of a prompt, read once for all its candidates."""
    return tuple(v.text for v in prompt_values(prompt) if v.kind != "str" and (v.kind != "word" or v.noun == "name")
                 and not (v.kind == "dir" and v.text in (".", "~")))


# "larger than 100MB", "older than 30 days", "in the last 7 days": which way a find test's number
# must point (`-size +100M`, `-mtime +30`, `-mtime -7`). A size has a size's unit; a time a time's.
_SIZE_UNIT = r"\s*(?:b|bytes?|c|k|kb|kib|kilobytes?|m|mb|mib|megabytes?|g|gb|gib|gigabytes?)\b"
_TIME_UNIT = r"\s*(?:min(?:ute)?s?|h(?:ou)?rs?|days?|weeks?)\b"
_MORE = r"(?:larger|bigger|greater|more|over|above|exceeding|at least)(?:\s+than)?"
_LESS = r"(?:smaller|less|fewer|under|below|at most)(?:\s+than)?"
_COMPARED = [
    ("size", "+", re.compile(rf"\b{_MORE}\s+\d+(?:\.\d+)?{_SIZE_UNIT}", re.I)),
    ("size", "-", re.compile(rf"\b{_LESS}\s+\d+(?:\.\d+)?{_SIZE_UNIT}", re.I)),
    ("time", "+", re.compile(rf"\b(?:older\s+than\s+(?:\d+|an?|one){_TIME_UNIT}|(?:more\s+than|over)\s+(?:\d+|an?|one)"
                             rf"{_TIME_UNIT}\s+(?:ago|old)|not\s+(?:been\s+)?(?:modified|accessed|changed)\s+"
                             rf"(?:in|for|within)\s+(?:the\s+)?(?:last|past)\b)", re.I)),
    ("time", "-", re.compile(rf"\b(?:(?:in|within|during)\s+the\s+(?:last|past)\b|(?:newer|less)\s+than\s+(?:\d+|an?|one)"
                             rf"{_TIME_UNIT}|(?:within|in)\s+(?:\d+|an?|one){_TIME_UNIT})", re.I)),
]
# "do not search sub directories", "but not in its subdirectories": a find without -maxdepth goes there.
_SHALLOW = re.compile(r"\b(?:do not|don't|not|without)\s+(?:search(?:ing)?|go(?:ing)?|look(?:ing)?|descend(?:ing)?|"
                      r"recurs\w*)(?:\s+in|\s+into)?\s+(?:the\s+)?sub[- ]?(?:directories|dirs|folders)\b|"
                      r"\bbut\s+not\s+(?:in\s+)?(?:its\s+|it's\s+|the\s+)?sub[- ]?(?:directories|dirs|folders)\b|"
                      r"\bnon[- ]recursive(?:ly)?\b", re.I)
_FIND = re.compile(r"(?<![\w-])find\b")
_FIND_TEST = {"size": re.compile(r"(?<!\S)-size\s+([+-]?)(\d+)"),
              "time": re.compile(r"(?<!\S)-[amc](?:time|min)\s+([+-]?)(\d+)")}


def contradictions(prompt: str, code: str) -> int:
    """How many of a candidate's find tests point the other way than the prompt's comparison (or
    test equality): `find . -size -100M` for "files larger than 100MB", `-mtime +7` for "in the last
    7 days". A prompt that compares both ways on one kind says nothing of it here. And a find
    that descends into subdirectories (no -maxdepth) where the prompt says not to."""
    wants, shallow = _compared(prompt)
    out = int(shallow and bool(_FIND.search(code)) and "-maxdepth" not in code)
    for kind, want in wants:
        # (`-mtime 0` is "less than a day ago": the last day's way)
        out += sum(1 for m in _FIND_TEST[kind].finditer(code)
                   if (m.group(1) or ("-" if int(m.group(2)) == 0 else "")) != want)
    return out


@lru_cache(maxsize=256)
def _compared(prompt: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    """What contradictions reads of a prompt, once for all its candidates: (kind, the sign it
    wants) for each kind it compares one way only, and whether it says not to descend."""
    found: dict[str, set[str]] = {}
    for kind, sign, pattern in _COMPARED:
        if pattern.search(prompt):
            found.setdefault(kind, set()).add(sign)
    wants = tuple((kind, next(iter(signs))) for kind, signs in found.items() if len(signs) == 1)
    return wants, bool(_SHALLOW.search(prompt))


def _holds(code: str, value: str) -> bool:
    """Whether the command holds the value as a word of its own, with or without a trailing slash
    (`/tmp/` for "/tmp")."""
    return any(_site(code, form) for form in {value, value.rstrip("/"), value.rstrip("/") + "/"} if form)


def fill_example(code: str, example, prompt: str) -> str:
    """A candidate that edits ``example`` with the prompt's values where the example had its own:
    a tldr example's placeholders (Example.placeholders) and the numbers its description says; a
    train example's values that its description names, its implied place (`.`) and its variables
    as paths (own_values), by a path, file name, host or URL of the prompt (the model copies quoted
    strings and numbers through its own slots, not a bare "setup_nl2b_fs_1.sh"); then a directory
    still missing before a bare glob (`md5sum /testbed/*.java`)."""
    source = getattr(example, "source", "")
    if source == "tldr":
        return fill(code, list(getattr(example, "placeholders", ())) + own_numbers(example.nl, example.code), prompt)
    values = prompt_values(prompt) if source == "train" else []
    # Not where the prompt quotes text with a slash that is no path ('s/a/b/', 'a/b c'): the model
    # copies quoted text through its slots, and a path would take its place.
    if any(v.kind in _TRAIN_KINDS for v in values) and not any(v.kind == "str" and "/" in v.text for v in values):
        return _into_glob(fill(code, own_values(code, example, prompt), prompt, kinds=_TRAIN_KINDS), values)
    return code


def _into_glob(code: str, values: list[Value]) -> str:
    """A directory the prompt names that the command still lacks goes before its first bare glob
    operand: "the .java files in the /testbed directory", `md5sum *.java` -> `md5sum /testbed/*.java`
    (not an option's pattern: `-name *.sql` stays)."""
    places = [v.text for v in values if v.kind in ("dir", "path") and v.text not in (".", "..") and not _holds(code, v.text)]
    for m in _BARE_GLOB.finditer(code) if places else ():
        before = code[:m.start()].split()
        if not before or not before[-1].startswith("-"):
            return code[:m.start()] + _shell(places[0].rstrip("/") + "/") + m.group(0) + code[m.end():]
    return code


_BARE_GLOB = re.compile(r"(?<!\S)\*(?:\.\w+)?(?![^\s;|&)])")
# The values a train example's own take: paths, file names, hosts, URLs, and a bare word only where
# the example's value is a user's or a group's (fill's rule for words: "owned by the user alice",
# `find / -user comp` -> `find / -user alice`).
_TRAIN_KINDS = frozenset({"file", "dir", "path", "host", "url", "word"})
_PLACE = frozenset({"dir", "path"})  # a directory's slot: no file name goes there
