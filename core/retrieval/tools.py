"""What is known of the tool an example runs: signals that put train and tldr-pages rows in one ranking.

bm25 over every source put tldr's terse rows for niche tools first ("show disk usage of the
current directory" -> `gdu`, where train has `du`), so train rows used to come first and tldr rows
only filled the places left (the old ``FIRST_SOURCES``). These signals let all sources compete:

- how often the tool appears across the store's rows (any source): `du` is in hundreds, `gdu` in
  a handful, so a mainstream tool beats a niche one with the same words;
- the prompt names the tool ("use jq to ...", "with curl", "git ...", "`tar`"): the cheapest
  strong signal, and the only one that reaches a tool no row describes in the prompt's words;
- a tldr row's place: its page's platform (common against linux) and where the example stands
  on its page (the first examples are the page's most common uses);
- how long the command is for the prompt's length (NL2Bash's `find ... -exec rm -r {} \\;` for
  "remove directory tree", where tldr has `rm -r path/to/directory`);
- the source (a tldr row against a train row), so the tables learned from NL2Bash alone
  (core/retrieval/rerank.py, which score a tldr row's words at FLOOR) do not sink tldr.

Whether a tool is installed on this machine (on PATH) is not a signal: the benchmarks' figures
must not depend on who runs them, and the design notes measured it adding nothing to the store's
tool frequency (../shared/design-notes.md, "Everyday prompts": 26.7 -> 27.4 on everyday common
tools, 55.3 -> 55.0 on InterCode-ALFA).

The counts are read from the rows the store holds when it is opened (a held-out copy counts
without its held-out pages; no table to rebuild). The tool is the command's first word (after
`sudo`, `env`, variable assignments), a cheap stand-in for core.metrics.tldr.first_utility that
reads every row in about 0.1 s.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

# Words a command line starts with that run another command.
_WRAPPERS = {"sudo", "env", "nohup", "time", "nice", "exec", "command", "builtin"}
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# A word that names a tool when it comes after one of these (or before "command"/"utility").
_CUES = {"use", "using", "via", "run", "runs", "call", "invoke"}
_WEAK_CUES = {"with", "through"}  # "with curl", but "files with size ...": not for common words
_AFTER = {"command", "utility", "tool", "cli", "program", "subcommand"}
# A tool named in a prompt: letters, digits and - . _ + (docker-compose, yt-dlp, 7z, g++).
_WORD = re.compile(r"[a-z0-9][a-z0-9._+-]*")
# Words that are tools but mostly plain English in a request: named only with a cue
# (or in backquotes), never by the word alone. Fixed here so the signal is the same everywhere.
COMMON_WORDS = frozenset("""
a at be bc cal cat cd chat clear column comm command compare convert copy count cut date dd df diff dig
echo env expand expr false file find fold free from go groups head help history host id install join
kill last less let link list look make man mark more mount mv nice nl open pass paste patch print
printf read rename reset rev say script see seq set shift show size sleep sort split stat strings
sum sync tail tee test time top touch tr true type unexpand uniq units unlink up watch wait wc what
which who whoami write yes zip apply base basename dirname do done edit for if in is it of on or the
then to until view while with use using via run runs call invoke
""".split())
# Prompt words too short or generic to be a tool's name without a cue.
_MIN_LEN = 2


@lru_cache(maxsize=65536)
def tool_of(code: str) -> str:
    """The tool a command line runs first: `sudo du -sh .` -> du, `/usr/bin/git log` -> git."""
    for word in code.split():
        if _ASSIGN.match(word) or word in _WRAPPERS or word.startswith("-"):
            continue
        word = word.strip("(){}`$'\"").rsplit("/", 1)[-1]
        return word.lower()
    return ""


def named_tools(prompt: str) -> tuple[set[str], set[str]]:
    """The words of a prompt that could name a tool: (named with a cue — after "use", "with",
    ..., before "command", in backquotes, or first when the prompt is an imperative starting with a
    tool's name — , every word). Common English words only count with a cue."""
    text = prompt.lower()
    quoted = set(re.findall(r"`([^`\s]+)", text))
    words = _WORD.findall(text)
    cued = set(quoted)
    for i, w in enumerate(words):
        if (i > 0 and words[i - 1] in _CUES) or (i + 1 < len(words) and words[i + 1] in _AFTER) \
                or (i > 0 and words[i - 1] in _WEAK_CUES and w not in COMMON_WORDS) \
                or (i == 0 and w not in COMMON_WORDS):
            cued.add(w)
    plain = {w for w in words if len(w) >= _MIN_LEN and w not in COMMON_WORDS}
    return cued, plain | cued


@dataclass(frozen=True)
class ToolWeights:
    """Weights of the tool signals, added to rerank.Weights' score; chosen on the development mix
    (benchmarks/rank_sources.py)."""
    frequency: float = 0.0  # log(1 + the tool's curated rows: train, user)
    tldr_frequency: float = 0.0  # log(1 + the tool's tldr rows: its page and others that run it)
    named: float = 0.0  # the prompt names the tool, by the word alone (not a common English word)
    named_cued: float = 0.0  # the prompt names the tool with a cue ("use jq", "`tar`", "git command")
    other_named: float = 0.0  # the prompt names (with a cue) a tool the row does not run
    tldr: float = 0.0  # a tldr-pages row (against a train or user row)
    platform: float = 0.0  # a tldr row from pages/linux (against pages/common)
    position: float = 0.0  # -log(place on its page) for a tldr row
    length: float = 0.0  # -log(words of the command per word of the prompt): a short request, a short command


# Chosen by coordinate ascent on a quick development mix (2026-12-06: 150 held-out NL2Bash train
# prompts with the shipped tables, 150 tldr development-page examples, the everyday file's 43
# dev-half Bash prompts; `python benchmarks/rank_sources.py --tldr-limit 150 --nl2bash-limit 150
# --shipped-tables`): objective 25.7 -> 28.6 (tldr right tool 2.0 -> 9.3, everyday 41.9 -> 44.2,
# NL2Bash template match 79.2 -> 77.7). Those prompts hardly ever name a tool, so the ascent left the
# named-tool weights at 0; named_cued = 4 is set by hand (a prior, not chosen on the mix; 2 was not
# enough): it puts `jq` first for "use jq to ..." (tests/test_ranking_sources.py).
TOOL_WEIGHTS = ToolWeights(frequency=-0.5, tldr_frequency=0.25, named=0.0, named_cued=4.0, other_named=0.0,
                           tldr=2.5, platform=-2.0, position=-0.25, length=-1.5)


class ToolStats:
    """Per language, how many rows of the store run each tool, curated (train, user) and tldr
    apart (NL2Bash is half `find`: one count would favour it over everything); read once, on
    first use."""

    def __init__(self, con, lang: str) -> None:
        self._con, self.lang = con, lang
        self._counts: tuple[Counter, Counter] | None = None

    def _read(self) -> tuple[Counter, Counter]:
        if self._counts is None:
            curated, tldr = Counter(), Counter()
            for code, source in self._con.execute("SELECT code, source FROM examples WHERE lang = ?", [self.lang]):
                (tldr if source == "tldr" else curated)[tool_of(code)] += 1
            self._counts = curated, tldr
        return self._counts

    @property
    def counts(self) -> Counter:
        """Rows per tool, every source."""
        curated, tldr = self._read()
        return curated + tldr

    def features(self, prompt: str, codes: Sequence[str], sources: Sequence[str] | None = None,
                 refs: Sequence[str] | None = None) -> list[tuple[float, ...]]:
        """Each row's signals, in ToolWeights' order. ``sources`` and ``refs``: each code's row (a
        candidate: the row it edits); without them the row counts as a train row."""
        cued, plain = named_tools(prompt)
        curated, tldr_rows = self._read()
        n_words = max(1, len(prompt.split()))
        cued_known = {w for w in cued if curated.get(w) or tldr_rows.get(w)}
        out = []
        for j, code in enumerate(codes):
            tool = tool_of(code)
            source = sources[j] if sources else "train"
            ref = refs[j] if refs else ""
            tldr = source == "tldr"
            place = _page_place(ref) if tldr else 1
            out.append((math.log1p(curated.get(tool, 0)), math.log1p(tldr_rows.get(tool, 0)),
                        float(tool in plain and tool not in cued),
                        float(tool in cued),
                        float(bool(cued_known) and tool not in cued_known),
                        float(tldr), float(tldr and ref.startswith("tldr:linux/")),
                        -math.log(place), -math.log(max(1, len(code.split())) / n_words)))
        return out


def _page_place(ref: str) -> int:
    """``tldr:common/tar#3`` -> 3."""
    tail = ref.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() and int(tail) > 0 else 1
