"""The ``cf`` command line. Heavy imports (torch, transformers) happen inside commands."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
import typer.core

from cfcli.userconfig import resolve_model
from core.config import LANGS
from core.errors import CFError
from core.train.args import TrainArgs


def _tidy_help(params) -> None:
    """Help as a user reads it: the prompt is `PROMPT` (not typer's `{prompt}`) and a flag shows
    no `<bool>` type, since it takes no value."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.display_type_rich = lambda ctx: None
        elif isinstance(param, typer.core.TyperArgument):
            name = (param.metavar or param.name or "").upper()
            param.metavar = name
            param._usage_display_name = (lambda n: lambda: n)(name if param.required else f"[{name}]")
            param.display_type_rich = lambda ctx: None


class CFCommand(typer.core.TyperCommand):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _tidy_help(self.params)

    def get_params(self, ctx):
        params = super().get_params(ctx)
        _tidy_help(params)  # --help is made here
        return params


class CFGroup(typer.core.TyperGroup):
    def get_params(self, ctx):
        params = super().get_params(ctx)
        _tidy_help(params)
        return params

    def parse_args(self, ctx, args):
        # `cf`, `cf examples`: the help once, exit 0 (as gh, docker, kubectl). click's own way
        # (NoArgsIsHelpError) printed typer's help twice, then exited 2.
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            text = ctx.get_help()  # typer's rich help prints itself and returns ""
            if text:
                typer.echo(text)
            ctx.exit(0)
        return super().parse_args(ctx, args)


class CFTyper(typer.Typer):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("cls", CFGroup)
        super().__init__(*args, **kwargs)

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", CFCommand)
        return super().command(*args, **kwargs)


def click_exceptions():
    """click's exceptions as typer raises them (typer 0.2x vendors click as typer._click)."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


app = CFTyper(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
              context_settings={"help_option_names": ["-h", "--help"]},  # the subcommands inherit it
                  help="CodeFusion: natural language to code with a diffusion model.\n\n"
                       "cf \"PROMPT\" watches candidates form and lets you pick one (see cf ask --help).")
data_app = CFTyper(no_args_is_help=True, help="Fetch the published benchmarks and pre-training data.")
model_app = CFTyper(no_args_is_help=True, help="Inspect models.")
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
examples_app = CFTyper(no_args_is_help=True, help="The examples a retrieval model edits: the shipped ones "
                           "(train splits, tldr-pages) and yours.")
app.add_typer(examples_app, name="examples")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"cf {version('codefusion')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("cf (not installed: no version)")
        raise typer.Exit(0)


@app.callback()
def root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                      help="Print the version and exit.")):
    pass


MODEL_HELP = ("Model name (`cf model list`) or directory; default: `model` in the config file, else the "
              "shipped codefusion-small.")


Lang = Enum("Lang", {lang: lang for lang in LANGS}, type=str)  # core.config.LANGS, as typer's choices


class Preset(str, Enum):
    tiny = "tiny"
    small = "small"
    paper = "paper"


class Stage(str, Enum):
    pretrain = "pretrain"
    finetune = "finetune"
    all = "all"


class Precision(str, Enum):
    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def err(msg: str) -> None:
    typer.echo(msg, err=True)


@app.command()
def train(
    lang: str = typer.Option(TrainArgs.lang, help="Target language: bash, python or cf; several, comma-separated "
                             "(bash,python,cf), train one model for all."),
    preset: Preset = typer.Option(TrainArgs.preset, help="Model size."),
    stage: Stage = typer.Option(TrainArgs.stage, help="Pre-training on snippets, fine-tuning on pairs, or both."),
    out: Path = typer.Option(..., help="Run directory: the model, its training state and metrics.jsonl."),
    max_steps: Optional[int] = typer.Option(TrainArgs.max_steps, min=1, help="Optimizer steps per stage (default: the preset's)."),
    resume: bool = typer.Option(TrainArgs.resume, help="Continue the run saved in --out."),
    stop_at: Optional[int] = typer.Option(TrainArgs.stop_at, min=1, help="End after this step of the stage (saved, resumable); "
                                          "the learning-rate schedule still runs to --max-steps."),
    device: Device = typer.Option(TrainArgs.device),
    batch_size: int = typer.Option(TrainArgs.batch_size, min=1, help="Global batch size (paper: 64)."),
    grad_accum: int = typer.Option(TrainArgs.grad_accum, min=1, help="Gradient accumulation steps."),
    lr: float = typer.Option(TrainArgs.lr, help="Peak learning rate (paper: 5e-4)."),
    warmup: int = typer.Option(TrainArgs.warmup, min=0, help="Warm-up steps."),
    save_every: int = typer.Option(TrainArgs.save_every, min=1, help="Save the training state every N steps."),
    log_every: int = typer.Option(TrainArgs.log_every, min=1, help="Write a metrics.jsonl row every N steps."),
    seed: int = typer.Option(TrainArgs.seed),
    data: Optional[Path] = typer.Option(TrainArgs.data, help="Data directory (default: where `cf data fetch` puts it)."),
    train_file: Optional[Path] = typer.Option(TrainArgs.train_file, help="Fine-tune on a JSONL of {\"nl\", \"code\"} instead."),
    limit: Optional[int] = typer.Option(TrainArgs.limit, min=1, help="Use only the first N training examples of each language."),
    encoder: Optional[str] = typer.Option(TrainArgs.encoder, help="Pretrained CodeT5 encoder (hub name or local path)."),
    precision: Precision = typer.Option(TrainArgs.precision, help="bf16 autocast on CUDA and on CPUs with AMX, else fp32."),
    vocab: str = typer.Option(TrainArgs.vocab, help="data: rows only for the tokens the data uses (smaller, faster); "
                              "full: all CodeT5 ids; auto: data, or full with --encoder."),
    init_from: Optional[str] = typer.Option(TrainArgs.init_from, help="Start from this model's weights, a name from `cf model "
                                            "list` or a directory (same preset; token rows matched across vocabularies)."),
    arch: str = typer.Option(TrainArgs.arch, help="codefusion, or t5-ar: the autoregressive T5 baseline of the "
                             "same size (beam search for top-k)."),
    cpd_rate: float = typer.Option(TrainArgs.cpd_rate, help="Pre-training rows that are CPD, the rest unconditional generation "
                                   "(1: the paper's ablation without code generation, 0: without CPD)."),
    dropout: Optional[float] = typer.Option(None, min=0.0, max=0.9, help="Dropout (default: the preset's; "
                                            "a resumed run keeps its own)."),
    holdout: int = typer.Option(TrainArgs.holdout, min=0, help="Keep N prompts of each language out of fine-tuning and sample "
                                "them at every save (held-out top-1 in metrics.jsonl)."),
    self_cond: bool = typer.Option(TrainArgs.self_cond, "--self-cond", help="Self-conditioning: the denoiser also reads its "
                                   "previous prediction (not in the paper; docs/results.md)."),
    literal_slots: bool = typer.Option(TrainArgs.literal_slots, "--literal-slots", help="The prompt's quoted strings and numbers "
                                       "become placeholders the model copies (not in the paper; docs/results.md)."),
    flag_tokens: bool = typer.Option(TrainArgs.flag_tokens, "--flag-tokens", help="The Bash train split's frequent flags "
                                     "(-name, -type, …) become whole tokens (not in the paper; docs/results.md)."),
    retrieval: bool = typer.Option(TrainArgs.retrieval, "--retrieval", help="Each candidate edits a retrieved example: the "
                                   "model reads the prompt with one of its nearest examples and starts sampling "
                                   "from it (not in the paper; docs/results.md)."),
    store: Optional[Path] = typer.Option(TrainArgs.store, help="The example store --retrieval trains with (default: the "
                                         "shipped one; `cf examples build` makes one)."),
    sources: str = typer.Option(TrainArgs.sources, help="Where fine-tuning pairs come from, comma-separated: train (the "
                                "benchmark's train split), tldr (Bash: the store's tldr-pages rows, less the held-out "
                                "pages and the development mix). A resumed run keeps its own."),
    no_progress: bool = typer.Option(not TrainArgs.progress, "--no-progress", help="No progress bar."),
):
    """Train a CodeFusion model (resumable; run under torchrun for DDP)."""
    from core import threads

    threads.configure("train")  # before torch loads
    from core.registry import resolve_model as resolve
    from core.train.trainer import train as run

    summary = run(TrainArgs(
        lang=lang, preset=preset.value, stage=stage.value, out=str(out), max_steps=max_steps,
        resume=resume, device=device.value, batch_size=batch_size, grad_accum=grad_accum, lr=lr,
        warmup=warmup, save_every=save_every, log_every=log_every, seed=seed,
        data=str(data) if data else None, train_file=str(train_file) if train_file else None,
        limit=limit, encoder=encoder, progress=not no_progress, precision=precision.value,
        vocab=vocab, init_from=str(resolve(init_from)) if init_from else None, arch=arch,
        cpd_rate=cpd_rate, self_cond=self_cond, literal_slots=literal_slots, flag_tokens=flag_tokens, holdout=holdout,
        overrides={} if dropout is None else {"dropout": dropout}, stop_at=stop_at,
        retrieval=retrieval, store=str(store) if store else None, sources=sources,
    ), log=err)
    for stage_name, s in summary["stages"].items():
        err(f"{stage_name}: {s['steps']} steps in {s['seconds']:.0f} s, {s['examples_per_s']:.1f} examples/s")
    err(f"model saved in {out}")


@app.command()
def generate(
    prompt: str = typer.Argument(..., help="What the code should do; '-' reads one prompt per line from stdin."),
    lang: Optional[Lang] = typer.Option(None, help="Target language (default: config, else bash)."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    top_k: Optional[int] = typer.Option(None, min=1, max=50, help="Candidates (default: config, else 5)."),
    steps: Optional[int] = typer.Option(None, min=1, help="Denoising steps (default: config, else cf's sampling; "
                                        "T=1200 is the paper's full schedule)."),
    seed: Optional[int] = typer.Option(None),
    device: Device = typer.Option(Device.auto, help="auto: CUDA when torch sees a GPU, else the CPU."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per prompt, with the seed that gives it again."),
):
    """Generate ranked candidates for a prompt, without the TUI: one a line, or `# N` headers when one
    spans lines (Python). With '-', a bad line is said with its number and the rest go on (exit 1)."""
    from cfcli.ask import print_candidates, read_prompts
    from cfcli.userconfig import resolve_options

    opts = resolve_options(lang=lang.value if lang else None, model=model, top_k=top_k, steps=steps)
    batch = read_prompts(prompt)
    # Through a running `cf serve` when one answers, else the model loaded here (cfcli/ask.py).
    raise typer.Exit(print_candidates(batch, resolve_model(opts.model), opts.lang, opts.top_k, opts.steps, seed,
                                      device.value, as_json))


def eval_pipeline(model: Optional[str], device: str, lang: str, precision: str, compile: bool):
    """The model `cf eval` scores; a retrieval model's examples: the shipped rows, whoever runs it."""
    from core.generate import Pipeline
    from core.retrieval.user import shipped_store

    return Pipeline.from_pretrained(resolve_model(model), device, lang, precision, compile, examples=shipped_store())


@app.command("eval")
def evaluate(
    lang: Optional[Lang] = typer.Option(None, help="bash (the default), python or cf; with --bench everyday, "
                                        "both of its languages when not given."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    split: str = typer.Option("test", help="Published split: test or train."),
    limit: Optional[int] = typer.Option(None, min=1, help="Only the first N items."),
    top_k: int = typer.Option(5, min=1, max=50, help="Candidates per prompt (top-1/3/5 are the best of the first k)."),
    steps: Optional[int] = typer.Option(None, min=1, help="Denoising steps (default: cf's, see README \"Speed\")."),
    seed: int = typer.Option(0),
    batch: int = typer.Option(16, min=1, help="Prompts generated together."),
    data: Optional[Path] = typer.Option(None, help="Data directory (default: where `cf data fetch` puts it)."),
    device: Device = typer.Option(Device.auto, help="auto: CUDA when torch sees a GPU, else the CPU."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    out: Optional[Path] = typer.Option(None, help="Also write the JSON report to FILE, and per-item predictions to FILE.items.jsonl."),
    plot: Optional[Path] = typer.Option(None, help="Write PNGs to DIR: refinement over the denoising steps (paper Fig. 2) and quality vs number of steps (Fig. 6; re-generates the items at each --plot-steps)."),
    plot_steps: str = typer.Option("1,2,5,10,20,50,100", help="Step counts of the quality-vs-steps plot."),
    codebertscore_model: Optional[str] = typer.Option(None, help="CodeBERTScore model, hub name or path, read from local files only (default neulab/codebert-python)."),
    sampler: Optional[str] = typer.Option(None, help="ddim (DDPM at --steps 1200, the paper's) or dpm++ (default: cf's)."),
    early_stop: Optional[int] = typer.Option(None, min=0, help="Stop once the rounded tokens are unchanged for N steps "
                                             "(0: never, cf's default since DPM++ 5 steps measured better without it)."),
    precision: str = typer.Option("auto", help="fp32, bf16 (autocast), int8 (dynamic quantisation, CPU) or auto (cf's default)."),
    clamp: str = typer.Option("decoder", help="Round x̂0 at every step through the decoder (default), to the nearest "
                              "token embedding (the paper's 'M with Clamping'), or none."),
    rounding: str = typer.Option("decoder", help="Final rounding: decoder + head (the paper), or nearest "
                                 "(the paper's 'M with Grounding')."),
    shrink: Optional[bool] = typer.Option(None, "--shrink/--no-shrink", help="Length buckets: go on over fewer "
                                          "positions once every candidate's rounded code has ended (default: cf's "
                                          "when --steps is not given, else off; see benchmarks/README.md)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the denoiser and decoder (CUDA graphs on "
                                 "CUDA); the first batch of each shape compiles for tens of seconds."),
    baseline: Optional[str] = typer.Option(None, help="lookup: no model, the codes of the train rows nearest each "
                                           "prompt (the example store's bm25); the floor a model must beat."),
    strength: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="A retrieval model's start: the share "
                                             "of the schedule its examples are noised to (default: the model's)."),
    bench: Optional[str] = typer.Option(None, help="Another benchmark instead of a published split: intercode "
                                        "(InterCode-ALFA's 300 Bash tasks, each command run in a bubblewrap sandbox; "
                                        "--data: its folder), tldr (held-out tldr pages) or everyday "
                                        "(benchmarks/everyday.jsonl; --lang bash or python, else both)."),
):
    """Score a model on a published split: the paper's metrics, top-1/3/5, beside the paper's figures."""
    from core import threads

    threads.configure("batch")  # before torch loads
    from cfcli.evaluate import EvalRequest, print_report, run_eval, write_report

    if bench is not None:  # cfcli/benches/; without --lang, every language the benchmark has
        from cfcli.benches import run_bench

        target = lang.value if lang else ""
        pipeline = lambda: eval_pipeline(model, device.value, target, precision, compile)  # noqa: E731
        return run_bench(bench, target, model, limit, top_k, steps, seed, batch, str(data) if data else None,
                         baseline, out, as_json, pipeline)
    lang = lang or Lang.bash
    from core.metrics.python import CODEBERTSCORE_MODEL

    request = EvalRequest(lang=lang.value, split=split, limit=limit, top_k=top_k, steps=steps, seed=seed,
                          batch=batch, data=str(data) if data else None, plot_dir=str(plot) if plot else None,
                          plot_steps=plot_steps, codebertscore_model=codebertscore_model or CODEBERTSCORE_MODEL,
                          sampler=sampler, early_stop=early_stop, clamp=clamp, rounding=rounding,
                          shrink=shrink, baseline=baseline, strength=strength)
    report, records = run_eval(request, lambda: eval_pipeline(model, device.value, lang.value, precision, compile))
    if out:
        err(f"wrote {out} and {write_report(report, records, out)}")
    if as_json:
        typer.echo(json.dumps(report))
    else:
        print_report(report)


@data_app.command("fetch")
def data_fetch(
    from_dir: Optional[Path] = typer.Option(None, "--from", help="Copy from a local folder instead of downloading."),
    dest: Optional[Path] = typer.Option(None, help="Destination (default: the user data dir)."),
):
    """Download the published files (SHA256-verified) and build the Python corpus."""
    from core.data import fetch

    where = fetch(dest, from_dir, log=err)
    typer.echo(str(where))


@model_app.command("list")
def model_list(as_json: bool = typer.Option(False, "--json", help="One JSON object per model.")):
    """The shipped models and yours (in the user models folder); `--model NAME` picks one."""
    from core.checkpoint import read_config
    from core.registry import list_models, user_models_dir

    try:
        default_path = Path(resolve_model(None)).resolve()
    except CFError:
        default_path = None
    rows = []
    for m in list_models():
        try:
            meta = read_config(m.path)
            langs, preset = ",".join(meta["model"]["langs"]), str(meta.get("preset", "?"))
        except CFError as e:
            langs, preset = f"unreadable: {e}", "?"
        size = (m.path / "model.safetensors").stat().st_size / 1e6 if (m.path / "model.safetensors").exists() else 0.0
        rows.append({"name": m.name, "source": m.source, "langs": langs, "preset": preset,
                     "size_mb": round(size, 1), "path": str(m.path),
                     "default": m.path.resolve() == default_path})
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r))
        return
    if not rows:
        err(f"no models: train one with `cf train --out DIR`, then `cf model add DIR` (user models: {user_models_dir()})")
        return
    width = max(len(r["name"]) for r in rows) + 2
    for r in rows:
        mark = " (default)" if r["default"] else ""
        typer.echo(f"{r['name']:<{width}}{r['source']:<9}{r['langs']:<16}{r['preset']:<8}"
                   f"{r['size_mb']:>6.1f} MB  {r['path']}{mark}")


@model_app.command("add")
def model_add(
    directory: Path = typer.Argument(..., help="A model directory (e.g. a `cf train --out` run)."),
    name: Optional[str] = typer.Option(None, help="Name to pick it by (default: the directory's name)."),
    dtype: str = typer.Option("fp32", help="Store the weights as fp32, fp16 (half the size) or bf16."),
    into: Optional[Path] = typer.Option(None, help="Models folder to copy into (default: yours; developers "
                                        "shipping a model: core/assets/models)."),
):
    """Copy a model (without its training state) into your models folder, to use by name."""
    from core.checkpoint import export_model
    from core.registry import user_models_dir

    name = name or directory.resolve().name
    if not name or "/" in name or name.startswith("."):
        raise CFError(f"bad model name {name!r}")
    dst = export_model(directory, (into or user_models_dir()) / name, dtype)
    err(f"added {name} ({dst}); use it with --model {name}")


@model_app.command("info")
def model_info(directory: str = typer.Argument(None, help=MODEL_HELP)):
    """Configuration, size and training provenance of a model."""
    from core.checkpoint import read_config

    directory = Path(resolve_model(directory))
    meta = read_config(directory)
    weights = Path(directory) / "model.safetensors"
    cfg = meta["model"]
    n = None
    if weights.exists():  # read before anything is printed: a damaged file is an error, not half a report
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(weights), "pt") as f:
                n = sum(_numel(f.get_slice(k).get_shape()) for k in f.keys())
        except (SafetensorError, OSError) as e:
            raise CFError(f"{weights} is corrupt: {e}") from None
    typer.echo(f"model      {directory}")
    typer.echo(f"langs      {', '.join(cfg['langs'])}")
    for key in ("preset", "stage", "step", "examples_seen"):
        if key in meta:
            typer.echo(f"{key:<10} {meta[key]}")
    for earlier in meta.get("trained_from", []):  # the runs it was warm-started from, nearest first
        typer.echo(f"from       {earlier.get('model')}: {earlier.get('stage')} step {earlier.get('step')}, "
                   f"{earlier.get('examples_seen')} examples")
    if n is not None:
        typer.echo(f"params     {n / 1e6:.2f}M ({weights.stat().st_size / 1e6:.1f} MB on disk)")
    for key in ("d_model", "embed_dim", "n_heads", "encoder_layers", "denoiser_layers", "decoder_layers",
                "code_len", "prompt_len", "diffusion_steps", "encoder_name_or_path"):
        typer.echo(f"{key:<10} {cfg[key]}" if len(key) <= 10 else f"{key} {cfg[key]}")
    options = [name for key, name in (("self_cond", "self-conditioning"), ("literal_slots", "literal slots"),
                                      ("retrieval", "retrieval (edits the nearest examples)"))
               if cfg.get(key)]
    from core.data.flags import is_flag_token
    from core.tokenizer import CodeTokenizer

    tok_dir = directory / "tokenizer"
    flags = sum(map(is_flag_token, CodeTokenizer(tok_dir).added)) if (tok_dir / "vocab.json").exists() else 0
    if flags:
        options.append(f"{flags} flag tokens")
    typer.echo(f"options    {', '.join(options) or 'none'}")


@app.command()
def bench(
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    lang: Lang = typer.Option(Lang.bash),
    device: Device = typer.Option(Device.auto, help="auto: CUDA when torch sees a GPU, else the CPU."),
    prompts: int = typer.Option(10, min=1, help="Latency: the first N test prompts, one at a time."),
    full_prompts: int = typer.Option(2, min=1, help="The baseline's (slow) latency on only the first N."),
    quality_items: int = typer.Option(100, min=1, help="Quality and throughput: the first N test items."),
    full_quality_items: Optional[int] = typer.Option(None, min=1, help="The full 1,200-step sampler's quality on "
                                                    "only the first N of those (it is slow on a CPU)."),
    top_k: int = typer.Option(5, min=1, max=50),
    batch: int = typer.Option(16, min=1, help="Prompts denoised together for the quality/throughput run."),
    threads: Optional[int] = typer.Option(None, min=1, help="torch threads (default: torch's choice)."),
    cold_runs: int = typer.Option(3, min=0, help="Cold `cf PROMPT --json` processes to time (0: skip)."),
    cold_only: bool = typer.Option(False, "--cold-only", help="Only the model load and the cold start."),
    ar_model: Optional[str] = typer.Option(None, help="An autoregressive baseline (`cf train --arch t5-ar`), name or "
                                           "directory, measured on the same prompts and items (beam search)."),
    seed: int = typer.Option(0),
    data: Optional[Path] = typer.Option(None, help="Data directory (default: where `cf data fetch` puts it)."),
    as_json: bool = typer.Option(False, "--json", help="The report as JSON on stdout."),
    out: Optional[Path] = typer.Option(None, help="Also write the JSON report here."),
    compile: bool = typer.Option(False, "--compile", help="Also the fast settings under torch.compile (CUDA graphs "
                                 "on CUDA), each compiled once before it is timed."),
):
    """Latency, memory, throughput and quality of sampler settings, beside the paper's full sampler."""
    from cfcli.bench import BenchRequest, print_bench, run_bench
    from core.atomic import atomic_write_json

    if full_quality_items and full_quality_items > quality_items:
        raise CFError("--full-quality-items must be at most --quality-items")
    request = BenchRequest(model=model, lang=lang.value, device=device.value, prompts=prompts, full_prompts=full_prompts,
                           quality_items=quality_items, full_quality_items=full_quality_items, top_k=top_k,
                           batch=batch, seed=seed, threads=threads, data=str(data) if data else None,
                           cold_runs=cold_runs, cold_only=cold_only, ar_model=ar_model, compile=compile)
    report = run_bench(request, log=lambda s: err(f"cf bench: {s}"))
    if out:
        atomic_write_json(out, report)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        print_bench(report)


@app.command("lsp")
def lsp_cmd(
    tcp: Optional[str] = typer.Option(None, metavar="HOST:PORT", help="Listen on TCP instead of stdio."),
    model: Optional[str] = typer.Option(None, help="Model name or directory for the languages it was trained for (default: the shipped "
                                         "codefusion-small; the editor's settings can override it)."),
    log_file: Optional[Path] = typer.Option(None, help="Write the server's log here instead of stderr."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every message."),
):
    """Language server (LSP over stdio): code actions and completions from comment prompts."""
    from lsp.server import parse_host_port, serve

    if tcp:
        try:
            parse_host_port(tcp)
        except ValueError as e:
            raise CFError(str(e)) from None
    serve(tcp, model, str(log_file) if log_file else None, verbose)


@app.command("serve")
def serve_cmd(
    model: Optional[str] = typer.Option(None, help="The model to load at start (others load when first asked "
                                        "for); default: `model` in the config file, else the shipped codefusion-small."),
    status: bool = typer.Option(False, "--status", help="Say whether a server answers and which models it holds "
                                "(exit 0), else exit 1."),
    idle_minutes: Optional[float] = typer.Option(None, min=0.0, help="End after this long without a request "
                                                 "(default: config serve_idle_minutes, else 30; 0: never)."),
    device: Device = typer.Option(Device.auto, help="auto: CUDA when torch sees a GPU, else the CPU."),
):
    """Keep the models loaded for cf, the picker and the shell key, in the foreground (docs/serve.md).

    A Unix socket private to you; it samples code and never runs any."""
    if status:
        from cfcli.client import status as server_status
        from cfcli.protocol import code_stamp, socket_path

        info = server_status()
        if info is None:
            err(f"cf serve: no server answers on {socket_path()}")
            raise typer.Exit(1)
        idle = f"ends after {info['idle_minutes']:g} min idle" if info["idle_minutes"] else "never ends on its own"
        typer.echo(f"cf serve: pid {info['pid']} on {info['socket']}, {info['device']}, {idle}")
        if info.get("stamp") != code_stamp():
            typer.echo("cf serve: it runs other code than this cf (started before an upgrade); "
                       "the next cf that would use it stops it")
        for name in info["models"] or ["(no model loaded yet)"]:
            typer.echo(f"model      {name}")
        return
    from cfcli.serve import serve
    from cfcli.userconfig import load_config

    config = load_config()
    idle = config.serve_idle_minutes if idle_minutes is None else idle_minutes
    raise typer.Exit(serve(str(Path(resolve_model(model)).absolute()), device.value, idle,
                           log=lambda s: err(f"cf serve: {s}")))


# -- the example store (core/retrieval/) ---------------------------------------------------------


@examples_app.command("add")
def examples_add(file: Path = typer.Argument(..., help="JSONL, one {\"lang\", \"nl\", \"code\"} object a line.")):
    """Add your own examples; a retrieval model edits them for prompts like theirs, no training needed."""
    from core.retrieval.user import UserExamples, read_examples_file

    rows = read_examples_file(file)
    added = UserExamples().add(rows, ref=file.name)
    err(f"added {added} example{'s' * (added != 1)} ({len(rows) - added} already there)")


@examples_app.command("list")
def examples_list(
    counts: bool = typer.Option(False, "--counts", help="The count of rows of every source (yours, the train "
                                "splits', tldr-pages') instead."),
    source: Optional[str] = typer.Option(None, help="With --counts: only this source (user, train or tldr)."),
    lang: Optional[Lang] = typer.Option(None),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
):
    """Your examples, with the ids `cf examples remove` takes (--counts: how many rows each source has)."""
    from core.retrieval.store import SOURCES
    from core.retrieval.user import UserExamples, searchable_store, shipped_store

    if source is not None and source not in SOURCES:
        raise CFError(f"unknown source {source!r}; choose one of: {', '.join(SOURCES)}")
    if not counts and source in (None, "user"):
        mine = UserExamples().rows(lang.value if lang else None)
        for e in mine:
            if as_json:
                typer.echo(json.dumps({"id": e.id, "lang": e.lang, "nl": e.nl, "code": e.code}, ensure_ascii=False))
            else:
                typer.echo(f"{e.id}\t{e.lang}\t{e.nl}\t{e.code}")
        if not mine and not as_json:
            err("no examples of yours yet: add some with `cf examples add FILE` "
                "(`cf examples list --counts` counts the shipped ones)")
        return
    # --counts, or --source train/tldr (whose thousands of rows are only counted)
    store = searchable_store() if source in (None, "user") else shipped_store()
    for src in ([source] if source else SOURCES):
        for lg in ([lang.value] if lang else ["bash", "python", "cf"]):
            n = store.count(lg, src)
            if n:
                typer.echo(json.dumps({"source": src, "lang": lg, "rows": n}) if as_json else f"{src}\t{lg}\t{n}")


@examples_app.command("remove")
def examples_remove(
    what: Optional[str] = typer.Argument(None, help="A JSONL file (its rows go) or an id from `cf examples list`."),
    all_user: bool = typer.Option(False, "--all-user", help="Remove every one of your examples."),
):
    """Remove your examples: a file's rows, one id, or all of them."""
    from core.retrieval.user import UserExamples, read_examples_file

    if (what is None) == (not all_user):
        raise CFError("give a JSONL file, an id, or --all-user")
    user = UserExamples()
    if all_user:
        n = user.remove(everything=True)
    elif what.isdigit():
        n = user.remove(ids=[int(what)])
        if n == 0:
            raise CFError(f"no example of yours has id {what} (see `cf examples list`)")
    else:
        n = user.remove(rows=read_examples_file(Path(what)))
    err(f"removed {n} example{'s' * (n != 1)}")


@examples_app.command("build")
def examples_build(
    out: Path = typer.Option(..., help="Where to write the store (the shipped one: core/assets/examples.sqlite)."),
    data: Optional[Path] = typer.Option(None, help="Data directory with the train splits (default: cf data fetch's)."),
    tldr: Optional[Path] = typer.Option(None, help="tldr-pages tarball or folder (pages/common, pages/linux)."),
    hold_out_tldr: bool = typer.Option(False, "--hold-out-tldr", help="Without the tldr pages `cf eval --bench tldr` "
                                       "holds out (a store to train a model that benchmark checks)."),
    docs: bool = typer.Option(True, "--docs/--no-docs", help="Index the tools' documentation (tldr page "
                              "descriptions, the Python standard library's docstrings, the stems of what this "
                              "machine's man pages say of each flag the Bash rows use) and learn the request -> "
                              "tool matcher (2 min)."),
    man: bool = typer.Option(False, "--man", help="Also index the NAME lines of the man pages installed on this "
                             "machine (a store for yourself: they come under each package's licence)."),
):
    """Build an example store from the published train splits and tldr-pages (never the test splits),
    with the Bash re-ranking lexicon learned from the train split (about 40 s) and, with --docs,
    the tools' documentation and the request -> tool matcher."""
    from core.retrieval.build import build_store

    counts = build_store(out, str(data) if data else None, tldr, hold_out_tldr=hold_out_tldr, docs=docs, man=man,
                         log=err)
    err(f"wrote {out}: " + ", ".join(f"{n} {src} rows" for src, n in counts.items()))


# -- the picker, shell integration, history and config (cfcli/ask.py, tui/, shell/) ------------

config_app = CFTyper(no_args_is_help=True, help="Your defaults: lang, model, steps, top_k, key.")
app.add_typer(config_app, name="config")


@app.command()
def ask(
    prompt: str = typer.Argument(..., help="What the code should do; '-' reads one prompt per line from stdin."),
    lang: Optional[Lang] = typer.Option(None, help="Target language (default: config, else bash)."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    top_k: Optional[int] = typer.Option(None, min=1, max=9, help="Candidates (default: config, else 5)."),
    steps: Optional[int] = typer.Option(None, min=1, help="Denoising steps (default: config, else cf's sampling)."),
    seed: Optional[int] = typer.Option(None),
    device: Device = typer.Option(Device.auto, help="auto: CUDA when torch sees a GPU, else the CPU."),
    as_json: bool = typer.Option(False, "--json", help="No picker: one JSON object per prompt (as cf generate)."),
    plain: bool = typer.Option(False, "--plain", help="No picker: the candidates, one per line."),
):
    """Watch candidates form from noise and pick one (also `cf "PROMPT"`); it goes to stdout.

    Without a terminal on stdin and stderr, prints candidates as --plain (or --json) does."""
    from cfcli.ask import AskOptions, run_ask

    status = run_ask(AskOptions(prompt, lang.value if lang else None, model, top_k, steps, seed, device.value,
                                as_json, plain))
    raise typer.Exit(status)


@app.command("shell-init")
def shell_init(
    shell: str = typer.Argument(..., help="bash, zsh or fish."),
    key: Optional[str] = typer.Option(None, help="ctrl-LETTER or alt-LETTER (default: config, else ctrl-g)."),
):
    """Print a key binding: the command line becomes the prompt, the accepted code replaces it."""
    import shutil

    from cfcli.shell import shell_snippet
    from cfcli.userconfig import load_config

    argv0 = Path(sys.argv[0])
    if argv0.name == "__main__.py":  # python -m cfcli
        command = [sys.executable, "-m", "cfcli"]
    else:
        command = [str(Path(shutil.which(str(argv0)) or argv0).absolute())]
    typer.echo(shell_snippet(shell, key or load_config().key, command), nl=False)


@app.command("history")
def history_cmd(
    limit: int = typer.Option(20, min=1, help="The newest N entries."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
):
    """Accepted candidates, oldest first."""
    from cfcli.history import read_history

    for entry in read_history(limit):
        if as_json:
            typer.echo(json.dumps(entry, ensure_ascii=False))
        else:
            when = str(entry.get("time", ""))[:16].replace("T", " ")
            typer.echo(f"{when}  {entry.get('prompt', '')}  ->  {entry['code']}")


@config_app.command("path")
def config_path_cmd():
    """Where the config file is (it may not exist yet)."""
    from cfcli.userconfig import config_path

    typer.echo(str(config_path()))


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class UsageError(CFError):
    """A bad option or value, said as click's usage lines (``usage``) rather than one line."""

    def __init__(self, usage: str) -> None:
        super().__init__(usage)
        self.usage = usage


def usage_error(e) -> str:
    """A bad option or value as at most three short lines: the usage, what is wrong, where help is."""
    ctx = e.ctx
    lines = [ctx.get_usage()] if ctx is not None else []
    message = e.format_message().replace("\n", " ").replace("Value error, ", "")
    lines.append(f"cf: error: {message[:1].lower()}{message[1:]}")
    if ctx is not None:
        lines.append(f"Try '{ctx.command_path} --help' for help.")
    return "\n".join(lines)


def run(argv: list[str]) -> int:
    """Parse ``argv`` (already routed: cfcli/launch.py) and run its command: the exit status.
    click's errors come back as CFError (a usage error with its usage lines), an abort as
    KeyboardInterrupt; cfcli.launch says them and maps them to exit codes."""
    click = click_exceptions()
    try:
        # standalone_mode=False: click's errors come here, to be said in a few plain lines
        # rather than typer's boxed panel.
        status = app(args=argv, standalone_mode=False)
    except click.UsageError as e:
        raise UsageError(usage_error(e)) from None
    except click.ClickException as e:  # e.g. a file option that does not exist
        raise CFError(e.format_message()) from None
    except typer.Abort:
        raise KeyboardInterrupt from None
    return status if isinstance(status, int) else 0
