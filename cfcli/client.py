"""The client side of `cf serve` (cfcli/serve.py): no torch here, so that a `cf generate` or a
picker that finds a server answers in a fraction of a second. The protocol: cfcli/protocol.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Callable, Iterator

from cfcli.protocol import LOG_NAME, MAX_SOCKET_PATH, check_socket_path, code_stamp, private_dir, socket_path
from core.errors import CFError
from core.events import Cancelled, Result, Step

# Longest to wait for an answer line (the server sends one per denoising step): a model it has
# not loaded yet takes seconds, a queue behind other clients' requests longer.
ANSWER_TIMEOUT_S = 600.0
# How often a streaming client looks at its cancel callback while it waits for the next line.
POLL_S = 0.05


class NoServer(CFError):
    """No server answers, or it went away before answering: cf generate loads the model
    in-process instead; the picker, already streaming, says so."""

    def __init__(self, why: str) -> None:
        super().__init__(f"cf serve did not answer ({why}); run the command again")


def connect(timeout: float = 1.0) -> socket.socket:
    """A connection to the server; NoServer when none answers."""
    path = socket_path()
    if len(os.fsencode(path)) > MAX_SOCKET_PATH or not path.is_socket():
        raise NoServer(str(path))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError:  # refused (a stale socket), gone, or not ours
        sock.close()
        raise NoServer(str(path)) from None
    return sock


def _lines(sock: socket.socket, cancel: Callable[[], bool] | None = None, timeout: float = ANSWER_TIMEOUT_S
           ) -> Iterator[dict]:
    """The answer's JSON lines; NoServer when the server closes without an answer, or sends no
    line for ``timeout`` seconds."""
    buf = b""
    waited = 0.0
    sock.settimeout(POLL_S if cancel else timeout)
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            waited = 0.0
            try:
                answer = json.loads(line)
            except ValueError:
                raise NoServer("an answer that is not JSON") from None
            yield answer
        if cancel is not None and cancel():
            raise Cancelled()
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            waited += POLL_S if cancel else timeout
            if waited >= timeout:
                raise NoServer("no answer") from None
            continue
        except OSError:
            raise NoServer("connection lost") from None
        if not chunk:
            raise NoServer("connection closed")
        buf += chunk


def ask(request: dict, cancel: Callable[[], bool] | None = None, timeout: float = ANSWER_TIMEOUT_S
        ) -> Iterator[dict]:
    """Send one request and yield its answer lines; an {"error"} answer is a CFError. Closing the
    iterator (or ``cancel()`` turning true, which raises Cancelled) closes the connection, which
    cancels the request on the server."""
    sock = connect()
    try:
        try:
            sock.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        except OSError:
            raise NoServer("connection lost") from None
        for answer in _lines(sock, cancel, timeout):
            if "error" in answer:
                raise CFError(answer["error"])
            yield answer
            if "result" in answer or "status" in answer or "stopping" in answer or \
                    (request.get("op") == "note" and "note" in answer):
                return
    finally:
        sock.close()


def _answer(op: str, timeout: float) -> dict | None:
    """The one answer to a status or stop request, or None when no server answers."""
    try:
        for answer in ask({"op": op}, timeout=timeout):  # answered at once, even mid-generation
            return answer
    except (CFError, ValueError):  # NoServer is a CFError
        return None
    return None


def status(timeout: float = 5.0) -> dict | None:
    """The server's status, or None when none answers."""
    answer = _answer("status", timeout)
    return answer.get("status") if answer else None


class RemotePipeline:
    """What the picker uses of core.generate.Pipeline (cut_note, stream), through the server."""

    def __init__(self, model: str, lang: str) -> None:
        self.name, self.lang = os.path.abspath(model), lang

    def _request(self, op: str, prompt: str, lang: str | None, **more) -> dict:
        return {"op": op, "prompt": prompt, "lang": lang or self.lang, "model": self.name, **more}

    def cut_note(self, prompt: str, lang: str | None = None) -> str:
        for answer in ask(self._request("note", prompt, lang)):
            return answer["note"]
        return ""

    def stream(self, prompts, k: int = 5, steps: int | None = None, seed: int | None = None,
               cancel: Callable[[], bool] | None = None, preview_every: int = 0, lang: str | None = None,
               roll: int = 0) -> Iterator[Step | Result]:
        """Step events (with the candidates' texts when ``preview_every``), then the Result."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        for prompt in prompts:
            request = self._request("generate", prompt, lang, top_k=k, steps=steps, seed=seed, roll=roll,
                                    previews=bool(preview_every))
            for answer in ask(request, cancel):
                if "step" in answer:
                    step = answer["step"]
                    texts = step.get("texts")
                    yield Step(step["index"], step["total"], 0, [texts] if texts is not None else None)
                elif "result" in answer:
                    yield Result.from_json(answer["result"])

    def generate(self, prompt: str, k: int = 5, steps: int | None = None, seed: int | None = None,
                 on_note: Callable[[str], None] | None = None, roll: int = 0) -> Result:
        request = self._request("generate", prompt, None, top_k=k, steps=steps, seed=seed, roll=roll,
                                previews=False)
        for answer in ask(request):
            if answer.get("note") and on_note:
                on_note(answer["note"])
            if "result" in answer:
                return Result.from_json(answer["result"])
        raise NoServer("no result")


def stop() -> bool:
    """Ask the running server to end; True when one said it would."""
    answer = _answer("stop", 5.0)
    return bool(answer and answer.get("stopping"))


def server_pipeline(model: str, lang: str, device: str = "auto") -> RemotePipeline | None:
    """A pipeline through a running server, when the config lets cf use one (``serve``) and one
    answers with this code; None: load the model in-process. A server running other code (started
    before an upgrade) is told to end, so that the next one started runs this code. Only for the
    default device: a server picks its own."""
    from cfcli.userconfig import load_config

    if device != "auto" or load_config().serve == "off":
        return None
    info = status(timeout=0.5)
    if info is None:
        return None
    if info.get("stamp") != code_stamp():
        stop()
        return None
    return RemotePipeline(model, lang)


def start_server(model: str) -> None:
    """Start `cf serve` in the background, detached from this process and its terminal (config
    ``serve = "auto"``); it logs to serve.log beside its socket. A second one started at the same
    time finds the lock taken and ends."""
    from core.threads import child_environ

    path = socket_path()
    try:
        check_socket_path(path)
        folder = private_dir(path.parent)
        log = open(folder / LOG_NAME, "ab")
    except (CFError, OSError):
        return
    with log:
        subprocess.Popen([sys.executable, "-m", "cfcli", "serve", "--model", model], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, start_new_session=True, close_fds=True, env=child_environ())


def wait_for_server(timeout: float) -> bool:
    """True once a server answers (tests and benchmarks start one and wait)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if status() is not None:
            return True
        time.sleep(0.05)
    return False
