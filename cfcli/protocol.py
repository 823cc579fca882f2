"""The wire protocol of `cf serve` and its limits, shared by the server (cfcli/serve.py) and its
clients (cfcli/client.py), and the one check of a prompt, wherever it comes from (argv, stdin, the
socket). Torch-free and cheap to import.

The protocol: JSON lines over the server's Unix socket, one request per connection.
Request (one line, at most MAX_REQUEST_BYTES): {"op": "generate", "prompt", "lang", "model" (a
model directory), "top_k", "steps", "seed", "roll", "previews"}; {"op": "note", "prompt", "lang",
"model"} (the prompt-cut note alone); {"op": "status"}; {"op": "stop"} (it ends once the answer
{"stopping": true} is sent: how a client that finds a server running other code, one started
before an upgrade, retires it).
Answers: for generate, {"note"}, then {"step": {"index", "total", "texts"}} per denoising step
("texts" only when previews are asked for), then {"result": Result.to_json()}; for note,
{"note"}; for status, {"status": {"pid", "version", "stamp", "models", …}}; {"error": MESSAGE} instead of
any of them. Closing the connection (or sending anything more) cancels the request.
"""

from __future__ import annotations

import json
import os
import stat
from functools import lru_cache
from pathlib import Path

from core.config import LANGS
from core.errors import CFError

# Prompts are a sentence or two; the models read at most prompt_len tokens (32 to 128). A limit
# in characters turns a pasted file into a clear error instead of seconds of tokenizing.
MAX_PROMPT_CHARS = 2000
SOCKET_NAME = "serve.sock"
LOCK_NAME = "serve.lock"
LOG_NAME = "serve.log"
# A request is a prompt (at most MAX_PROMPT_CHARS) and a few options.
MAX_REQUEST_BYTES = 16 * 1024
# Longest a path to a Unix socket may be (sun_path, less its terminating NUL).
MAX_SOCKET_PATH = 107


def check_prompt(prompt: str) -> None:
    """A prompt cf will read, stripped, or a CFError saying why not."""
    if not prompt:
        raise CFError("empty prompt: say what the code should do, e.g. cf \"remove directory tree\"")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in argv arrive as surrogates
        raise CFError("the prompt is not valid UTF-8") from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise CFError(f"the prompt is too long ({len(prompt)} characters; at most {MAX_PROMPT_CHARS})")


def check_request(raw: bytes) -> dict:
    """The request as the worker reads it, or a CFError saying what is wrong with it."""
    try:
        req = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CFError("the request is not a JSON object on one line") from None
    if not isinstance(req, dict):
        raise CFError("the request is not a JSON object on one line")
    op = req.get("op", "generate")
    if op not in ("generate", "note", "status", "stop"):
        raise CFError(f"unknown op {op!r}; choose generate, note, status or stop")
    if op in ("status", "stop"):
        return {"op": op}
    prompt, lang, model = req.get("prompt"), req.get("lang", "bash"), req.get("model")
    if not isinstance(prompt, str):
        raise CFError("prompt must be a string")
    prompt = prompt.strip()
    check_prompt(prompt)
    if lang not in LANGS:
        raise CFError(f"lang must be one of {', '.join(LANGS)}")
    if not isinstance(model, str) or not os.path.isabs(model):
        raise CFError("model must be a model directory's absolute path")
    top_k, steps, seed, roll = req.get("top_k", 5), req.get("steps"), req.get("seed"), req.get("roll", 0)
    for name, value, low, high in (("top_k", top_k, 1, 50), ("steps", steps, 1, 100_000),
                                   ("seed", seed, -(2**63), 2**63 - 1), ("roll", roll, 0, 2**63 - 1)):
        if value is not None and (type(value) is not int or not low <= value <= high):
            raise CFError(f"{name} must be an integer from {low} to {high}")
    if top_k is None:
        raise CFError("top_k must be an integer from 1 to 50")
    return {"op": op, "prompt": prompt, "lang": lang, "model": model, "top_k": top_k, "steps": steps,
            "seed": seed, "roll": roll or 0, "previews": bool(req.get("previews", False))}


@lru_cache(maxsize=1)
def code_stamp() -> str:
    """Which code this is: the version and the newest modification time of cf's own modules. A
    server whose stamp differs from its client's was started before an upgrade (or an edit of an
    editable install) and would answer with the old code until it went idle."""
    import core
    from core import __version__

    newest = 0
    for package_dir in (os.path.dirname(core.__file__), os.path.dirname(os.path.abspath(__file__))):  # core, cfcli
        for root, dirs, names in os.walk(package_dir):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", "assets")]  # no code there
            for name in names:
                if name.endswith(".py"):
                    newest = max(newest, os.stat(os.path.join(root, name)).st_mtime_ns)
    return f"{__version__}:{newest}"


def socket_path() -> Path:
    from cfcli.userconfig import serve_dir

    return serve_dir() / SOCKET_NAME


def check_socket_path(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise CFError(f"the socket path {path} is longer than Unix sockets allow ({MAX_SOCKET_PATH} bytes); "
                      "set XDG_RUNTIME_DIR or CODEFUSION_HOME to a shorter folder")


def private_dir(path: Path) -> Path:
    """``path`` as a folder only this user can enter (made 0700, or checked and tightened)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise CFError(f"{path} is not a folder of yours; cf serve will not put its socket there")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path
