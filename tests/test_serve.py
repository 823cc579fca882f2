"""`cf serve` over its real Unix socket, on the real tiny model: several clients at once, a client
killed mid-request, the size limit, the socket's and folder's modes, --status, idle exit, the
picker's cancel, and `cf generate` without a server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, cf
from tests.tmux import Tmux, require

PROMPT = "(GNU specific) Display info on most CPU-intensive processes once and exit."
SLOW = 1000  # steps: a request that is still running whenever the test looks


@contextmanager
def home_env(home: Path):
    """CODEFUSION_HOME for this process's own client calls (cfcli.client reads it per call)."""
    before = os.environ.get("CODEFUSION_HOME")
    os.environ["CODEFUSION_HOME"] = str(home)
    try:
        yield
    finally:
        os.environ["CODEFUSION_HOME"] = before or ""


HOMES: list[Path] = []


def new_home() -> Path:
    # Short: a Unix socket's path has at most 107 bytes, pytest's tmp_path can be longer.
    HOMES.append(Path(tempfile.mkdtemp(prefix="cf-serve-")))
    return HOMES[-1]


@pytest.fixture(scope="module", autouse=True)
def remove_homes():
    yield
    for home in HOMES:
        shutil.rmtree(home, ignore_errors=True)


def start_server(model: Path, home: Path, *more: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cfcli", "serve", "--model", str(model), *more], cwd=ROOT,
                            env={**os.environ, "CODEFUSION_HOME": str(home)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def wait_until(condition, timeout: float = 60.0, what: str = "the condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def server_status():
    from cfcli.client import status

    return status()


def assert_ended_cleanly(proc: subprocess.Popen, home: Path, why: str | None = None) -> None:
    """It exited 0, said why it ended (when ``why`` is given) and removed its socket."""
    assert proc.returncode == 0
    if why is not None:
        assert f"ending ({why})" in proc.stderr.read().decode()
    assert not (home / "run" / "serve.sock").exists()


@pytest.fixture(scope="module")
def server(tiny_model):
    """A server on the tiny model that never ends on its own; yields its home folder."""
    home = new_home()
    proc = start_server(tiny_model, home, "--idle-minutes", "0")
    with home_env(home):
        try:
            wait_until(lambda: server_status() or proc.poll() is not None, 120, "the server")
            assert proc.poll() is None, proc.stderr.read().decode()
            yield home
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    assert_ended_cleanly(proc, home)


def raw_request(home: Path, payload: bytes) -> list[dict]:
    """Send bytes as they are and read every answer line until the server closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(str(home / "run" / "serve.sock"))
        s.sendall(payload)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def generate_request(model_dir: Path, **more) -> bytes:
    req = {"prompt": PROMPT, "lang": "bash", "model": str(model_dir), "top_k": 3, "steps": 4, "seed": 1, **more}
    return json.dumps(req).encode() + b"\n"


def test_the_socket_is_private_and_status_names_the_model(server, tiny_model):
    sock, folder = server / "run" / "serve.sock", server / "run"
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    r = cf("serve", "--status", env={"CODEFUSION_HOME": str(server)})
    assert r.returncode == 0, r.stderr.decode()
    assert f"model      {tiny_model}" in r.stdout.decode()
    # A second server on the same socket says so in one line instead of taking it over.
    r = cf("serve", "--model", str(tiny_model), env={"CODEFUSION_HOME": str(server)})
    assert r.returncode == 2 and r.stderr.decode().startswith("cf: error: a server already runs"), r.stderr.decode()
    assert server_status() is not None


def test_several_clients_at_once_each_get_their_steps_and_result(server, tiny_model):
    before = server_status()["generated"]
    answers: dict[int, list[dict]] = {}

    def client(i: int) -> None:
        answers[i] = raw_request(server, generate_request(tiny_model, seed=i % 2, previews=True))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(answers) == [0, 1, 2, 3]
    for lines in answers.values():
        assert "note" in lines[0]
        steps = [line["step"] for line in lines if "step" in line]
        assert [s["index"] for s in steps] == [1, 2, 3, 4] and all(len(s["texts"]) == 3 for s in steps)
        assert "result" in lines[-1] and lines[-1]["result"]["candidates"]
    # the same seed, the same candidates, whichever client asked and whenever
    assert answers[0][-1]["result"]["candidates"] == answers[2][-1]["result"]["candidates"]
    assert server_status()["generated"] == before + 4


def test_cf_generate_uses_the_server_without_importing_torch(server, tiny_model):
    before = server_status()["generated"]
    env = {"CODEFUSION_HOME": str(server)}
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cfcli", "generate", PROMPT, "--model",
                        str(tiny_model), "--steps", "4", "--seed", "1", "--top-k", "3", "--json"],
                       capture_output=True, cwd=ROOT, env={**os.environ, **env}, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    imported = [line.split("|")[-1].strip() for line in r.stderr.decode().splitlines() if line.startswith("import time")]
    assert "typer" in imported and not [m for m in imported if m.split(".")[0] == "torch"]
    result = json.loads(r.stdout)
    assert result["candidates"] and result["model"] == str(tiny_model)
    assert server_status()["generated"] == before + 1
    # and its answer is the server's: the same as a raw request with the same seed
    raw = raw_request(server, generate_request(tiny_model))
    assert raw[-1]["result"]["candidates"] == result["candidates"]
    # `serve = "off"` in the config: loaded in-process, the server untouched
    (server / "config.toml").write_text('serve = "off"\n')
    try:
        r = cf("generate", PROMPT, "--model", str(tiny_model), "--steps", "2", "--json", env=env)
        assert r.returncode == 0, r.stderr.decode()
        assert server_status()["generated"] == before + 2
    finally:
        (server / "config.toml").unlink()


def test_a_bare_prompt_with_a_server_up_imports_neither_typer_nor_torch(server, tiny_model):
    before = server_status()["generated"]
    (server / "config.toml").write_text(f"model = {json.dumps(str(tiny_model))}\n")
    try:
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cfcli", PROMPT], capture_output=True, cwd=ROOT,
                           env={**os.environ, "CODEFUSION_HOME": str(server)}, stdin=subprocess.DEVNULL, timeout=120)
    finally:
        (server / "config.toml").unlink()
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.decode().splitlines()
                if line.startswith("import time")}
    assert "cfcli" in imported and not imported & {"typer", "pydantic", "torch"}
    assert r.stdout.decode().strip() and server_status()["generated"] == before + 1


def test_a_server_running_other_code_is_stopped_and_the_model_loads_here(tiny_model, monkeypatch):
    from cfcli import client

    home = new_home()
    proc = start_server(tiny_model, home, "--idle-minutes", "0")
    try:
        with home_env(home):
            info = wait_until(lambda: server_status() or proc.poll() is not None, 120, "the server")
            assert proc.poll() is None and info["stamp"] == client.code_stamp()
            assert client.server_pipeline(str(tiny_model), "bash") is not None  # the same code: used
            r = cf("serve", "--status", env={"CODEFUSION_HOME": str(home)})
            assert r.returncode == 0 and "other code" not in r.stdout.decode()
            # a client of another version (as after an upgrade) asks it to end, and loads its own
            monkeypatch.setattr(client, "code_stamp", lambda: "0.0.0:1")
            assert client.server_pipeline(str(tiny_model), "bash") is None
            proc.wait(30)
    finally:
        proc.kill()
    assert_ended_cleanly(proc, home, "a client asked it to stop")


def test_a_client_killed_mid_request_cancels_it(server, tiny_model):
    cancelled = server_status()["cancelled"]
    client = subprocess.Popen([sys.executable, "-m", "cfcli", "generate", PROMPT, "--model", str(tiny_model),
                               "--steps", str(SLOW), "--json"], cwd=ROOT,
                              env={**os.environ, "CODEFUSION_HOME": str(server)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: server_status()["generating"], 60, "the client's request to run")
    finally:
        client.kill()
        client.wait()
    status = wait_until(lambda: (s := server_status()) and not s["generating"] and s, 30, "the request to stop")
    assert status["cancelled"] == cancelled + 1
    # and the server goes on serving
    assert "result" in raw_request(server, generate_request(tiny_model))[-1]


def test_the_pickers_cancel_key_cancels_on_the_server(server, tiny_model):
    from cfcli.client import RemotePipeline
    from cfcli.tui.app import PickerApp, PickRequest

    cancelled = server_status()["cancelled"]
    app = PickerApp(PickRequest(PROMPT, steps=SLOW, seed=1, model=str(tiny_model)),
                    lambda: RemotePipeline(str(tiny_model), "bash"))

    async def main():
        async with app.run_test(size=(110, 32)) as pilot:
            # the rain comes from the server's step events
            end = time.monotonic() + 60
            while "step " not in app._progress and time.monotonic() < end:
                await pilot.pause(0.05)
            assert "step " in app._progress
            await pilot.press("escape")

    asyncio.run(main())
    assert app.return_code == 1
    status = wait_until(lambda: (s := server_status()) and not s["generating"] and s, 30, "the request to stop")
    assert status["cancelled"] == cancelled + 1


def test_bad_and_oversized_requests_get_one_error_line(server, tiny_model):
    from cfcli.protocol import MAX_REQUEST_BYTES

    big = generate_request(tiny_model, prompt="x" * 4 * MAX_REQUEST_BYTES)
    assert raw_request(server, big) == [{"error": f"the request is larger than {MAX_REQUEST_BYTES} bytes"}]
    assert raw_request(server, b"rm -rf /\n") == [{"error": "the request is not a JSON object on one line"}]
    [answer] = raw_request(server, generate_request(tiny_model, top_k=0))
    assert answer == {"error": "top_k must be an integer from 1 to 50"}
    [answer] = raw_request(server, generate_request(tiny_model, lang="python"))
    assert answer == {"error": f"model {tiny_model} was trained for bash, not python"}
    [answer] = raw_request(server, generate_request(tiny_model, model="relative/dir"))
    assert answer == {"error": "model must be a model directory's absolute path"}
    # and the same error through cf: one line, exit 2
    r = cf("generate", PROMPT, "--model", str(tiny_model), "--lang", "python", env={"CODEFUSION_HOME": str(server)})
    assert r.returncode == 2
    assert r.stderr.decode() == f"cf: error: model {tiny_model} was trained for bash, not python\n"


def test_it_ends_after_its_idle_time(tiny_model):
    home = new_home()
    proc = start_server(tiny_model, home, "--idle-minutes", "0.02")  # 1.2 s
    try:
        proc.wait(120)
    finally:
        proc.kill()
    assert_ended_cleanly(proc, home, "idle for 0.02 min")


def test_without_a_server_cf_generate_loads_the_model_itself(tiny_model):
    home = new_home()
    run = home / "run"
    run.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a socket file nobody listens on
    stale.bind(str(run / "serve.sock"))
    stale.close()
    env = {"CODEFUSION_HOME": str(home)}
    r = cf("serve", "--status", env=env)
    assert r.returncode == 1 and r.stderr.decode() == f"cf serve: no server answers on {run / 'serve.sock'}\n"
    r = cf("generate", PROMPT, "--model", str(tiny_model), "--steps", "4", "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["candidates"]


def test_auto_start_runs_a_detached_server_for_the_next_use(tiny_model):
    from cfcli.client import start_server as start_in_background, wait_for_server

    home = new_home()
    with home_env(home):
        start_in_background(str(tiny_model))
        assert wait_for_server(120)
        status = server_status()
        assert status["models"] == [str(tiny_model)]
        os.kill(status["pid"], signal.SIGTERM)
        wait_until(lambda: server_status() is None, 30, "the server to end")
    assert "serving" in (home / "run" / "serve.log").read_text()


def test_serve_settings_are_checked(tmp_path):
    env = {"CODEFUSION_HOME": str(tmp_path)}
    for bad, message in [("serve = 'sometimes'", "serve must be one of auto, use, off"),
                         ("serve_idle_minutes = -1", "serve_idle_minutes must be a number of minutes"),
                         ("serve_idle_minutes = 'long'", "serve_idle_minutes must be a number of minutes")]:
        (tmp_path / "config.toml").write_text(bad + "\n")
        r = cf("generate", "list files", env=env)
        err = r.stderr.decode()
        assert r.returncode == 2 and message in err and len(err.splitlines()) == 1, err
    r = cf("serve", "--idle-minutes", "-1", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr.decode()


def test_the_shell_key_starts_a_server_then_its_next_press_uses_it(tiny_model):
    """serve = "auto" (the default): the first Ctrl-G loads the model itself and, as the picker
    exits, starts `cf serve`; the next Ctrl-G's candidates come from that server."""
    require("tmux", "bash")
    from cfcli.client import wait_for_server

    home = new_home()
    (home / "config.toml").write_text(f'model = "{tiny_model}"\nsteps = 4\ntop_k = 3\nserve_idle_minutes = 2\n')
    term = Tmux(["bash", "--norc", "--noprofile"], {"HOME": str(home), "CODEFUSION_HOME": str(home)})
    cf_words = " ".join(f"'{w}'" for w in [sys.executable, "-m", "cfcli"])
    status = None
    try:
        term.type(f"PS1='$ '; eval \"$({cf_words} shell-init bash)\"; clear")
        term.keys("Enter")
        term.wait_for(lambda s: s.strip() == "$", what="a clear prompt")
        for press in range(2):
            term.type(PROMPT)
            term.keys("C-g")
            term.wait_for(lambda s: "done" in s and "Accept" in s, what="the picker's candidates")
            term.keys("Enter")
            term.wait_for(lambda s: "Accept" not in s and s.strip().startswith("$ ") and PROMPT not in s,
                          what="the candidate on the command line")
            term.keys("C-u")
            with home_env(home):
                assert wait_for_server(120), (home / "run" / "serve.log").read_text()
                status = server_status()
            assert status["generated"] == press  # the first press loaded the model itself
    finally:
        term.close()
        if status:
            os.kill(status["pid"], signal.SIGTERM)
    assert status["models"] == [str(tiny_model)]


# -- the thread policy (core/threads.py), in new processes: it is per process ------------------

_POLICY = r"""
import json, os, subprocess, sys, time
from core import threads
spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(int(sys.argv[1]))]
time.sleep(0.5)
threads.configure("interactive")
import torch
count = threads.apply()
for p in spinners:
    p.kill()
print(json.dumps({"count": count, "torch": torch.get_num_threads(), "cores": os.cpu_count()}))
"""


def policy_in_child(spinners: int, **env) -> dict:
    r = subprocess.run([sys.executable, "-c", _POLICY, str(spinners)], capture_output=True, cwd=ROOT, timeout=120,
                       env={**{k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}, **env})
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def test_beside_busy_processes_the_interactive_path_runs_on_the_cores_they_leave():
    busy = policy_in_child(2)
    assert busy["count"] == busy["torch"] == max(1, busy["cores"] - 2)
    # the user's OMP_NUM_THREADS wins over the policy
    own = policy_in_child(2, OMP_NUM_THREADS="2")
    assert own["count"] is None and own["torch"] == 2


def test_the_thread_count_changes_no_candidate(tiny_model):
    import torch

    from core.generate import Pipeline

    pipe = Pipeline.from_pretrained(tiny_model)
    before = torch.get_num_threads()
    prompts = [PROMPT, "list files", "remove directory tree", "count lines in all csv files"]
    try:
        runs = []
        for n in (1, 2):  # (2 threads beside other work: seconds a prompt, hence one prompt alone)
            torch.set_num_threads(n)
            runs.append([[(c.code, c.score) for c in r.candidates]
                         for r in [pipe.generate(prompts[1], k=5, seed=3), *pipe.generate_batch(prompts, k=5, seed=3)]])
    finally:
        torch.set_num_threads(before)
    assert runs[0] == runs[1]
