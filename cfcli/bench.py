"""`cf bench`: speed of top-k generation under several sampler settings, each beside the
paper's full 1,200-step sampler measured in the same run, and each with its quality on a
fixed slice of the test split, so a faster setting can never hide a quality loss.

Per setting: latency p50/p95 of one prompt's top-k (warm), batched throughput (prompts/s while
scoring the quality slice), peak CUDA memory, and the language's main metric top-1/top-5
and top-1 syntax validity. Once per run: model load time, and a cold `cf PROMPT --json` in a
new process (wall time and peak RSS), which is what a shell user waits for.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from core.errors import CFError
from core.registry import display_name


@dataclass(frozen=True)
class Setting:
    name: str
    steps: int
    sampler: str = "ddim"
    clamp: bool = True
    early_stop: int = 0
    precision: str = "fp32"
    shrink: bool = False  # length buckets (Pipeline.stream)
    compile: bool = False  # torch.compile of the denoiser and decoder (core.generate.compiled_steps)

    def sampling(self) -> dict:
        return dict(steps=self.steps, sampler=self.sampler, clamp=self.clamp, early_stop=self.early_stop,
                    shrink=self.shrink)


def default_settings(T: int, device: str, default_steps: int | None = None, full: int | None = None) -> list[Setting]:
    """The paper's schedule first: every speedup is a ratio to it. The rest go from the paper's
    step counts towards cf's default (core.generate: DPM++ 5 steps, 3 for a retrieval model,
    clamping, int8 on CPUs, length buckets), with the default until 2026-12-02 (DPM++ 10, early
    stop 2) beside it. ``full``: the steps a retrieval model's full schedule has (it starts from
    its examples, partway down)."""
    from core.generate import DEFAULT_SAMPLER, DEFAULT_STEPS

    steps = default_steps or DEFAULT_STEPS
    low = "bf16" if device == "cuda" else "int8"
    default = f"DPM++ {steps}, {low}, length buckets" + (" (cf's default)" if low == "int8" else "")
    paper = f"paper: DDPM, {T} steps" if full is None else f"paper's DDPM over the rest of the schedule, {full} steps"
    settings = [
        # The paper's sampler: DDPM ancestral over all T steps, no clamping (the decoder runs once).
        Setting(paper, T if full is None else full, clamp=False),
        Setting("DDIM 50", 50),
        Setting("DDIM 10", 10),
        Setting("DPM++ 10", 10, "dpm++"),
        Setting("DPM++ 10, no clamping", 10, "dpm++", clamp=False),
        Setting("DPM++ 5", 5, "dpm++"),
        Setting("DPM++ 10, early stop 2", 10, "dpm++", early_stop=2),
        Setting("DPM++ 5, bf16", 5, "dpm++", precision="bf16"),
        Setting(f"DPM++ 5, {low}", 5, "dpm++", precision=low),
        Setting(f"DPM++ 10, early stop 2, {low}, length buckets", 10, "dpm++", early_stop=2, precision=low,
                shrink=True),
        Setting(default, steps, DEFAULT_SAMPLER, precision=low, shrink=True),
    ]
    return list(dict.fromkeys(settings))  # on CUDA, "DPM++ 5, {low}" is "DPM++ 5, bf16": measured once


def with_compiled(settings: list[Setting]) -> list[Setting]:
    """`cf bench --compile`: ``settings`` and the compiled settings they lack (on CUDA the
    default list already has the eager bf16 twin)."""
    return settings + [s for s in compiled_settings() if s not in settings]


def compiled_settings() -> list[Setting]:
    """`cf bench --compile`: cf's default sampling in fp32 and bf16, each eager and under
    torch.compile (CUDA graphs on CUDA), side by side (int8 does not compile: Pipeline)."""
    from core.generate import DEFAULT_SAMPLER, DEFAULT_STEPS

    return [Setting(f"DPM++ {DEFAULT_STEPS}, {p}, length buckets" + (", compiled" if c else ""), DEFAULT_STEPS,
                    DEFAULT_SAMPLER, precision=p, shrink=True, compile=c)
            for p in ("fp32", "bf16") for c in (False, True)]


@dataclass
class BenchRequest:
    model: str | None  # name or directory; None: the config's model, else the shipped default
    lang: str
    device: str = "cpu"
    prompts: int = 10  # latency: the first N test prompts, one at a time
    full_prompts: int = 2  # the baseline's (slow) latency on fewer prompts
    quality_items: int = 100  # quality and throughput: the first N test items, batched
    full_quality_items: int | None = None  # the baseline's (slow) quality on fewer items (None: the same)
    top_k: int = 5
    batch: int = 16
    seed: int = 0
    threads: int | None = None
    data: str | None = None
    cold_runs: int = 3
    cold_only: bool = False  # only the model load and the cold start
    ar_model: str | None = None  # the autoregressive baseline (a t5-ar model), measured on the same prompts
    compile: bool = False  # also the compiled settings (compiled_settings)
    settings: list[Setting] = field(default_factory=list)  # the first is the baseline (default: the paper's)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    pos = (len(values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# The real entry point in a new interpreter, reporting its own high-water RSS (VmHWM) at exit.
# (wait4's ru_maxrss would not do: a forked child inherits the parent's peak before it execs.)
_COLD = """
import atexit, os, sys
out = sys.argv.pop(1)
def report():
    with open("/proc/self/status") as f:
        kb = next(line for line in f if line.startswith("VmHWM")).split()[1]
    with open(out, "w") as f:
        f.write(kb)
atexit.register(report)
real_exit = os._exit
def exit_reporting(status):  # cf's one-shot commands end with os._exit, which skips atexit
    report()
    real_exit(status)
os._exit = exit_reporting
import cfcli.client  # a cold start loads the model itself, even with `cf serve` up
cfcli.client.server_pipeline = lambda *args, **kwargs: None
sys.argv[0] = "cf"
from cfcli.launch import main
main()
"""


def cold_start(model: str, lang: str, prompt: str, runs: int) -> dict:
    """`cf PROMPT --json` in new processes: median wall time, largest peak RSS."""
    import tempfile

    times, rss = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            hwm = os.path.join(tmp, "hwm")
            start = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", _COLD, hwm, prompt, "--json", "--model", model, "--lang", lang],
                               capture_output=True, stdin=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
            if r.returncode != 0:
                lines = r.stderr.decode(errors="replace").strip().splitlines()
                raise CFError(f"cold start failed: {lines[-1] if lines else r.returncode}")
            with open(hwm) as f:
                rss.append(int(f.read()) / 1024)
    return {"runs": runs, "wall_s_p50": round(statistics.median(times), 3), "peak_rss_mb": round(max(rss), 1)}


def run_bench(request: BenchRequest, log: Callable[[str], None] = lambda s: None) -> dict:
    import torch

    from cfcli.evaluate import load_items
    from core.checkpoint import read_config, require_language
    from cfcli.userconfig import resolve_model
    from core.device import pick_device
    from core.generate import Pipeline

    directory = resolve_model(request.model)
    require_language(read_config(directory)["model"]["langs"], request.lang, directory)
    ar_dir = None
    if request.ar_model:
        ar_dir = resolve_model(request.ar_model)
        ar_cfg = read_config(ar_dir)["model"]
        require_language(ar_cfg["langs"], request.lang, ar_dir)
        if ar_cfg.get("arch") != "t5-ar":
            raise CFError(f"--ar-model {request.ar_model} is not an autoregressive model "
                          "(train one with `cf train --arch t5-ar`)")
    if request.threads:
        torch.set_num_threads(request.threads)
    device = pick_device(request.device)
    items = load_items(request.lang, "test", request.data)
    if request.quality_items > len(items) or request.prompts > len(items):
        raise CFError(f"the {request.lang} test split has only {len(items)} items")
    prompts = [i.nl for i in items[: request.prompts]]
    quality = items[: request.quality_items]

    from core.retrieval.user import shipped_store

    examples = shipped_store()  # a retrieval model's: the shipped rows, whoever runs it
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        base = Pipeline.from_pretrained(directory, device, lang=request.lang, precision="fp32", examples=examples)
        loads.append(time.perf_counter() - start)
    T = base.cfg.diffusion_steps
    from core.generate import default_steps

    full = base.model.start_timestep() + 1 if base.cfg.retrieval else None
    settings = request.settings or default_settings(T, device.type, default_steps(base.cfg), full)
    if request.compile:
        settings = with_compiled(settings)
    pipes: dict[tuple[str, bool], Pipeline] = {("fp32", False): base}

    rows = []
    for s in ([] if request.cold_only else settings):
        if (s.precision, s.compile) not in pipes:
            pipes[s.precision, s.compile] = Pipeline(base.model, base.tok, device, name=directory, lang=request.lang,
                                                     precision=s.precision, compile=s.compile, examples=examples)
        baseline = s is settings[0]
        rows.append({**asdict(s), **_measure(pipes[s.precision, s.compile], s.name, s.sampling(), request, prompts,
                                             quality, baseline, log)})
    ar_row = None
    if ar_dir and not request.cold_only:
        # The autoregressive baseline: the same prompts and items, beam search for the top-k, at
        # cf's default precision for the device (its own Pipeline, like any other model).
        ar = Pipeline.from_pretrained(ar_dir, device, lang=request.lang)
        ar_row = {"name": f"autoregressive T5, beam {request.top_k}, {ar.precision}", "model": display_name(ar_dir),
                  "precision": ar.precision,
                  **_measure(ar, "autoregressive baseline", {"steps": None}, request, prompts, quality, False, log)}
    full = rows[0] if rows else None
    for r in rows + ([ar_row] if ar_row and full else []):
        r["speedup_vs_paper"] = round(full["latency_ms_p50"] / r["latency_ms_p50"], 1)
        a, b = r["top5_on_common_items"], full["top5_on_common_items"]
        r["top5_minus_paper"] = None if a is None or b is None else round(a - b, 2)
    report = {
        "model": display_name(directory), "lang": request.lang, "device": str(device), "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "top_k": request.top_k, "prompts": request.prompts, "batch": request.batch,
        "date": time.strftime("%Y-%m-%d"), "load_s_p50": round(statistics.median(loads), 3),
        "process_peak_rss_mb": round(peak_rss_mb(), 1),
        "autoregressive_baseline": ar_row,  # None without --ar-model
        "settings": rows,
    }
    if request.cold_runs:
        log("cold start")
        report["cold_start"] = cold_start(directory, request.lang, prompts[0], request.cold_runs)
    return report


def _measure(pipe, name: str, sampling: dict, request: BenchRequest, prompts: list[str], quality: list,
             baseline: bool, log: Callable[[str], None]) -> dict:
    """One row: warm latency of one prompt's top-k, batched throughput and quality on the slice.
    The baseline (``baseline``: the paper's slow sampler) runs on the shorter --full-* lists."""
    import torch

    from cfcli.evaluate import generate_candidates, main_metric, score, summarize

    cuda = pipe.device.type == "cuda"
    log(f"{name}: latency")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    pipe.generate(prompts[0], k=request.top_k, seed=request.seed, **sampling)  # warm-up
    if pipe.compiled:  # compile the batched shapes too, outside the timed throughput run
        pipe.generate_batch([i.nl for i in quality[: request.batch]], k=request.top_k, seed=request.seed, **sampling)
    latencies, steps_run = [], []
    for i, prompt in enumerate(prompts[: request.full_prompts] if baseline else prompts):
        start = time.perf_counter()
        result = pipe.generate(prompt, k=request.top_k, seed=request.seed + i, **sampling)
        if cuda:
            torch.cuda.synchronize()
        latencies.append(1000 * (time.perf_counter() - start))
        steps_run.append(result.timings["steps"])
    n_quality = quality
    if baseline and request.full_quality_items is not None:
        n_quality = quality[: request.full_quality_items]
    log(f"{name}: quality on {len(n_quality)} items")
    start = time.perf_counter()
    candidates = generate_candidates(pipe, [i.nl for i in n_quality], top_k=request.top_k, seed=request.seed,
                                     batch=request.batch, **sampling)
    elapsed = time.perf_counter() - start
    summary, records = score(n_quality, candidates, request.lang)
    metric = main_metric(summary, request.lang)
    # The difference to the baseline is taken on the items both were scored on.
    n_common = len(quality) if request.full_quality_items is None else request.full_quality_items
    common = summarize(records[:n_common], request.lang)["metrics"][metric]
    return {
        "latency_prompts": len(latencies),
        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
        "mean_steps_run": round(statistics.mean(steps_run), 1),
        "throughput_prompts_per_s": round(len(n_quality) / elapsed, 2),
        "cuda_max_allocated_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        "quality_items": len(n_quality),
        "metric": metric,
        "top1": summary["metrics"][metric]["top1"],
        "top5": summary["metrics"][metric]["top5"],
        "valid_top1": summary["validity"]["top1"],
        "common_items": n_common,
        "top5_on_common_items": common["top5"],
    }


def print_bench(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if report["settings"]:
        _settings_table(console, Table, report)
    console.print(f"model load {report['load_s_p50']:.2f} s (p50 of 3, warm file cache); "
                  f"process peak RSS {report['process_peak_rss_mb']:.0f} MB")
    if "cold_start" in report:
        c = report["cold_start"]
        console.print(f"cold `cf PROMPT --json`: {c['wall_s_p50']:.2f} s (p50 of {c['runs']}), peak RSS {c['peak_rss_mb']:.0f} MB")
    if report["autoregressive_baseline"] is None:
        console.print("autoregressive baseline: not measured (--ar-model NAME|DIR, a `cf train --arch t5-ar` model)")


def _settings_table(console, Table, report: dict) -> None:
    table = Table(title=f"cf bench: {report['model']} ({report['lang']}, {report['device']}, "
                        f"{report['torch_threads']} threads, top-{report['top_k']})")
    for col in ("setting", "p50 ms", "p95 ms", "speedup", "steps run", "prompts/s",
                f"{report['settings'][0]['metric']} top-1", "top-5", "Δ top-5", "valid %", "items"):
        table.add_column(col, justify="left" if col == "setting" else "right")
    for r in report["settings"] + ([report["autoregressive_baseline"]] if report["autoregressive_baseline"] else []):
        table.add_row(r["name"], f"{r['latency_ms_p50']:.0f}", f"{r['latency_ms_p95']:.0f}", f"{r['speedup_vs_paper']}x",
                      f"{r['mean_steps_run']:g}", f"{r['throughput_prompts_per_s']:.2f}",
                      _num(r["top1"]), _num(r["top5"]), _num(r["top5_minus_paper"]), _num(r["valid_top1"]),
                      str(r["quality_items"]))
    console.print(table)


def _num(v) -> str:
    return "-" if v is None else f"{v:.1f}"
