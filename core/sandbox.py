"""Run a shell command in a bubblewrap sandbox, over a file system of its own.

What a command gets (``Sandbox.run``):
- a root (``/``) that is a writable directory on the host, made by ``Sandbox.new_root`` and
  copied per run (``Sandbox.copy``); the host's ``/usr`` and ``/etc`` bound read-only into it,
  ``/bin``, ``/lib``, ``/lib64``, ``/sbin`` as links into ``/usr``, a fresh ``/proc`` and ``/dev``;
- every namespace unshared (``--unshare-all``: no network, its own pids, hostname, IPC), a new
  session (no terminal to inject keys into), a fixed environment (``--clearenv``), stdin empty;
- limits: wall time, output size (the run is killed past either), processes (RLIMIT_NPROC, set
  inside the sandbox so that it counts the sandbox's processes only), file size, address space.

No process outlives a run: the sandbox's processes live in their own pid namespace, whose first
process bwrap ties to bwrap (``--die-with-parent``); bwrap is killed at the end of every run, and
the kernel then kills the whole namespace.

Root on the host: RLIMIT_NPROC does not bind a process whose real uid is host root (the kernel
lets it through), even inside a user namespace. So when this runs as root, bwrap runs as
``nobody`` (SANDBOX_UID), and the sandbox's files belong to it; inside, the command still sees
itself as uid 0, as in the benchmark's Docker images.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from core.errors import CFError

INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
SANDBOX_UID = 65534  # nobody: what bwrap runs as when cf runs as root
READ_ONLY = ("usr", "etc")  # bound from the host
LINKS = {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "sbin": "usr/sbin"}
KERNEL = ("proc", "dev")  # made fresh by bwrap
# What a new root holds besides the mounts: the places a command expects to write.
WRITABLE_DIRS = {"tmp": 0o1777, "root": 0o700, "home": 0o755, "var": 0o755, "var/tmp": 0o1777, "var/log": 0o755,
                 "mnt": 0o755, "opt": 0o755, "srv": 0o755, "media": 0o755, "run": 0o755, "boot": 0o755}
# A Docker image's environment (Debian's root PATH), nothing of the host's.
ENVIRONMENT = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
               "HOSTNAME": "sandbox"}


@dataclass(frozen=True)
class Limits:
    seconds: float = 10.0  # wall time
    output_bytes: int = 1 << 20  # stdout and stderr together; the run is killed past it
    processes: int = 64  # RLIMIT_NPROC inside (threads count)
    file_bytes: int = 64 << 20  # RLIMIT_FSIZE: the largest file a command may write
    memory_bytes: int = 4 << 30  # RLIMIT_AS


@dataclass(frozen=True)
class Run:
    output: str  # stdout and stderr interleaved, as a terminal (and `docker exec`) shows them
    exit_code: int | None  # None when the run was killed at a limit
    timed_out: bool = False
    truncated: bool = False  # killed for printing more than Limits.output_bytes
    seconds: float = 0.0


def find_bwrap() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise CFError(f"the sandbox needs bubblewrap (bwrap), which is not on PATH: {INSTALL_HINT}")
    return found


@dataclass
class Sandbox:
    limits: Limits = field(default_factory=Limits)
    bwrap: str = field(default_factory=find_bwrap)
    # The host uid bwrap runs as: nobody when cf runs as root (see the module's note), else cf's own.
    uid: int | None = field(default_factory=lambda: SANDBOX_UID if os.geteuid() == 0 else None)

    # --------------------------------------------------------------------- roots

    def new_root(self, path: str | Path) -> Path:
        """An empty root at ``path`` (which must not exist): mount points, links into /usr, and
        the writable directories a system has."""
        root = Path(path)
        root.mkdir(mode=0o755)
        for name in (*READ_ONLY, *KERNEL):
            (root / name).mkdir(mode=0o755)
        for name, target in LINKS.items():
            (root / name).symlink_to(target)
        for name, mode in WRITABLE_DIRS.items():
            (root / name).mkdir(exist_ok=True)
            os.chmod(root / name, mode)
        skel = Path("/etc/skel")
        for name in (".bashrc", ".profile"):  # a fresh account's, as an image's /root has
            if (skel / name).is_file():
                shutil.copyfile(skel / name, root / "root" / name)
        self.own(root)
        return root

    def copy(self, root: str | Path, dest: str | Path) -> Path:
        """A copy of ``root`` at ``dest`` (modes, times, links and owners kept)."""
        subprocess.run(["cp", "-a", "--", str(root), str(dest)], check=True, capture_output=True)
        return Path(dest)

    def own(self, root: Path) -> None:
        if self.uid is None:
            return
        os.lchown(root, self.uid, self.uid)
        for parent, dirs, files in os.walk(root):
            for name in dirs + files:
                os.lchown(os.path.join(parent, name), self.uid, self.uid)

    # --------------------------------------------------------------------- runs

    def argv(self, root: Path, shell: str, command: str, env: Mapping[str, str]) -> list[str]:
        args = [self.bwrap, "--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--hostname", "sandbox",
                "--die-with-parent", "--new-session", "--bind", str(root), "/"]
        for name in READ_ONLY:
            args += ["--ro-bind", f"/{name}", f"/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/", "--clearenv"]
        for key, value in {**ENVIRONMENT, **env}.items():
            args += ["--setenv", key, value]
        lim = self.limits
        # prlimit runs inside: the process count is the new user namespace's alone.
        args += ["prlimit", f"--nproc={lim.processes}", f"--fsize={lim.file_bytes}", f"--as={lim.memory_bytes}",
                 "--", shell, "-c", command]
        return args

    def run(self, command: str, root: str | Path, *, shell: str = "/bin/bash",
            env: Mapping[str, str] | None = None) -> Run:
        """Run ``command`` with ``shell -c`` in the sandbox whose root is ``root`` (written to
        in place: pass a copy). Returns when the command's processes are all gone."""
        lim = self.limits
        owner = {} if self.uid is None else {"user": self.uid, "group": self.uid, "extra_groups": []}
        started = time.monotonic()
        proc = subprocess.Popen(self.argv(Path(root), shell, command, env or {}), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                umask=0o022, **owner)
        chunks: list[bytes] = []
        size, timed_out, truncated = 0, False, False
        fd = proc.stdout.fileno()
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                while True:
                    left = started + lim.seconds - time.monotonic()
                    if left <= 0:
                        timed_out = True
                        break
                    if not sel.select(left):
                        continue
                    data = os.read(fd, 1 << 16)
                    if not data:  # every process holding the pipe has ended
                        break
                    chunks.append(data)
                    size += len(data)
                    if size > lim.output_bytes:
                        truncated = True
                        break
        finally:
            _kill(proc)
            proc.stdout.close()
        code = None if timed_out or truncated else proc.returncode
        output = b"".join(chunks)[: lim.output_bytes].decode("utf-8", errors="replace")
        return Run(output, code, timed_out, truncated, round(time.monotonic() - started, 3))

    def check(self) -> None:
        """Fail with a clear message when no sandbox can start here (bwrap refused, no user
        namespaces)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="cf-sandbox-check-") as tmp:
            self.prepare_parent(tmp)
            root = self.new_root(Path(tmp) / "root")
            got = self.run("echo ok", root)
        if got.output.strip() != "ok":
            raise CFError(f"bubblewrap could not start a sandbox here (it needs user namespaces): "
                          f"{got.output.strip()[:300] or got.exit_code}")

    def prepare_parent(self, directory: str | Path) -> None:
        """Let the sandbox's uid make and remove roots in ``directory`` (a temporary folder)."""
        if self.uid is not None:
            os.chown(directory, self.uid, self.uid)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL bwrap's process group, then reap it: its sandbox (own session, own pid
    namespace) dies with it (--die-with-parent)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def remove_tree(path: str | Path) -> None:
    """Remove a root a command may have left unreadable (chmod 000) to its owner."""

    def retry(function, name, _exc):
        parent = os.path.dirname(name)
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, stat.S_IRWXU)
            shutil.rmtree(name, **_on_error(retry))
        else:
            os.unlink(name)

    if os.path.lexists(path):
        shutil.rmtree(path, **_on_error(retry))


def _on_error(handler) -> dict:
    return {"onexc": handler} if sys.version_info >= (3, 12) else {"onerror": handler}
