"""The sandbox is a security boundary (core/sandbox.py): real bubblewrap, real commands that try
to get out of it."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from core.errors import CFError
from core.sandbox import Limits, Sandbox, find_bwrap, remove_tree

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (Debian: apt-get install bubblewrap)")


@pytest.fixture
def place(tmp_path):
    """A folder the sandbox's uid may make roots in (nobody's when the tests run as root)."""
    sandbox = Sandbox(Limits(seconds=5))
    # In the system's temporary folder: pytest's tmp_path is closed to other users (nobody).
    folder = Path(tempfile.mkdtemp(prefix="cf-test-sandbox-"))
    sandbox.prepare_parent(folder)
    yield sandbox, folder
    remove_tree(folder)


def make_root(sandbox: Sandbox, folder: Path, name: str) -> Path:
    root = sandbox.new_root(folder / name)
    (root / "testbed").mkdir()
    (root / "testbed" / "keep.txt").write_text("keep\n")
    sandbox.own(root)
    return root


def processes_with(marker: str) -> list[str]:
    """Host processes whose command line holds ``marker`` (the sandbox's pids are visible here)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                found.append(f"{pid}: {cmdline}")
    return found


@needs_bwrap
def test_rm_rf_slash_stays_in_its_copy(place, tmp_path):
    sandbox, folder = place
    base = make_root(sandbox, folder, "base")
    mine, other = sandbox.copy(base, folder / "mine"), sandbox.copy(base, folder / "other")
    tag = uuid.uuid4().hex
    outside = tmp_path / "host.txt"
    outside.write_text("host\n")
    run = sandbox.run(f"echo x > /tmp/{tag}; echo x > $HOME/{tag}; touch /usr/{tag} /etc/{tag}; "
                      f"rm -rf --no-preserve-root / 2>/dev/null; ls -A /testbed; echo done", mine)
    assert run.output.strip().endswith("done") and "keep.txt" not in run.output
    assert not (mine / "testbed" / "keep.txt").exists()  # its own copy is gone ...
    assert (other / "testbed" / "keep.txt").read_text() == "keep\n"  # ... another copy is not
    assert (base / "testbed" / "keep.txt").exists() and outside.read_text() == "host\n"
    for where in ("/tmp", os.path.expanduser("~"), "/usr", "/etc"):  # nothing reached the host
        assert not Path(where, tag).exists()
    assert Path("/usr/bin/bash").exists() or Path("/bin/bash").exists()
    assert sandbox.run("echo still here", other).output == "still here\n"


@needs_bwrap
def test_no_network(place):
    sandbox, folder = place
    root = make_root(sandbox, folder, "root")
    run = sandbox.run("echo > /dev/tcp/1.1.1.1/80 && echo CONNECTED; "
                      "command -v curl >/dev/null && curl -sS --max-time 3 http://1.1.1.1/ && echo CONNECTED; "
                      "ls /sys/class/net 2>/dev/null; cat /proc/net/dev | tail -n +3 | cut -d: -f1", root)
    assert "CONNECTED" not in run.output
    assert "Network is unreachable" in run.output
    interfaces = run.output.split()[-1:]  # /proc/net/dev of the sandbox's own network: loopback only
    assert interfaces == ["lo"], run.output


@needs_bwrap
def test_time_limit_ends_every_process(place):
    sandbox, folder = place
    sandbox.limits = Limits(seconds=1.5)
    root = make_root(sandbox, folder, "root")
    marker = f"999.{uuid.uuid4().int % 10**8}"  # a sleep length no other process uses
    started = time.monotonic()
    run = sandbox.run(f"setsid nohup sleep {marker} >/dev/null 2>&1 & (sleep {marker} &); sleep {marker}", root)
    assert run.timed_out and run.exit_code is None
    assert time.monotonic() - started < 4
    deadline = time.monotonic() + 2  # the kernel ends a pid namespace at once; allow a moment
    while processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(f"sleep {marker}") == []


@needs_bwrap
def test_fork_bomb_is_bounded_and_ends(place):
    sandbox, folder = place
    sandbox.limits = Limits(seconds=3, processes=32)
    root = make_root(sandbox, folder, "root")
    marker = f"999.{uuid.uuid4().int % 10**8}"  # in every forked bash's command line, and each sleep's
    command = f"# {marker}\nfor i in $(seq 100); do sleep {marker} & done; bomb() {{ bomb | bomb & }}; bomb; wait"
    runs = []
    started = time.monotonic()
    worker = threading.Thread(target=lambda: runs.append(sandbox.run(command, root)))
    worker.start()
    most = 0
    while worker.is_alive():  # counted from the host, while the bomb goes off
        most = max(most, len(processes_with(marker)))
        time.sleep(0.02)
    assert runs[0].timed_out and time.monotonic() - started < 6
    assert 8 < most <= 32 + 1  # it did fork, and never past the limit (+ bwrap, outside the namespace)
    deadline = time.monotonic() + 2
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []
    assert sandbox.run("echo fine", root).output == "fine\n"  # and the next run starts as usual


@needs_bwrap
def test_output_limit_and_fixed_environment(place, monkeypatch):
    sandbox, folder = place
    sandbox.limits = Limits(seconds=5, output_bytes=10_000)
    root = make_root(sandbox, folder, "root")
    run = sandbox.run("yes", root)
    assert run.truncated and len(run.output) == 10_000 and run.seconds < 5
    monkeypatch.setenv("CF_SECRET_FROM_HOST", "leak")
    run = sandbox.run("env; id -u", root, env={"FILES": "/testbed/a"})
    assert "CF_SECRET_FROM_HOST" not in run.output and "FILES=/testbed/a" in run.output
    assert run.output.split()[-1] == "0"  # root inside, as in a Docker image


def test_missing_bwrap_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CFError, match="apt-get install bubblewrap"):
        find_bwrap()
