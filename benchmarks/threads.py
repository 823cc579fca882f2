"""Latency on a quiet and on a busy machine: torch's thread settings, and `cf serve`.

    python benchmarks/threads.py [--model NAME|DIR] [--prompts 10] [--batch 16] [--cold-runs 3]
                                 [--serve-runs 5] [--only threads|serve] [--out FILE.json]

Run it on a quiet machine (`uptime`'s 1-minute load below 0.5; the report records it). Every
figure is measured twice in the same run, idle and beside BUSY processes that spin one core each
(`python -c 'while True: pass'`), so the report's ratios compare like with like.

threads: for each setting (core/threads.py's ThreadPolicy; "today" is torch's defaults, no policy)
- warm: one prompt's 5 candidates, the model loaded (median of --prompts, after one warm-up);
- batch: --batch prompts denoised together, ms per prompt;
- cold: a new `cf generate PROMPT --json` process, the model loaded in it (median of --cold-runs);
"policy" is what cf ships: POLICIES["interactive"] for warm and cold, POLICIES["batch"] for batch.

serve: with `cf serve` up, a new `cf generate PROMPT --json` process (median of --serve-runs); in
bash on a pseudo-terminal, `cf "PROMPT"` to the picker's first frame, and the shell key (Ctrl-G)
to the candidates (median of --picker-runs); the same two without a server, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "remove directory tree",
    "(GNU specific) Display info on most CPU-intensive processes once and exit.",
    "find all python files modified in the last day",
    "count the lines of every csv file in this folder",
    "Abort the shell or script on the first failed command",
    'Add a line number to every line in "infile"',
    'Add executable permission to "java_ee_sdk-6u2-jdk-linux-x64.sh"',
    "list the 10 largest files under the current directory",
    "show which process listens on port 8080",
    "compress the logs folder into logs.tar.gz",
    "replace foo with bar in every .txt file",
    "print the disk usage of each directory here, sorted",
    "kill every process named node",
    "show the last 50 lines of syslog and follow it",
    "download a file with curl and save it under its remote name",
    "rename every .jpeg file to .jpg",
    "make a new git branch called fix and switch to it",
]
BUSY = 2  # spinning processes beside the measurement: one per core of the 2-core machine
SETTINGS = {  # name -> ThreadPolicy fields (threads, wait, interop); None: torch's defaults
    "today": None,
    "1 thread": (1, None, None),
    "cores, passive": ("cores", "PASSIVE", None),
    "cores, passive, interop 1": ("cores", "PASSIVE", 1),
    "free cores": ("free", None, None),
    "free cores, passive": ("free", "PASSIVE", None),
    "policy": "shipped",  # core/threads.py as it is
}

# A child process: force SETTING's policy on every path (or none: "today"), then run as told.
_CHILD = r"""
import json, sys
setting = json.loads(sys.argv[1])
from core import threads
if setting is None:
    threads.configure = lambda path, reserve=0: threads.POLICIES[path]  # torch's defaults, as before
elif setting != "shipped":
    policy = threads.ThreadPolicy(*setting)
    threads.POLICIES = {path: policy for path in threads.POLICIES}
if sys.argv[2] == "cf":
    sys.argv = ["cf", *sys.argv[3:]]
    from cfcli.launch import main
    main()
import time, statistics
model, prompts, batch = sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5])
threads.configure("interactive")
from core.generate import Pipeline
pipe = Pipeline.from_pretrained(model, "cpu", "bash")
import torch
pipe.generate(prompts[0], k=5, seed=0)
warm = []
for p in prompts[1:]:
    t = time.perf_counter(); pipe.generate(p, k=5, seed=0); warm.append(time.perf_counter() - t)
warm_threads = torch.get_num_threads()
threads.configure("batch")
t = time.perf_counter(); pipe.generate_batch(prompts[:batch], k=5, seed=0); b = time.perf_counter() - t
print(json.dumps({"warm_ms": 1000 * statistics.median(warm), "batch_ms_per_prompt": 1000 * b / batch,
                  "warm_threads": warm_threads, "batch_threads": torch.get_num_threads()}))
"""


def load1() -> float:
    return os.getloadavg()[0]


class Busy:
    """BUSY processes spinning one core each, for the length of a with block (none when idle)."""

    def __init__(self, on: bool) -> None:
        self.on, self.procs = on, []

    def __enter__(self):
        if self.on:
            self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BUSY)]
            time.sleep(0.5)  # let them reach full speed
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def child(setting, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _CHILD, json.dumps(setting), *args], capture_output=True,
                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL, timeout=1800)


def checked(r: subprocess.CompletedProcess) -> str:
    if r.returncode != 0:
        sys.exit(f"threads.py: a child failed: {r.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    return r.stdout.decode()


def measure_setting(setting, model: str, args, env: dict) -> dict:
    out = json.loads(checked(child(setting, "warm", model, json.dumps(PROMPTS[: args.prompts + 1]),
                                   str(args.batch), env=env)))
    cold = []
    for i in range(args.cold_runs):
        start = time.perf_counter()
        checked(child(setting, "cf", "generate", PROMPTS[i % len(PROMPTS)], "--model", model, "--json", env=env))
        cold.append(time.perf_counter() - start)
    out["cold_s"] = statistics.median(cold)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def run_threads(model: str, args, env: dict) -> dict:
    rows = {}
    names = args.settings.split(",") if args.settings else list(SETTINGS)
    for name in ["today", *[n for n in names if n != "today"]]:  # today: what the others are compared with
        setting, row = SETTINGS[name], {}
        for busy in (False, True):  # idle then busy for each setting: drift hits both alike
            with Busy(busy):
                row["busy" if busy else "idle"] = measure_setting(setting, model, args, env)
        row["ratio"] = {k: round(row["busy"][k] / row["idle"][k], 2)
                        for k in ("warm_ms", "batch_ms_per_prompt", "cold_s")}
        rows[name] = row
        print(f"threads.py: {name}: {json.dumps(row)}", file=sys.stderr)
    today = rows["today"]["idle"]
    for row in rows.values():  # idle against torch's defaults (the issue: no slower than today by > 10%)
        row["idle_vs_today"] = {k: round(row["idle"][k] / today[k], 2) for k in ("warm_ms", "batch_ms_per_prompt", "cold_s")}
    return rows


class Terminal:
    """An interactive bash on a pseudo-terminal of its own: keys in, output bytes read as they come
    (no screen polling, which would take CPU from what it measures)."""

    PS1 = "cf-bench$ "

    def __init__(self, env: dict) -> None:
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a shell on the pty's slave side
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"],
                       {**env, "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PS1": self.PS1})
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        self.until(self.PS1.encode())

    def send(self, data: bytes) -> float:
        os.write(self.fd, data)
        return time.perf_counter()

    def until(self, text: bytes, timeout: float = 120.0) -> float:
        """Read until ``text`` was written; the time it took."""
        import select

        start, out = time.perf_counter(), b""
        while text not in out:
            left = timeout - (time.perf_counter() - start)
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError(f"{text!r} never came; the last output: {out[-500:]!r}")
            out += os.read(self.fd, 65536)
        return time.perf_counter() - start

    def close(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def picker_times(cf: str, runs: int, env: dict) -> dict:
    """`cf "PROMPT"` to its first frame (the footer drawn), and Ctrl-G to the candidates ("done")."""
    first, keyed = [], []
    term = Terminal(env)
    try:
        term.send(f'eval "$({cf} shell-init bash)"\n'.encode())
        term.until(Terminal.PS1.encode())
        for i in range(runs):
            prompt = PROMPTS[i % len(PROMPTS)].replace("'", "").replace('"', "")
            term.send(f"{cf} '{prompt}'\n".encode())
            first.append(term.until(b"Accept"))
            term.until(b"done")
            term.send(b"\x1b")  # Esc: cancel
            term.until(Terminal.PS1.encode())
            term.send(prompt.encode())
            time.sleep(0.3)  # the shell has echoed the line
            term.send(b"\x07")  # Ctrl-G
            keyed.append(term.until(b"done"))
            term.send(b"\x1b")
            time.sleep(0.5)  # the line is back as it was
            term.send(b"\x15\n")  # Ctrl-U, Enter: an empty line, a new prompt
            term.until(Terminal.PS1.encode())
    finally:
        term.close()
    return {"first_frame_s": round(statistics.median(first), 3), "ctrl_g_to_candidates_s": round(statistics.median(keyed), 3)}


def run_serve(model: str, args, env: dict) -> dict:
    cf = f"{sys.executable} -m cfcli"
    out = {}
    for busy in (False, True):
        with Busy(busy):
            row = {}
            row["no_server"] = picker_times(cf, args.picker_runs, env)
            server = subprocess.Popen([sys.executable, "-m", "cfcli", "serve", "--model", model, "--idle-minutes", "0"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                start = time.perf_counter()
                while subprocess.run([sys.executable, "-m", "cfcli", "serve", "--status"], cwd=ROOT, env=env,
                                     capture_output=True).returncode != 0:
                    if server.poll() is not None or time.perf_counter() - start > 300:
                        sys.exit(f"threads.py: cf serve did not start: {server.stderr.read().decode()[-500:]}")
                    time.sleep(0.2)
                row["server_start_s"] = round(time.perf_counter() - start, 2)
                walls = []
                for i in range(args.serve_runs + 1):
                    t = time.perf_counter()
                    checked(subprocess.run([sys.executable, "-m", "cfcli", "generate", PROMPTS[i % len(PROMPTS)],
                                            "--model", model, "--json"], cwd=ROOT, env=env, capture_output=True))
                    walls.append(time.perf_counter() - t)
                row["generate_json_s"] = round(statistics.median(walls[1:]), 3)  # the first loads nothing, but warms caches
                row["server"] = picker_times(cf, args.picker_runs, env)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(60)
        out["busy" if busy else "idle"] = row
        print(f"threads.py: serve, {'busy' if busy else 'idle'}: {json.dumps(row)}", file=sys.stderr)
    return out


def table(report: dict) -> str:
    lines = []
    if "threads" in report:
        lines += ["| setting | warm idle ms | warm busy ms | × | cold idle s | cold busy s | × | batch idle ms/prompt "
                  "| batch busy | × | idle vs today (warm / cold / batch) |", "|---" * 11 + "|"]
        for name, r in report["threads"].items():
            i, b, x, t = r["idle"], r["busy"], r["ratio"], r["idle_vs_today"]
            lines.append(f"| {name} | {i['warm_ms']:.0f} | {b['warm_ms']:.0f} | {x['warm_ms']:.1f} | {i['cold_s']:.2f} "
                         f"| {b['cold_s']:.2f} | {x['cold_s']:.1f} | {i['batch_ms_per_prompt']:.0f} "
                         f"| {b['batch_ms_per_prompt']:.0f} | {x['batch_ms_per_prompt']:.1f} "
                         f"| {t['warm_ms']:.2f} / {t['cold_s']:.2f} / {t['batch_ms_per_prompt']:.2f} |")
    if "serve" in report:
        lines += ["", "| with `cf serve` | idle | busy |", "|---|---|---|"]
        s = report["serve"]
        for key, label in (("generate_json_s", "new `cf generate --json` process, s"),
                           ("server_start_s", "server start to answering, s")):
            lines.append(f"| {label} | {s['idle'].get(key, '-')} | {s['busy'].get(key, '-')} |")
        for where in ("server", "no_server"):
            for key, label in (("first_frame_s", "picker's first frame, s"), ("ctrl_g_to_candidates_s", "Ctrl-G to candidates, s")):
                if where in s["idle"]:
                    lines.append(f"| {label} ({where.replace('_', ' ')}) | {s['idle'][where][key]} | {s['busy'][where][key]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name or directory (default: the shipped one)")
    parser.add_argument("--prompts", type=int, default=10, help="warm prompts timed one at a time")
    parser.add_argument("--batch", type=int, default=16, help="prompts in the batch")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--serve-runs", type=int, default=5, help="`cf generate --json` processes with the server up")
    parser.add_argument("--picker-runs", type=int, default=3, help="picker and Ctrl-G runs, with and without a server")
    parser.add_argument("--settings", help="comma-separated: only these of " + ", ".join(SETTINGS))
    parser.add_argument("--only", choices=["threads", "serve"], help="one half of the report")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args()
    from cfcli.main import resolve_model

    model = str(Path(resolve_model(args.model)).absolute())
    load = load1()
    if load > 0.5:
        print(f"threads.py: the 1-minute load is {load:.2f}: figures beside other work mean little", file=sys.stderr)
    home = tempfile.mkdtemp(prefix="cf-threads-")  # no server, no user examples, no config of the user's
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["CODEFUSION_HOME"] = home
    # the picker runs on the same model; measured without a server, it must not start one for the
    # next run (serve = "auto")
    Path(home, "config.toml").write_text(f'model = {json.dumps(model)}\nserve = "use"\n')
    from core.registry import display_name
    from core.threads import POLICIES

    report = {"date": time.strftime("%Y-%m-%d"), "model": display_name(model), "cores": os.cpu_count(),
              "busy_processes": BUSY, "load_1min_before": round(load, 2),
              "policies": {k: asdict(v) for k, v in POLICIES.items()},
              "prompts": args.prompts, "batch": args.batch, "cold_runs": args.cold_runs}
    try:
        if args.only != "serve":
            report["threads"] = run_threads(model, args, env)
        if args.only != "threads":
            report["serve"] = run_serve(model, args, env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    report["load_1min_after"] = round(load1(), 2)
    print(table(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
