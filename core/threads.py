"""How many threads torch runs on each path, decided in one place.

Each path calls ``configure(PATH)`` first thing, before torch is imported: torch's bundled OpenMP
(GNU libgomp) reads ``OMP_WAIT_POLICY`` once, when it loads. ``apply()`` then sets the thread
counts once torch is in (``configure`` calls it itself when torch already is). A user's own
``OMP_NUM_THREADS`` / ``OMP_WAIT_POLICY`` always win. The choices and their measurements:
benchmarks/threads.py, benchmarks/README.md ("Threads").
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadPolicy:
    # Intra-op threads: a count; "cores": every core (torch's own default); "free": the cores no
    # other process is running on right now (at least 1), read again at every generation.
    threads: int | str
    # OMP_WAIT_POLICY for libgomp: PASSIVE puts a thread waiting at a barrier to sleep at once;
    # None leaves libgomp's default (spin up to 300,000 rounds, then sleep).
    wait: str | None = None
    interop: int | None = None  # inter-op threads (torch.jit.fork and the like; cf uses none)


# Spinning at a barrier only hurts when a team member is descheduled, i.e. when the team is larger
# than the cores left free. Measured in one run on 2 cores (benchmarks/threads.py, 2026-12-03,
# docs/results/threads-serve-cpu.json; beside two busy processes / idle): torch's defaults took
# 4.0x as long warm, 3.9x cold, 4.1x for a batch; free cores with PASSIVE waiting 1.6x, 1.4x,
# 2.1x, for 9% more warm time idle (the best ratios of the seven settings within 10% of idle).
# The candidates do not depend on the count (1 and 2 threads gave identical candidates and scores).
POLICIES = {
    # One prompt at a time, a person waiting: cf ask, cf generate, the picker (which reserves a
    # core for its UI thread: with a team as large as the machine, the tiny model ran 1.6
    # steps/s in the picker on a busy 2-core machine, 28 with one thread).
    "interactive": ThreadPolicy("free", "PASSIVE"),
    # The same, in a resident process: cf serve and the language server.
    "server": ThreadPolicy("free", "PASSIVE"),
    # cf eval: batches; torch's defaults took 4.1x as long beside a load, free + PASSIVE 2.1x.
    "batch": ThreadPolicy("free", "PASSIVE"),
    # cf train: large matmuls keep every thread busy between barriers; torch's defaults (not
    # measured under load).
    "train": ThreadPolicy("cores"),
}

_configured: tuple[str, int] | None = None  # (path, reserve) of this process
_set_here: set[str] = set()  # environment variables configure() set (not the user's)


def configure(path: str, reserve: int = 0) -> ThreadPolicy:
    """Choose ``path``'s policy for this process; call before importing torch. ``reserve``: cores
    left to this process's other busy threads (the picker's UI)."""
    global _configured
    policy = POLICIES[path]
    _configured = (path, reserve)
    if policy.wait and not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & os.environ.keys():
        os.environ["OMP_WAIT_POLICY"] = policy.wait
        _set_here.add("OMP_WAIT_POLICY")
    if "torch" in sys.modules:
        apply()
    return policy


def child_environ() -> dict[str, str]:
    """This process's environment without what configure() set: a child process (a `cf serve`
    the picker starts) configures its own path."""
    return {k: v for k, v in os.environ.items() if k not in _set_here}


def busy_cores(samples: int = 5) -> int:
    """Other processes' runnable threads right now (Linux: /proc/loadavg's running count, less this
    reader), the most of a few samples; 0 where it cannot be read."""
    most = 0
    for _ in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0
        most = max(most, running - 1)
    return most


def free_cores() -> int:
    """The cores no other process is running on right now (busy_cores)."""
    return max(0, (os.cpu_count() or 1) - busy_cores())


def intra_op_threads(policy: ThreadPolicy, reserve: int = 0) -> int:
    """The intra-op count ``policy`` gives now; ``reserve``: cores kept for this process's other
    threads (the picker's UI)."""
    cores = os.cpu_count() or 1
    if policy.threads == "cores":
        count = cores
    elif policy.threads == "free":
        count = free_cores()
    else:
        count = int(policy.threads)
    return max(1, min(cores, count) - reserve)


def apply() -> int | None:
    """Set torch's thread counts by the configured policy, once torch is imported; None (and
    nothing set) when this process configured none (tests, cf bench). Cheap: Pipeline.stream calls
    it at every generation, so a "free" count follows the machine's load."""
    if _configured is None or "OMP_NUM_THREADS" in os.environ:  # none asked for, or the user's own
        return None
    import torch

    path, reserve = _configured
    policy = POLICIES[path]
    count = intra_op_threads(policy, reserve)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    if policy.interop is not None and path not in _interop_done:
        _interop_done.add(path)
        try:
            torch.set_num_interop_threads(policy.interop)
        except RuntimeError:  # allowed only before the first inter-op work
            pass
    return count


_interop_done: set[str] = set()
