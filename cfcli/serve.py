"""`cf serve`: one resident process holding the loaded, quantised models, so that `cf generate`,
the picker and the shell key skip importing torch and loading a model (docs/serve.md).

It listens on a Unix socket only (mode 0600, in a 0700 folder: cfcli.userconfig.serve_dir) and
speaks JSON lines (cfcli/client.py has the protocol). It reads a prompt and samples code; it never
runs what it generates, nor anything a request sends. One generation runs at a time, on one worker
thread; every connection has its own thread, which streams its events and cancels its request
when the client goes away (or sends anything more).
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import select
import signal
import socket
import socketserver
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from cfcli.protocol import (LOCK_NAME, MAX_REQUEST_BYTES, check_request, check_socket_path, code_stamp, private_dir,
                            socket_path)
from core.errors import CFError

# Connections served at once; more get an error at once rather than a thread each.
MAX_CONNECTIONS = 16
# Models kept loaded (least recently used goes first): a few hundred MB each.
MAX_MODELS = 3
# A client must send its request within this long (an idle connection holds a thread).
REQUEST_TIMEOUT_S = 10.0


def _weights_stamp(directory: str) -> int:
    """Changes when the model is retrained or replaced in place (then the server reloads it)."""
    d = Path(directory)
    return max((p.stat().st_mtime_ns for p in (d / "model.safetensors", d / "config.json") if p.exists()), default=0)


class Models:
    """The loaded pipelines, by model directory; used on the worker thread only."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._loaded: dict[str, tuple[int, object]] = {}  # directory -> (weights stamp, Pipeline)
        self._examples_version: str | None = None

    def names(self) -> list[str]:
        return list(self._loaded)

    def get(self, directory: str, lang: str):
        from core.checkpoint import read_config, require_language

        require_language(read_config(directory)["model"]["langs"], lang, directory)
        stamp = _weights_stamp(directory)
        held = self._loaded.pop(directory, None)
        if held is None or held[0] != stamp:
            from core.generate import Pipeline

            pipe = Pipeline.from_pretrained(directory, self.device)
            held = (stamp, pipe)
            self.device = str(pipe.device)
        self._loaded[directory] = held  # the newest last
        while len(self._loaded) > MAX_MODELS:
            del self._loaded[next(iter(self._loaded))]
        pipe = held[1]
        if pipe.cfg.retrieval:
            self._fresh_examples(pipe)
        return pipe

    def _fresh_examples(self, pipe) -> None:
        """A retrieval model edits the user's examples too: reopen the store when they changed
        (an accepted pick adds one) since it was opened."""
        from core.retrieval.user import UserExamples, searchable_store

        version = UserExamples().version()
        if version != self._examples_version:
            store = searchable_store()
            for _, other in self._loaded.values():
                other.examples = store
            self._examples_version = version


class Job:
    """One request on its way through the worker: its events, and its cancel flag."""

    def __init__(self, request: dict) -> None:
        self.request = request
        self.events: queue.Queue = queue.Queue()
        self.cancel = threading.Event()


class ModelServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True  # a stuck client never holds up the exit
    block_on_close = False

    def __init__(self, path: Path, device: str, idle_s: float, log: Callable[[str], None]) -> None:
        self.models = Models(device)
        self.idle_s = idle_s
        self.log = log
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.active = 0
        self.last_active = time.monotonic()
        self._count_lock = threading.Lock()
        self.generated = self.cancelled = 0
        self.generating = False
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cf-serve-generate",
                                         initializer=_worker_threads)
        self.inode = None
        self.stamp = code_stamp()  # the code as it was when it started
        self.end: Callable[[str], None] = lambda reason: None  # serve() sets it
        super().__init__(str(path), ServeHandler, bind_and_activate=False)

    def listen(self) -> None:
        """Make the socket (0600 from the moment it exists) and answer on it."""
        path = Path(self.server_address)
        old = os.umask(0o177)
        try:
            self.server_bind()
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.inode = path.stat().st_ino
        self.server_activate()

    def touch(self, delta: int) -> None:
        with self._count_lock:
            self.active += delta
            self.last_active = time.monotonic()

    def idle_for(self) -> float:
        with self._count_lock:
            return 0.0 if self.active else time.monotonic() - self.last_active

    def run_job(self, job: Job) -> None:
        """On the worker thread: load (or reuse) the model and stream the request's events."""
        from core.events import Cancelled, Result, Step

        req = job.request
        try:
            if job.cancel.is_set():  # the client left while waiting for its turn
                self.cancelled += 1
                return
            self.generating = True
            pipe = self.models.get(req["model"], req["lang"])
            if req["op"] == "note":
                job.events.put({"note": pipe.cut_note(req["prompt"], req["lang"])})
                return
            job.events.put({"note": pipe.cut_note(req["prompt"], req["lang"])})
            for event in pipe.stream([req["prompt"]], k=req["top_k"], steps=req["steps"], seed=req["seed"],
                                     roll=req["roll"], lang=req["lang"], cancel=job.cancel.is_set,
                                     preview_every=1 if req["previews"] else 0):
                if isinstance(event, Step):  # without previews too: the client sees the work going on
                    step = {"index": event.index, "total": event.total}
                    if req["previews"] and event.texts:
                        step["texts"] = event.texts[0]
                    job.events.put({"step": step})
                elif isinstance(event, Result):
                    self.generated += 1
                    job.events.put({"result": event.to_json()})
        except Cancelled:
            self.cancelled += 1
            self.log("a request was cancelled (its client went away)")
        except CFError as e:
            job.events.put({"error": str(e)})
        except Exception as e:  # one line to the client; the server goes on
            job.events.put({"error": f"{type(e).__name__}: {e}"})
        finally:
            self.generating = False
            job.events.put(None)

    def status(self) -> dict:
        from core import __version__

        return {"pid": os.getpid(), "version": __version__, "stamp": self.stamp, "models": self.models.names(),
                "device": self.models.device, "idle_minutes": self.idle_s / 60, "socket": self.server_address,
                "generating": self.generating, "generated": self.generated, "cancelled": self.cancelled}


def _worker_threads() -> None:
    from core import threads

    threads.apply()  # the load and quantisation run on this thread too


def same_user(conn: socket.socket) -> bool:
    if not hasattr(socket, "SO_PEERCRED"):  # not Linux: the 0600 socket in a 0700 folder
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1] == os.getuid()


def client_gone(conn: socket.socket) -> bool:
    """True when the client closed its end or sent anything after its request (a cancel)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class ServeHandler(socketserver.StreamRequestHandler):
    server: ModelServer
    # Unbuffered: a byte the client sends after its request (a cancel) must reach select(), not
    # wait in a buffer (a request is a few hundred bytes, read a byte at a time).
    rbufsize = 0

    def handle(self) -> None:
        if not same_user(self.connection):  # the socket's mode keeps others out; this too
            return
        if not self.server.slots.acquire(blocking=False):
            self.send({"error": f"the server is busy ({MAX_CONNECTIONS} connections); try again"})
            return
        self.server.touch(+1)
        try:
            self.serve_one()
        except OSError:  # the client went away mid-answer
            pass
        finally:
            self.server.touch(-1)
            self.server.slots.release()

    def drain(self, most: int = 1 << 20) -> None:
        """Read the rest of an oversized request (up to ``most`` bytes, 1 s): closing with
        unread data would reset the connection before the client reads the error."""
        self.connection.shutdown(socket.SHUT_WR)
        self.connection.settimeout(1.0)
        try:
            while most > 0 and (chunk := self.connection.recv(65536)) and b"\n" not in chunk:
                most -= len(chunk)
        except OSError:
            pass

    def send(self, obj: dict) -> None:
        self.wfile.write(json.dumps(obj, ensure_ascii=False).encode() + b"\n")

    def serve_one(self) -> None:
        self.connection.settimeout(REQUEST_TIMEOUT_S)
        raw = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        if len(raw) > MAX_REQUEST_BYTES:
            self.send({"error": f"the request is larger than {MAX_REQUEST_BYTES} bytes"})
            self.drain()
            return
        if not raw.strip():
            return
        try:
            req = check_request(raw)
        except CFError as e:
            self.send({"error": str(e)})
            return
        if req["op"] == "status":
            self.send({"status": self.server.status()})
            return
        if req["op"] == "stop":
            self.send({"stopping": True})
            self.server.end("a client asked it to stop")
            return
        self.connection.settimeout(None)
        job = Job(req)
        self.server.worker.submit(self.server.run_job, job)
        while True:
            try:
                event = job.events.get(timeout=0.05)
            except queue.Empty:
                if client_gone(self.connection):
                    job.cancel.set()  # the sampler stops before its next step
                    return
                continue
            if event is None:
                return
            try:
                self.send(event)
            except OSError:
                job.cancel.set()
                return


def serve(model: str | None, device: str, idle_minutes: float, log: Callable[[str], None]) -> int:
    """Run in the foreground until the idle time passes or a signal comes; the exit status."""
    from core import threads

    threads.configure("server")  # before torch is imported
    path = socket_path()
    check_socket_path(path)
    folder = private_dir(path.parent)
    lock = os.fdopen(os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600), "r+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise CFError(f"a server already runs on {path} (`cf serve --status`)") from None
    server = None
    try:
        server = ModelServer(path, device, idle_minutes * 60, log)
        if model:  # before the socket exists: a client finds none and loads its own meanwhile
            server.worker.submit(server.models.get, model, _first_lang(model)).result()
        _remove_stale(path)
        server.listen()
        log(f"serving {', '.join(server.models.names()) or 'models on request'} on {path}"
            + (f"; ends after {idle_minutes:g} min idle" if idle_minutes else ""))
        stop = threading.Event()
        why: list[str] = []

        def end(reason: str) -> None:
            if not stop.is_set():
                why.append(reason)
                stop.set()
                # shutdown() waits for serve_forever, which runs on this (the signalled) thread
                threading.Thread(target=server.shutdown, daemon=True).start()

        server.end = end
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: end(signal.Signals(signum).name))
        if idle_minutes:
            threading.Thread(target=_watch_idle, args=(server, stop, end), daemon=True).start()
        server.serve_forever(poll_interval=0.2)
        log(f"ending ({why[0] if why else 'stopped'})")
        return 0
    finally:
        if server is not None:
            server.server_close()
            server.worker.shutdown(wait=False, cancel_futures=True)
            try:
                if server.inode is not None and path.stat().st_ino == server.inode:  # still ours
                    path.unlink()
            except OSError:
                pass
        lock.close()


def _remove_stale(path: Path) -> None:
    """Remove the socket of a server that ended without doing so (we hold the lock, so no live
    server owns it)."""
    if path.is_socket():
        path.unlink()
    elif path.exists() or path.is_symlink():
        raise CFError(f"{path} exists and is not a socket; remove it")


def _first_lang(model: str) -> str:
    from core.checkpoint import read_config

    return read_config(model)["model"]["langs"][0]


def _watch_idle(server: ModelServer, stop: threading.Event, end: Callable) -> None:
    poll = min(5.0, max(0.05, server.idle_s / 4))
    while not stop.wait(poll):
        if server.idle_for() >= server.idle_s:
            end(f"idle for {server.idle_s / 60:g} min")
            return

