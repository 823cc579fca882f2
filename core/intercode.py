"""InterCode-ALFA (Westenfelder et al., NAACL 2025; MIT): 300 NL -> Bash tasks scored by running
the commands, here in a bubblewrap sandbox (core/sandbox.py) instead of the benchmark's Docker.

Each task belongs to one of five file systems, each built by the benchmark's
``setup_nl2b_fs_N.sh`` (run once, inside the sandbox, into a fresh root); every command then
runs in a fresh copy of it, from ``/``, as root, under bash (environment 5, an Alpine image
upstream, under /bin/sh).

A candidate passes a task when, against ``gold`` or ``gold2`` (each run in its own copy):
- it makes the same file-system change: the same paths added, deleted and modified, over the
  tree the benchmark's git repository tracks (``/`` without the system folders its
  ``docker.gitignore`` lists);
- the paths both changed hold the same thing (content, kind, permission bits);
- its output (stdout and stderr) is the gold's, or the command is the gold's, or the two
  outputs' TF-IDF cosine is at least ``OUTPUT_COSINE`` (scikit-learn's TfidfVectorizer with its
  defaults, fitted on the two outputs, as InterCode's "tfidf" mode does).

Differences from the published harness, kept on purpose: the benchmark's own judge compares
with ``gold`` alone and content-checks added files only; here both golds count and modified
files are content-checked too. Its "tfidf" mode gives full output credit only when
``round(0.33 * cosine, 2) == 0.33`` (cosine >= 0.985); ``STRICT_COSINE`` scores that variant
beside the 0.75 threshold (the one the benchmark's embedding judge uses).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import threading
from itertools import count
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import CFError
from core.sandbox import Limits, Sandbox, remove_tree

ENVIRONMENTS = (1, 2, 3, 4, 5)
TASKS_PER_ENVIRONMENT = (153, 49, 57, 23, 18)  # the benchmark's index order: fs 1's tasks, then fs 2's, ...
SHELLS = {5: "/bin/sh"}  # default /bin/bash
# The environment the Dockerfiles set (ENV), beside core/sandbox.py's fixed one.
DOCKER_ENV = {1: {"FILES": "/testbed/hello.c /testbed/FooBar.html"}}
# docker.gitignore: what the benchmark's diff leaves out (plus lib64, a link into /usr here).
UNTRACKED = frozenset("bin boot dev etc home lib lib64 media opt proc root run sbin srv sys usr var .dockerenv".split())
OUTPUT_COSINE = 0.75
STRICT_COSINE = 0.985  # the benchmark's "tfidf" mode: round(0.33 * cosine, 2) == 0.33
LIMITS = Limits(seconds=10.0)  # the design notes' harness ran every gold under `timeout 10`
# The published files (data/extra-SHA256SUMS in the project's shared data).
SHA256 = {
    "nl2bash_fs_1.json": "a1188bc914e753febc0edab0dea150fc5cee19ce03e5334260fb9f25ab6349ca",
    "nl2bash_fs_2.json": "c347fed75de06e7ca87fff6f293d99f3219e2826e8bfdff87f043d552f4cbbeb",
    "nl2bash_fs_3.json": "21c1bc5d095443ac8cf53c39fde7ae47dd386947ddae8d0f6b5711875cc53c20",
    "nl2bash_fs_4.json": "e819cb06833c5413a82bfb4e401696e4833dfab5a1c79963d58bcfb45435aca9",
    "nl2bash_fs_5.json": "764e6f80873074634dee6b8995ea55a23c04ca3a6ffc2b2415b4571769fc17fe",
    "setup_nl2b_fs_1.sh": "4c18f0d784e387e2162609a5a69a8d5c94802a311a635dfaac748c15059e313c",
    "setup_nl2b_fs_2.sh": "a2f48c6bd83839d4c228d70a66d4114766113f87bd00346715bd601b826ebc06",
    "setup_nl2b_fs_3.sh": "7fb4f2c383f89fdc1c4965e3542f69475a618d5c5f423fce6b11783ccbc1c658",
    "setup_nl2b_fs_4.sh": "c5fb550aa1578fe2454e8ab06221165df90311231cb71d3d9b0ce036a8235274",
    "setup_nl2b_fs_5.sh": "188fd15c14f90f9f31e286f5d4d920b011b303d076bda9d174fc92340af609d0",
}
SOURCE = "github.com/westenfelder/InterCode-ALFA (the icalfa package, 0.3.6), MIT"


@dataclass(frozen=True)
class Task:
    index: int  # 0..299, the benchmark's order
    env: int  # 1..5
    query: str
    gold: str
    gold2: str
    difficulty: int


def load_tasks(directory: str | Path) -> list[Task]:
    """The 300 tasks from the benchmark's folder (checked against the published checksums)."""
    directory = Path(directory)
    for name, digest in SHA256.items():
        path = directory / name
        if not path.is_file():
            raise CFError(f"{path} not found: InterCode-ALFA's folder holds nl2bash_fs_1..5.json and "
                          f"setup_nl2b_fs_1..5.sh ({SOURCE}, src/icalfa/assets/)")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise CFError(f"{path} is not the published file (SHA-256 differs)")
    tasks = []
    for env in ENVIRONMENTS:
        for row in json.loads((directory / f"nl2bash_fs_{env}.json").read_text(encoding="utf-8")):
            tasks.append(Task(len(tasks), env, row["query"].strip(), row["gold"].strip(), row["gold2"].strip(),
                              int(row.get("difficulty", 0))))
    return tasks


# --------------------------------------------------------------------------- file systems


def snapshot(root: str | Path) -> dict[str, tuple]:
    """Every tracked path under ``root`` -> (kind, permission bits, content digest or link
    target). Modification times are left out, as git leaves them out."""
    root = Path(root)
    found: dict[str, tuple] = {}

    def walk(directory: Path, rel: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except PermissionError:  # a command's chmod 000: we own the files, so we may look
            os.chmod(directory, stat.S_IRWXU)
            entries = list(os.scandir(directory))
        for entry in entries:
            path = f"{rel}/{entry.name}"
            if not rel and entry.name in UNTRACKED:
                continue
            st = entry.stat(follow_symlinks=False)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                found[path] = ("link", 0, os.readlink(entry.path))
            elif stat.S_ISDIR(st.st_mode):
                found[path] = ("dir", mode, "")
                walk(Path(entry.path), path)
            elif stat.S_ISREG(st.st_mode):
                found[path] = ("file", mode, _digest(entry.path, mode))
            else:  # a fifo or a socket: its existence and mode only
                found[path] = ("other", mode, "")

    walk(root, "")
    return found


def _digest(path: str, mode: int) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.sha1(f.read()).hexdigest()
    except PermissionError:
        os.chmod(path, mode | stat.S_IRUSR)
        with open(path, "rb") as f:
            return hashlib.sha1(f.read()).hexdigest()


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> dict[str, str]:
    """path -> A (added), D (deleted) or M (modified: content, kind or mode)."""
    out = {}
    for path in before.keys() | after.keys():
        if path not in before:
            out[path] = "A"
        elif path not in after:
            out[path] = "D"
        elif before[path] != after[path]:
            out[path] = "M"
    return out


@dataclass(frozen=True)
class Outcome:
    command: str
    output: str
    exit_code: int | None
    timed_out: bool
    changes: dict[str, str]
    changed: dict[str, tuple]  # the after-state of each changed path that still exists


class Environments:
    """The five file systems, built once in a temporary folder; ``execute`` runs a command in a
    fresh copy of a task's. Use as a context manager (the folder goes at the end)."""

    def __init__(self, directory: str | Path, sandbox: Sandbox | None = None, workdir: str | Path | None = None):
        self.directory = Path(directory)
        self.sandbox = sandbox or Sandbox(LIMITS)
        self.tmp = Path(tempfile.mkdtemp(prefix="cf-intercode-", dir=workdir))
        self.sandbox.prepare_parent(self.tmp)
        self.bases: dict[int, Path] = {}
        self.before: dict[int, dict] = {}
        self._copies = count()
        self._lock = threading.Lock()

    def __enter__(self) -> "Environments":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        remove_tree(self.tmp)

    def base(self, env: int) -> Path:
        """Environment ``env``'s root, built on first use."""
        with self._lock:
            return self._build(env)

    def _build(self, env: int) -> Path:
        if env not in self.bases:
            root = self.sandbox.new_root(self.tmp / f"base-{env}")
            script = f"setup_nl2b_fs_{env}.sh"
            shutil.copyfile(self.directory / script, root / script)  # the Dockerfiles COPY it to /
            os.chmod(root / script, 0o755)
            self.sandbox.own(root)
            built = self.sandbox.run(f"/{script}", root, shell=SHELLS.get(env, "/bin/bash"),
                                     env=DOCKER_ENV.get(env, {}))
            if built.timed_out:
                raise CFError(f"building InterCode-ALFA's file system {env} took over {self.sandbox.limits.seconds} s")
            self.bases[env] = root
            self.before[env] = snapshot(root)
        return self.bases[env]

    def execute(self, env: int, command: str) -> Outcome:
        base = self.base(env)
        copy = self.sandbox.copy(base, self.tmp / f"run-{next(self._copies)}")
        try:
            run = self.sandbox.run(command, copy, shell=SHELLS.get(env, "/bin/bash"), env=DOCKER_ENV.get(env, {}))
            after = snapshot(copy)
        finally:
            remove_tree(copy)
        diff = changes(self.before[env], after)
        return Outcome(command, run.output, run.exit_code, run.timed_out, diff,
                       {p: after[p] for p in diff if p in after})


# --------------------------------------------------------------------------- the judge

_WORD = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's token_pattern (on lower-cased text)


def tfidf_cosine(a: str, b: str) -> float:
    """The cosine of two texts' TF-IDF vectors, fitted on the two alone: scikit-learn's
    TfidfVectorizer defaults (lower case, words of 2+ characters, smooth idf = ln(3 / (1 + df))
    + 1, l2 norm). With no word in either text (sklearn raises): 1 if equal, else 0, as the
    benchmark's judge falls back."""
    counts = [Counter(_WORD.findall(text.lower())) for text in (a, b)]
    vocab = counts[0].keys() | counts[1].keys()
    if not vocab:
        return 1.0 if a == b else 0.0
    idf = {w: math.log(3 / (1 + (w in counts[0]) + (w in counts[1]))) + 1 for w in vocab}
    vectors = [{w: c * idf[w] for w, c in count.items()} for count in counts]
    norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vectors]
    if not norms[0] or not norms[1]:
        return 0.0
    dot = sum(v * vectors[1].get(w, 0.0) for w, v in vectors[0].items())
    return dot / (norms[0] * norms[1])


@dataclass(frozen=True)
class Verdict:
    passed: bool  # file system and output (cosine >= OUTPUT_COSINE)
    strict: bool  # the same with the benchmark's own "tfidf" full-credit bar (STRICT_COSINE)
    same_files: bool
    cosine: float


def judge(candidate: Outcome, gold: Outcome) -> Verdict:
    same_files = candidate.changes == gold.changes and candidate.changed == gold.changed
    if candidate.command == gold.command or candidate.output == gold.output:
        cosine = 1.0
    else:
        cosine = tfidf_cosine(candidate.output, gold.output)
    return Verdict(same_files and cosine >= OUTPUT_COSINE, same_files and cosine >= STRICT_COSINE, same_files,
                   round(cosine, 4))


def best_verdict(candidate: Outcome, golds: list[Outcome]) -> tuple[Verdict, int]:
    """The candidate's verdict against the gold it matches best (0: gold, 1: gold2)."""
    verdicts = [judge(candidate, g) for g in golds]
    best = max(range(len(verdicts)), key=lambda i: (verdicts[i].passed, verdicts[i].strict,
                                                    verdicts[i].same_files, verdicts[i].cosine))
    return verdicts[best], best


@dataclass
class TaskScore:
    task: Task
    candidates: list[str]
    verdicts: list[dict] = field(default_factory=list)
    gold2_passes: bool = False  # gold2 judged against gold: how far the judge accepts an equivalent command

    def record(self) -> dict:
        passed = [v["passed"] for v in self.verdicts]
        strict = [v["strict"] for v in self.verdicts]
        return {"id": self.task.index, "env": self.task.env, "nl": self.task.query, "gold": self.task.gold,
                "gold2": self.task.gold2, "difficulty": self.task.difficulty, "candidates": self.candidates,
                "verdicts": self.verdicts, "gold2_passes": self.gold2_passes,
                "scores": {"execution": {f"top{k}": float(any(passed[:k])) for k in (1, 5)},
                           "execution_strict": {f"top{k}": float(any(strict[:k])) for k in (1, 5)}}}


def score_task(envs: Environments, task: Task, candidates: list[str]) -> TaskScore:
    """Run the golds and the candidates (each distinct command once, one after another, so that
    time-dependent output such as `date` is compared within seconds) and judge each candidate."""
    golds = [envs.execute(task.env, task.gold), envs.execute(task.env, task.gold2)]
    ran: dict[str, Outcome] = {task.gold: golds[0], task.gold2: golds[1]}
    result = TaskScore(task, list(candidates), gold2_passes=judge(golds[1], golds[0]).passed)
    for code in candidates:
        key = code.strip()
        if key not in ran:
            ran[key] = envs.execute(task.env, key)
        outcome = ran[key]
        verdict, which = best_verdict(outcome, golds)
        result.verdicts.append({"passed": verdict.passed, "strict": verdict.strict, "same_files": verdict.same_files,
                                "cosine": verdict.cosine, "gold": ("gold", "gold2")[which],
                                "exit_code": outcome.exit_code, "timed_out": outcome.timed_out})
    return result
