"""The training loop: two stages (pre-training on snippets, fine-tuning on pairs), AdamW, warm-up +
cosine, clipping, accumulation, bf16 autocast where the hardware has bf16, DDP under torchrun, JSONL
metrics, atomic checkpoints and exact resume (every step reseeds from (seed, stage, step)). On a GPU a
step makes the host wait once per logged step (tests/test_device.py counts it)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from core import checkpoint
from core.config import LANGS, ModelConfig, preset
from core.device import autocast, pick_device, pick_precision
from core.errors import CFError
from core.train.args import TrainArgs
from core.train.data import TrainingSet, global_indices
from core.train.validate import HeldOut, headline, split_holdout, validate

# Steps per stage when --max-steps is not given.
DEFAULT_STEPS = {"tiny": (200, 300), "small": (20000, 20000), "paper": (100000, 50000)}
STAGES = {"pretrain": ["pretrain"], "finetune": ["finetune"], "all": ["pretrain", "finetune"]}
# Where fine-tuning pairs may come from (--sources): the benchmark's train split, the store's tldr rows.
PAIR_SOURCES = ("train", "tldr")
ORDER = STAGES["all"]


def tune_allocator() -> None:
    """glibc returns every large freed block to the kernel (mmap/munmap, trimming), and a
    training step frees hundreds of MB of activations: page faults were a third of CPU time.
    Keeping the heap (no mmap, no trim) made CPU steps 1.5x faster."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-4, 0)  # M_MMAP_MAX
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def lr_at(step: int, args: TrainArgs, total: int) -> float:
    warm = min(args.warmup, max(1, total // 10))
    if step < warm:
        return args.lr * (step + 1) / warm
    frac = min(1.0, (step - warm) / max(1, total - warm))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def parse_choices(text: str, choices, what: str, hint: str) -> list[str]:
    """A comma-separated option's values, each once in order; an unknown one is a CFError."""
    picked = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in picked if x not in choices]
    if not picked or bad:
        raise CFError(f"unknown {what} {','.join(bad) or text!r}; choose from: {', '.join(choices)} ({hint})")
    return list(dict.fromkeys(picked))


def parse_langs(text: str) -> list[str]:
    return parse_choices(text, LANGS, "language", "several, comma-separated, train one model for all")


@dataclass
class StageExamples:
    codes: list[str]
    prompts: list[str] | None  # None: pre-training snippets
    langs: list[str]  # per row
    held: HeldOut = field(default_factory=HeldOut)  # fine-tuning pairs kept out (--holdout)
    examples: list[list[tuple[str, str]]] | None = None  # retrieval: (nl, code) examples per row


def retrieved_examples(pairs, lang: str, store, literal_slots: bool, every_source: bool = False
                       ) -> list[list[tuple[str, str]]]:
    """Each pair's nearest examples (core.retrieval.condition.NEIGHBOURS), with every row of
    its own prompt left out, so the model learns to edit a neighbour, not to look up its answer,
    and no held-out tldr page's row (a benchmark's item). A train-split pair reads the train
    rows first, as the model was first trained; ``every_source``: bm25 over all the store's
    rows alike (a tldr row's neighbours are mostly its own page's and tool's, as a user's
    everyday prompt finds them)."""
    from core.data.tldr import held_out
    from core.retrieval.condition import NEIGHBOURS, masked_example

    out = []
    for p in pairs:
        found = (store.search(p.nl, lang, 2 * NEIGHBOURS, exclude_nl=p.nl) if every_source
                 else store.retrieve(p.nl, lang, 2 * NEIGHBOURS, exclude_nl=p.nl))
        kept = [e for e in found if not (e.source == "tldr" and held_out(e.ref))][:NEIGHBOURS]
        kept = kept or store.fallback(lang, 1, exclude_nl=p.nl)
        out.append([masked_example(e.nl, e.code, literal_slots) for e in kept])
    return out


def store_pairs(store, lang: str, sources: list[str]):
    """The store's rows of ``sources`` (other than the train split) as fine-tuning pairs, less
    those nothing learnt may see (core.retrieval.build.benchmark_or_dev)."""
    from core.data.datasets import Pair
    from core.retrieval.build import benchmark_or_dev

    return [Pair(e.nl, e.code, e.ref) for e in store.all_rows()
            if e.lang == lang and e.source in sources and not benchmark_or_dev(e.nl, e.source, e.ref)]


def parse_sources(text: str) -> list[str]:
    return parse_choices(text, PAIR_SOURCES, "--sources", "comma-separated")


def reads_store(stage: str, args: TrainArgs) -> bool:
    """Whether a stage's rows come from the example store: its neighbours (--retrieval) or pairs
    from a source other than the train split."""
    return stage == "finetune" and (args.retrieval or parse_sources(args.sources) != ["train"])


def stage_examples(stage: str, args: TrainArgs, langs: list[str]) -> StageExamples:
    """A stage's rows for every language; in a multi-language model each prompt carries its
    language (core.data.tag_prompt) and a smaller set is repeated up to half the largest, so
    the 712 CF pairs are not drowned by 10k Bash pairs."""
    from core.data import load_jsonl, load_pairs, pretrain_snippets, tag_prompt
    from core.data.literals import mask_pair

    per_lang: dict[str, tuple[list[str], list[str] | None]] = {}
    per_lang_examples: dict[str, list] = {}
    held: dict[str, list] = {}  # lang -> [prompts, references]
    sources = parse_sources(args.sources)
    extra = [s for s in sources if s != "train"]
    store = open_training_store(args) if reads_store(stage, args) else None
    for lang in langs:
        if stage == "pretrain":
            codes = pretrain_snippets(lang, args.data)[: args.limit or None]
            per_lang[lang] = (codes, None)
        else:
            pairs = []
            if "train" in sources:
                pairs = load_jsonl(args.train_file) if args.train_file else load_pairs(lang, "train", args.data)
            pairs, *held[lang] = split_holdout(pairs[: args.limit or None], args.holdout)
            if held[lang][0] and not pairs:
                raise CFError(f"--holdout {args.holdout} leaves no {lang} pairs to train on")
            more = store_pairs(store, lang, extra)[: args.limit or None] if extra else []
            if store is not None and args.retrieval:
                per_lang_examples[lang] = (retrieved_examples(pairs, lang, store, args.literal_slots) +
                                           retrieved_examples(more, lang, store, args.literal_slots, every_source=True))
            pairs += more
            if not pairs:
                raise CFError(f"--sources {args.sources} has no {lang} pairs")
            if args.literal_slots:
                pairs = [mask_pair(p) for p in pairs]
            per_lang[lang] = ([p.code for p in pairs], [tag_prompt(p.nl, lang, langs) for p in pairs])
    largest = max(len(c) for c, _ in per_lang.values())
    out = StageExamples([], None if stage == "pretrain" else [], [],
                        HeldOut({lang: (prompts, refs) for lang, (prompts, refs) in held.items() if prompts}),
                        [] if args.retrieval and stage == "finetune" else None)
    for lang, (codes, prompts) in per_lang.items():
        repeat = max(1, round(largest / 2 / max(1, len(codes)))) if len(langs) > 1 else 1
        out.codes += codes * repeat
        if out.examples is not None:
            out.examples += per_lang_examples[lang] * repeat
        out.langs += [lang] * (len(codes) * repeat)
        if prompts is not None:
            out.prompts += prompts * repeat
    return out


def run_examples(stage: str, args: TrainArgs, langs: list[str], out: Path, has_state: bool) -> StageExamples:
    """A stage's rows, kept in the run (``examples-STAGE.json``) where they read a store: a resumed
    run trains on the rows it started with, without retrieving every pair's neighbours again
    (31,000 pairs: 20 minutes on two cores)."""
    from core.atomic import atomic_write_bytes

    if not reads_store(stage, args):
        return stage_examples(stage, args, langs)
    path = out / f"examples-{stage}.json"
    if has_state and path.exists():
        d = json.loads(path.read_text(encoding="utf-8"))
        held = HeldOut({lang: (prompts, refs) for lang, (prompts, refs) in d["held"].items()})
        examples = None if d["examples"] is None else [[tuple(e) for e in row] for row in d["examples"]]
        return StageExamples(d["codes"], d["prompts"], d["langs"], held, examples)
    ex = stage_examples(stage, args, langs)
    if int(os.environ.get("RANK", "0")) == 0:  # one process of a DDP run writes it
        out.mkdir(parents=True, exist_ok=True)
        # Compact, not atomic_write_json's indented form: one line a string for ~300,000 of them.
        text = json.dumps({"codes": ex.codes, "prompts": ex.prompts, "langs": ex.langs, "held": ex.held.pairs,
                           "examples": ex.examples})
        atomic_write_bytes(path, lambda p: p.write_text(text, encoding="utf-8"))
    return ex


def load_stage_data(ex: StageExamples, args: TrainArgs, cfg: ModelConfig, tokenizer) -> TrainingSet:
    return TrainingSet(tokenizer, cfg.code_len, cfg.prompt_len, ex.codes, ex.prompts, lang=ex.langs,
                       cpd_rate=args.cpd_rate, examples=ex.examples)


def retrieval_shape(args: TrainArgs) -> dict[str, Any]:
    """A retrieval model reads the prompt and an example: twice the preset's prompt length."""
    if not args.retrieval:
        return {}
    from core.config import PRESETS

    return {"prompt_len": 2 * PRESETS[args.preset]["prompt_len"]}


def open_training_store(args: TrainArgs):
    from core.retrieval.store import SHIPPED_STORE, ExampleStore

    return ExampleStore(args.store or SHIPPED_STORE)


def pick_tokenizer(args: TrainArgs, examples: list[StageExamples]):
    """The full CodeT5 vocabulary, or the part of it this run's data uses (--vocab)."""
    from core.data.flags import frequent_flags
    from core.data.literals import SLOT_TOKENS
    from core.tokenizer import CodeTokenizer

    if args.vocab not in ("auto", "data", "full"):
        raise CFError(f"unknown --vocab {args.vocab!r}; use auto, data or full")
    added = list(SLOT_TOKENS) if args.literal_slots else []
    if args.flag_tokens:
        added += frequent_flags(c for ex in examples if ex.prompts is not None
                                for c, lang in zip(ex.codes, ex.langs) if lang == "bash")
    full = CodeTokenizer(added=added)
    if args.vocab == "full" or (args.vocab == "auto" and args.encoder):
        return full
    if args.encoder:
        raise CFError("--vocab data needs an encoder trained from scratch (a pretrained one reads all of CodeT5's ids)")
    return full.restricted_to([t for ex in examples for t in ex.codes + (ex.prompts or [])] +
                              [t for ex in examples for row in ex.examples or [] for pair in row for t in pair])


class _Dist:
    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        if self.world > 1:
            if device.type == "cuda":
                torch.cuda.set_device(self.local_rank)
                self.device = torch.device("cuda", self.local_rank)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            # Stopping is agreed over gloo, on the CPU: with NCCL, a flag on the GPU would make
            # the host wait for every step's work.
            self.control = dist.new_group(backend="gloo") if device.type == "cuda" else None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def agree(self, stop: bool) -> bool:
        """True when any process was asked to stop, in every process: a process stopping alone
        would wait in a barrier while the others wait in the gradient all-reduce, for ever."""
        if self.world == 1:
            return stop
        flag = torch.tensor([int(stop)])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.control)
        return bool(flag.item())

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()


class _Stop:
    """SIGTERM/SIGINT ask the loop to save and stop at the next step boundary. ``requested``: this
    process was asked; ``agreed``: every process stops (_Dist.agree), set by the loop."""

    def __init__(self):
        self.requested = False
        self.agreed = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, *_):
        if self.requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def check_args(args: TrainArgs) -> list[str]:
    """The command line's contradictions, before anything is read or built: its languages."""
    from core.model import ARCHS

    langs = parse_langs(args.lang)
    parse_sources(args.sources)
    if args.train_file and len(langs) > 1:
        raise CFError("--train-file trains one language; give a single --lang")
    if args.stop_at is not None and args.stop_at < 1:
        raise CFError("--stop-at must be a step of 1 or more")
    if args.holdout < 0:
        raise CFError("--holdout must be 0 or more")
    if not 0.0 <= args.cpd_rate <= 1.0:
        raise CFError("--cpd-rate must be between 0 and 1")
    if args.arch not in ARCHS:
        raise CFError(f"unknown --arch {args.arch!r}; choose one of: {', '.join(ARCHS)}")
    if args.arch == "t5-ar" and args.stage != "finetune":
        raise CFError("the autoregressive baseline trains on pairs only (--stage finetune)")
    if args.arch == "t5-ar" and args.self_cond:
        raise CFError("--self-cond is a diffusion option; the autoregressive baseline has no denoiser")
    if args.encoder and (args.literal_slots or args.flag_tokens):
        raise CFError("--literal-slots and --flag-tokens add tokens a pretrained --encoder has no rows for; "
                      "train the encoder from scratch to use them")
    if args.arch == "t5-ar" and (args.encoder or args.init_from):
        raise CFError("the autoregressive baseline trains from scratch (no --encoder or --init-from)")
    if args.retrieval and (args.arch != "codefusion" or args.stage != "finetune"):
        raise CFError("--retrieval trains a CodeFusion model on pairs (--stage finetune)")
    if args.stage not in STAGES:
        raise CFError(f"unknown stage {args.stage!r}; choose one of: {', '.join(STAGES)}")
    if args.init_from and Path(args.init_from).resolve() == Path(args.out).resolve():
        raise CFError("--init-from and --out are the same directory")
    return langs


def check_out(args: TrainArgs) -> bool:
    """Whether --out holds a run to resume; refuses a run without --resume, and a model."""
    out = Path(args.out)
    has_state = checkpoint.train_state_dir(out) is not None
    if has_state and not args.resume:
        raise CFError(f"{out} already holds a training run; pass --resume to continue it, or choose another --out")
    if args.resume and not has_state:
        raise CFError(f"--resume: no training state in {out}")
    if not has_state and (out / "config.json").exists():
        raise CFError(f"{out} holds a model (not a training run); choose another --out, or --init-from it")
    return has_state


@dataclass
class _Run:
    """What every stage of one run shares (the model, its optimizer, where it saves)."""
    args: TrainArgs
    out: Path
    ddp: _Dist
    model: Any
    ddp_model: Any
    opt: torch.optim.Optimizer
    tokenizer: Any
    progress: dict[str, Any]
    precision: str
    log: Any = print
    stop: _Stop | None = None

    def amp(self):
        return autocast(self.precision, self.ddp.device, training=True)  # a fresh context per micro-step

    def save(self) -> None:
        _save(self.out, self.model, self.opt, self.tokenizer, self.progress, self.args)


def _resumed_config(args: TrainArgs, out: Path, langs: list[str], log) -> ModelConfig:
    """A resumed run's model configuration; what its data is made of comes from the run, not from
    this command line (``args`` is updated to match)."""
    meta = json.loads((checkpoint.train_state_dir(out) / "state.json").read_text())
    cfg = ModelConfig.from_dict(meta["model"])
    if langs != cfg.langs:
        log(f"resuming a {','.join(cfg.langs)} run (--lang {args.lang} ignored)")
    args.cpd_rate = meta.get("args", {}).get("cpd_rate", args.cpd_rate)
    args.holdout = meta.get("args", {}).get("holdout", 0)
    args.literal_slots = cfg.literal_slots
    args.retrieval = cfg.retrieval
    args.store = args.store or meta.get("args", {}).get("store")
    args.sources = meta.get("args", {}).get("sources", "train")
    return cfg


def _config_and_tokenizer(args: TrainArgs, out: Path, langs: list[str], has_state: bool, log):
    """The model configuration, every stage's rows (read once: they make the vocabulary and the
    training sets, and a missing data set fails before the model is built) and the tokenizer."""
    from core.tokenizer import CodeTokenizer

    cfg = _resumed_config(args, out, langs, log) if has_state else None
    langs = cfg.langs if cfg is not None else langs
    examples = {stage: run_examples(stage, args, langs, out, has_state) for stage in STAGES[args.stage]}
    if has_state:
        tok_dir = out / "tokenizer"  # the run's own vocabulary, saved with its first checkpoint
        tokenizer = CodeTokenizer(tok_dir) if (tok_dir / "vocab.json").exists() else CodeTokenizer()
        return cfg, examples, tokenizer
    tokenizer = pick_tokenizer(args, [examples[stage] for stage in STAGES[args.stage]])
    vocab = {"vocab_size": tokenizer.vocab_size} if tokenizer.subset is not None or tokenizer.added else {}
    cfg = preset(args.preset, langs=langs, encoder_name_or_path=args.encoder, arch=args.arch,
                 self_cond=args.self_cond or args.retrieval, literal_slots=args.literal_slots,
                 retrieval=args.retrieval, **{**vocab, **retrieval_shape(args), **args.overrides})
    return cfg, examples, tokenizer


def _build(args: TrainArgs, cfg: ModelConfig, tokenizer, ddp: _Dist, has_state: bool, log):
    """The model (warm-started with --init-from), its optimizer and the progress a run resumes."""
    from core.model import build_model

    progress: dict[str, Any] = {"stage": STAGES[args.stage][0], "step": 0, "examples": 0}
    torch.manual_seed(args.seed)
    model = build_model(cfg).to(ddp.device)
    if args.init_from and not has_state:
        n = checkpoint.init_weights_from(model, tokenizer, args.init_from)
        progress["trained_from"] = checkpoint.lineage(args.init_from)  # kept in state.json on resume
        if ddp.main:
            log(f"initialised from {args.init_from} ({n} tensors)")
    # Fused on CUDA: one kernel for the whole update instead of several per parameter group.
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0,
                            fused=ddp.device.type == "cuda" or None)
    if has_state:
        progress = checkpoint.load_train_state(args.out, model, opt)
        for key in ("model", "args"):
            progress.pop(key, None)
    ddp_model = model
    if ddp.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ddp.local_rank] if ddp.device.type == "cuda" else None)
    return model, ddp_model, opt, progress


def train(args: TrainArgs, log=print) -> dict[str, Any]:
    langs = check_args(args)
    has_state = check_out(args)
    out = Path(args.out)
    ddp = _Dist(pick_device(args.device))
    device = ddp.device
    precision = pick_precision(args.precision, device)
    if device.type == "cpu":
        tune_allocator()
    micro = args.batch_size // (ddp.world * args.grad_accum)
    if micro * ddp.world * args.grad_accum != args.batch_size or micro == 0:
        raise CFError(f"--batch-size {args.batch_size} must divide into {ddp.world} processes × "
                      f"{args.grad_accum} accumulation steps")
    cfg, examples, tokenizer = _config_and_tokenizer(args, out, langs, has_state, log)
    first_data = load_stage_data(examples[STAGES[args.stage][0]], args, cfg, tokenizer)
    model, ddp_model, opt, progress = _build(args, cfg, tokenizer, ddp, has_state, log)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        if not has_state:  # before any train_state: a resumed run must find its vocabulary
            tokenizer.save(out / "tokenizer")
        log(f"model: {cfg.arch}, {model.num_parameters() / 1e6:.1f}M parameters, preset {args.preset}, "
            f"{', '.join(cfg.langs)}, vocabulary {cfg.vocab_size}, "
            f"device {device}{f' × {ddp.world} processes' if ddp.world > 1 else ''}, {precision}")
    run = _Run(args, out, ddp, model, ddp_model, opt, tokenizer, progress, precision, log)
    try:
        with _Stop() as stop:
            run.stop = stop
            return _run_stages(run, examples, first_data)
    finally:
        ddp.close()


def _run_stages(run: _Run, examples: dict[str, StageExamples], first_data) -> dict[str, Any]:
    """Each stage of the run in turn (a resumed run skips those it has finished)."""
    args, progress, cfg = run.args, run.progress, run.model.cfg
    summary: dict[str, Any] = {"out": str(run.out), "stages": {}}
    for stage in STAGES[args.stage]:
        if ORDER.index(progress["stage"]) > ORDER.index(stage):
            continue  # a resumed run already moved past this stage
        if progress["stage"] != stage:
            progress.update(stage=stage, step=0)
        total = args.max_steps or DEFAULT_STEPS.get(args.preset, DEFAULT_STEPS["small"])[stage == "finetune"]
        data = first_data if stage == STAGES[args.stage][0] else load_stage_data(examples[stage], args, cfg,
                                                                                run.tokenizer)
        if len(data) == 0:
            raise CFError(f"no {stage} examples fit the model's code length {cfg.code_len}")
        if run.ddp.main:
            run.log(f"{stage}: {len(data)} examples ({data.dropped} longer than {cfg.code_len - 1} "
                    f"tokens left out), steps {progress['step']} → {total}")
        summary["stages"][stage] = _run_stage(run, stage, data, total, examples[stage].held)
        if run.stop.agreed:
            raise CFError(f"stopped at {stage} step {progress['step']}; state saved in {run.out}, "
                          "continue with --resume")
        if run.ddp.main:
            run.save()
        if args.stop_at and progress["step"] < total:
            if run.ddp.main:
                run.log(f"stopped at {stage} step {progress['step']} of {total} (--stop-at); "
                        "continue with --resume")
            summary["stopped_at"] = progress["step"]
            break
    return summary


def _save(out: Path, model, opt, tokenizer, progress: dict[str, Any], args: TrainArgs) -> None:
    state = {**progress, "model": model.cfg.to_dict(), "args": asdict(args)}
    checkpoint.save_train_state(out, model, opt, state)
    checkpoint.save_model(out, model, tokenizer, {
        "lang": args.lang, "preset": args.preset, "stage": progress["stage"], "step": progress["step"],
        "examples_seen": progress["examples"],
        **({"trained_from": progress["trained_from"]} if progress.get("trained_from") else {}),
    })


def _log_validation(stage, progress, model, tokenizer, held, device, precision, metrics_path, log,
                    examples=None) -> float:
    """Sample the held-out pairs, append a {"validation": …} row to metrics.jsonl and say it.
    Returns the seconds it took."""
    started = time.perf_counter()
    scores = validate(model, tokenizer, held, device, precision, examples=examples)
    row = {"stage": stage, "step": progress["step"], "validation": scores,
           "seconds": round(time.perf_counter() - started, 2), "time": time.time()}
    with open(metrics_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    log(f"held-out top-1 at step {progress['step']}: {headline(scores)}")
    return row["seconds"]


class _Window:
    """The loss terms summed on the device between two logged steps, read once at the second."""

    def __init__(self):
        self.terms: dict[str, torch.Tensor] = {}
        self.steps, self.examples, self.since = 0, 0, time.perf_counter()

    def add(self, terms: dict[str, torch.Tensor], accum: int) -> None:
        for k, v in terms.items():
            self.terms[k] = self.terms.get(k, 0.0) + v / accum

    def row(self, run: _Run, stage: str, grad_norm: torch.Tensor) -> dict[str, Any]:
        """The metrics.jsonl row: the step's one wait for the GPU, every term at once."""
        values = torch.stack([*self.terms.values(), grad_norm.float()]).tolist()
        now = time.perf_counter()
        row = {"stage": stage, "step": run.progress["step"],
               **{k: v / self.steps for k, v in zip(self.terms, values)},
               "lr": run.opt.param_groups[0]["lr"], "grad_norm": values[-1],
               "examples_per_s": self.examples / (now - self.since), "examples": run.progress["examples"],
               "time": time.time()}
        self.since = now
        return row

    def reset(self) -> None:
        self.terms, self.steps, self.examples = {}, 0, 0


def _batch_maker(run: _Run, data, stage_seed: int):
    world, accum, rank = run.ddp.world, run.args.grad_accum, run.ddp.rank
    micro = run.args.batch_size // (world * accum)

    def step_batches(step: int) -> list:
        """This process's micro-batches of a step. Its CPD masks and retrieved examples derive
        from (seed, stage, step, rank) alone, so they may be built ahead, in another thread."""
        rng = random.Random(stage_seed * 1_000_003 + step * world + rank)
        idx = global_indices(len(data), step * run.args.batch_size, run.args.batch_size, stage_seed)
        mine = idx[rank * micro * accum:(rank + 1) * micro * accum]
        batches = [data.batch(mine[a * micro:(a + 1) * micro], rng) for a in range(accum)]
        return [b.pin_memory() for b in batches] if run.ddp.device.type == "cuda" else batches

    return step_batches


def _optimise(run: _Run, batches: list, window: _Window) -> torch.Tensor:
    """One optimiser step over a step's micro-batches (gradients all-reduced at the last); the
    gradient norm before clipping."""
    world, accum = run.ddp.world, run.args.grad_accum
    for a, batch in enumerate(batches):
        batch = batch.to(run.ddp.device)
        sync = a == accum - 1 or world == 1
        ctx = run.ddp_model.no_sync() if (world > 1 and not sync) else contextlib.nullcontext()
        with ctx, run.amp():
            out_loss = run.ddp_model(batch.code_ids, batch.prompt_ids, batch.prompt_mask, **batch.model_inputs())
            (out_loss.loss / accum).backward()
        window.add(out_loss.terms(), accum)
    grad_norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.args.clip)
    run.opt.step()
    run.opt.zero_grad(set_to_none=True)
    return grad_norm


def _run_stage(run: _Run, stage: str, data, total: int, held: HeldOut) -> dict[str, Any]:
    # A retrieval model's held-out prompts retrieve from the store without their own rows.
    from core.retrieval import LeaveOut
    from core.train.progress import TrainProgress

    args, progress, ddp = run.args, run.progress, run.ddp
    val_examples = LeaveOut(open_training_store(args)) if held and run.model.cfg.retrieval else None
    stage_seed = args.seed * 1000 + (0 if stage == "pretrain" else 500)
    metrics_path = run.out / "metrics.jsonl"
    bar = TrainProgress(stage, total, progress["step"], enabled=args.progress and ddp.main)
    window = _Window()
    started, start_step = time.perf_counter(), progress["step"]
    run.model.train()
    step_batches = _batch_maker(run, data, stage_seed)
    # On a GPU the next step's batches are built (tokenising, masking: Python) while the GPU runs
    # this one, in pinned memory, so that their copies need not wait. On the CPU, which does both,
    # that would only share its cores.
    ahead = ThreadPoolExecutor(1) if ddp.device != torch.device("cpu") else None
    with bar, ahead or contextlib.nullcontext():
        end = min(total, args.stop_at or total)
        pending = None
        while progress["step"] < end and not run.stop.agreed:
            step = progress["step"]
            # Everything random in this step (timesteps, noise, dropout, CPD masks) derives from
            # (seed, stage, step, rank): a resumed run replays exactly what an unbroken one does.
            torch.manual_seed(stage_seed * 1_000_003 + step * ddp.world + ddp.rank)
            for g in run.opt.param_groups:
                g["lr"] = lr_at(step, args, total)
            batches = pending.result() if pending is not None else step_batches(step)
            pending = ahead.submit(step_batches, step + 1) if ahead is not None and step + 1 < end else None
            grad_norm = _optimise(run, batches, window)
            progress["step"] = step + 1
            progress["examples"] += args.batch_size
            window.steps += 1
            window.examples += args.batch_size
            logged = None
            if progress["step"] % args.log_every == 0 or progress["step"] == total:
                if ddp.main:
                    row = window.row(run, stage, grad_norm)
                    with open(metrics_path, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                    logged = row["loss"]
                window.reset()
            if ddp.main:  # (the loss shown is the last logged one)
                bar.update(progress["step"], logged,
                           (progress["step"] - start_step) * args.batch_size / (time.perf_counter() - started))
            run.stop.agreed = ddp.agree(run.stop.requested)
            if progress["step"] % args.save_every == 0 or run.stop.agreed:
                if ddp.main:
                    run.save()
                ddp.barrier()
            if held and not run.stop.agreed and (progress["step"] % args.save_every == 0 or progress["step"] == end):
                if ddp.main:  # the next metrics row's examples/s counts training time only
                    window.since += _log_validation(stage, progress, run.model, run.tokenizer, held, ddp.device,
                                                    run.precision, metrics_path, run.log, val_examples)
                ddp.barrier()
    elapsed = time.perf_counter() - started
    done = progress["step"] - start_step
    return {"steps": done, "seconds": elapsed,
            "examples_per_s": done * args.batch_size / elapsed if elapsed > 0 else 0.0}
