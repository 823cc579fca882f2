"""What a command's flags do, read from the man pages of the machine that builds the store:
evidence that a row's flags do what the prompt asks, DocPrompting-style (Zhou et al. 2023).

"list files sorted by size" has `sort` and `ls -lSR` among its rows; `ls`'s man page says of
`-S` "sort by file size, largest first". "download a file with curl keeping its remote name":
`curl -O` is "Write output to a local file named like the remote file we get". And `md5sum -c`
("read checksums from the FILEs and check them") is not what "compute the md5 checksum" asks.

``cf examples build --docs`` reads the man page of each tool its Bash rows run (and a subcommand's
own page, `git-push`), splits each page's option list into entries, and keeps of each entry the
word stems only (OPTIONS_BLOB: an index of which words describe which flag, never the text, which
stays under each package's licence). The ranking (core/retrieval/ranker.py) reads how many flags
of a row's first command say nothing the prompt says: a command that sets options nobody asked
for is an example of something else ("remove directory tree": `find . -type d -name pattern -exec
rm -r`, whose `-name` filters by a name the prompt never gave, against `rm -r`). The tool's own
name, which its page's entries repeat, says nothing of a flag.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zlib
from functools import lru_cache
from typing import Iterable, Sequence

OPTIONS_BLOB = "option-stems"  # zlib'd JSON: page -> flag -> its entry's stems, space-separated
# An option entry's first line: indented 5 to 8 columns (man's default), a flag first.
_ENTRY = re.compile(r"^( {5,8})(-{1,2}[A-Za-z0-9?#@][\w-]*)")
_FLAG = re.compile(r"(?:^|(?<=[\s,\[|]))(-{1,2}[A-Za-z0-9?#@][\w-]*)")
# Words that start a nested command in a template (core.metrics.bash.bash_template).
_STARTS = {"|", "||", "&&", ";", "&", "(", "$(", "`", "-exec", "-execdir", "-ok", "-okdir"}
_RUNNERS = {"xargs", "sudo", "nohup", "time", "env", "nice", "watch", "timeout", "exec"}
# Not "all" (`--all`) nor "not" (`--invert-match` is "select non-matching lines").
_STOP = frozenset("""a an the of in on to and or for with from by any each this that these those it its is are be
as at into under no if only one also when which than then this can will may such use used""".split())


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stems(text: str) -> frozenset[str]:
    """The stems of a text's content words ("sorted by sizes" -> sort, size)."""
    words = [w for w in re.findall(r"[a-z][a-z0-9]+", text.lower()) if w not in _STOP]
    return frozenset(_stemmer().stemWords(words))


def parse_options(page: str) -> dict[str, str]:
    """flag -> its entry's text, from a man page as `man -P cat` renders it: an entry starts with
    a flag indented 5 to 8 columns (`-S`, `-a, --all`, `--delete`, `-name pattern`) and goes on
    with the lines indented deeper, or after two spaces on its own line (`-C     list entries by
    columns`); an entry's long names come first (`-a, --all` -> "all: do not ignore ..."). The first
    entry of a flag wins."""
    lines = page.splitlines()
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _ENTRY.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        head, _, rest = lines[i].strip().partition("  ")
        body = [rest.strip()] if rest.strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            if lines[i].strip():
                body.append(lines[i].strip())
            elif body:  # an entry's paragraph ends at a blank line
                break
            i += 1
        flags = _FLAG.findall(head)
        # A long name says what the flag does too (`--all`, `--remote-name`, `--human-readable`).
        names = " ".join(f[2:].replace("-", " ") for f in flags if f.startswith("--"))
        for flag in flags:
            out.setdefault(flag, f"{names}: {' '.join(body)}" if names else " ".join(body))
    return out


def man_page(name: str) -> str:
    """A man page as plain text (wide, no overstrikes), or "" where man has none."""
    env = dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    try:
        text = subprocess.run(["man", "-P", "cat", name], capture_output=True, text=True, env=env,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return re.sub(r".\x08", "", text)


def commands(tokens: Sequence[str]) -> list[tuple[str, str, list[str]]]:
    """(tool, subcommand or "", flags) of each command in a template (core.metrics.bash's tokens:
    `ls -l -S | head -n _NUM`): a tool starts the template, and after a pipe, a list operator,
    `-exec` or a runner's own flags (`xargs -0 rm -f`)."""
    out: list[tuple[str, str, list[str]]] = []
    start = True
    for t in tokens:
        if t in _STARTS:
            start = True
        elif start:
            if not t.startswith(("-", "_", "{", "\\")):
                out.append((t, "", []))
                start = False
        elif out:
            tool, sub, flags = out[-1]
            if t.startswith("-") and len(t) > 1:
                flags.append(t.split("=", 1)[0])
            elif tool in _RUNNERS and not t.startswith(("_", "{", "\\")):
                out.append((t, "", []))
            elif not sub and not flags and re.fullmatch(r"[a-z][a-z0-9-]*", t):
                out[-1] = (tool, t, flags)
    return out


def build_blob(templates: Iterable[Sequence[str]], available: set[str], log=None) -> bytes:
    """OPTIONS_BLOB for the tools (and `tool-subcommand` pages) these templates run that have a
    man page here (``available``: matcher.man_lines' names)."""
    pages = set()
    for tokens in templates:
        for tool, sub, _ in commands(tokens):
            if f"{tool}-{sub}" in available:
                pages.add(f"{tool}-{sub}")
            if tool in available:
                pages.add(tool)
    table = {}
    for n, page in enumerate(sorted(pages), 1):
        entries = {flag: " ".join(sorted(stems(text))) for flag, text in parse_options(man_page(page)).items()}
        if entries := {f: s for f, s in entries.items() if s}:
            table[page] = entries
        if log and n % 100 == 0:
            log(f"option stems: {n} of {len(pages)} man pages")
    return zlib.compress(json.dumps(table, separators=(",", ":"), sort_keys=True).encode(), 9)


class OptionIndex:
    """A store's OPTIONS_BLOB, read once: each flag's stems by its man page (a page's sets made
    when a row first asks for it: all at once took 80 ms of a cold start)."""

    def __init__(self, blob: bytes | None):
        self._table = json.loads(zlib.decompress(blob)) if blob else {}
        self._pages: dict[str, dict[str, frozenset[str]]] = {}

    def entries(self, page: str) -> dict[str, frozenset[str]]:
        """flag -> stems of one man page ({} for a page the store has not)."""
        if page not in self._pages:
            self._pages[page] = {flag: frozenset(s.split()) for flag, s in self._table.get(page, {}).items()}
        return self._pages[page]

    def unasked(self, prompt: str, tokens: Sequence[str]) -> int:
        """How many flags of a row's first command (``tokens``: its template) have an entry that says
        none of the prompt's stems but its tool's name (`-name` of `find . -type d -name pattern
        -exec rm -r` for "remove directory tree"; `-type` says "directory"). The first command is
        what a line does; the flags of what it pipes into or runs (`| sort -n`, `-exec rm -r`)
        shape its output and seldom echo a request: counted too, they put bare niche commands
        before mainstream pipelines (the everyday prompts' top 5 lost 2.8 points on the mix)."""
        first = commands(tokens)[:1]
        if not first:
            return 0
        tool, sub, flags = first[0]
        entries = self.entries(f"{tool}-{sub}") or self.entries(tool)
        asked = stems(prompt) - stems(tool)
        return sum(1 for flag in flags if flag in entries and not asked & entries[flag])
