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
from core.errors import CFError
from core.train.data import TrainingSet, global_indices
from core.train.validate import HeldOut, headline, split_holdout, validate

# Steps per stage when --max-steps is not given.
DEFAULT_STEPS = {"tiny": (200, 300), "small": (20000, 20000), "paper": (100000, 50000)}
STAGES = {"pretrain": ["pretrain"], "finetune": ["finetune"], "all": ["pretrain", "finetune"]}
ORDER = STAGES["all"]


@dataclass
class TrainArgs:
    lang: str = "bash"
    preset: str = "small"
    stage: str = "finetune"
    out: str = "runs/model"
    max_steps: int | None = None
    resume: bool = False
    device: str = "auto"
    batch_size: int = 64
    grad_accum: int = 1
    lr: float = 5e-4
    warmup: int = 500
    min_lr_ratio: float = 0.1
    clip: float = 1.0
    save_every: int = 200
    log_every: int = 10
    seed: int = 0
    data: str | None = None
    train_file: str | None = None
    limit: int | None = None
    encoder: str | None = None
    progress: bool = True
    precision: str = "auto"
    # "data": embeddings and head only for the tokens the training data uses (smaller, faster);
    # "full": all of CodeT5's ids; "auto": data, or full with a pretrained --encoder.
    vocab: str = "auto"
    # Start from another model's weights (rows matched by token, so vocabularies may differ).
    init_from: str | None = None
    arch: str = "codefusion"  # or "t5-ar", the autoregressive baseline
    # Share of pre-training rows that are CPD (the rest: unconditional generation). The paper's
    # Table 4 ablations: 1.0 is "M - Code Generation", 0.0 is "M - CPD Objective".
    cpd_rate: float = 0.5
    # Self-conditioning (ModelConfig.self_cond); a resumed run keeps what it was started with.
    self_cond: bool = False
    # Literal slots (ModelConfig.literal_slots); a resumed run keeps what it was started with.
    literal_slots: bool = False
    # The Bash train split's frequent flags as whole tokens (core/data/flags.py); kept in the
    # run's tokenizer, so a resumed run keeps them.
    flag_tokens: bool = False
    # Prompts of each language kept out of fine-tuning (with all their pairs) and sampled at every
    # save (core/train/validate.py).
    holdout: int = 0
    # End this invocation after this step of the stage, saved and resumable; the learning-rate
    # schedule still runs to max_steps (a checkpoint partway through a longer schedule).
    stop_at: int | None = None
    # Retrieval (ModelConfig.retrieval): every pair reads one of its nearest examples from the
    # example store ``store`` (default: the shipped one), its own prompt's rows left out.
    retrieval: bool = False
    store: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    """``auto``, ``cpu`` or ``cuda``, or one device of them (``cuda:1``; the tests' device check
    gives ``cpu:0``, tests/device_check.py)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise CFError(f"unknown device {name!r}; use auto, cpu or cuda")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CFError(f"--device {name} was asked for, but torch sees no CUDA device")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise CFError(f"--device {name}: torch sees {torch.cuda.device_count()} CUDA devices")
        if device.index is not None:
            torch.cuda.set_device(device)  # the current device, which pick_precision asks about
        use_cuda_defaults()
    return device


def use_cuda_defaults() -> None:
    """TF32 for fp32 matmuls on CUDA (Ampere and later): fp32 generation, cf's default there, and
    fp32 training run on the tensor cores (fp32 range and accumulation, 10-bit mantissa products)."""
    torch.set_float32_matmul_precision("high")


def pick_precision(name: str, device: torch.device) -> str:
    """bf16 autocast on GPUs with native bf16 (compute capability 8, Ampere, and later; older ones
    emulate it, slower than fp32), and on CPUs with native bf16 matmuls (AVX512-BF16/AMX), where it
    measured 1.3x the fp32 examples/s for the small preset (1.9x with tune_allocator; README,
    "Measurements")."""
    if name not in ("auto", "fp32", "bf16"):
        raise CFError(f"unknown precision {name!r}; use auto, fp32 or bf16")
    if name != "auto":
        return name
    if device.type == "cuda":
        # (of the current device: pick_device or DDP has set it)
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"
    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)  # private: may go away
    return "bf16" if supported is not None and supported() else "fp32"


def autocast(precision: str, device: torch.device):
    if precision != "bf16":
        return contextlib.nullcontext()
    if device.type == "cpu":
        # The CPU flash-attention kernel's bf16 backward is slower than the plain math one.
        from torch.nn.attention import SDPBackend, sdpa_kernel

        stack = contextlib.ExitStack()
        stack.enter_context(sdpa_kernel(SDPBackend.MATH))
        stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
        return stack
    return torch.autocast(device.type, dtype=torch.bfloat16)


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


def parse_langs(text: str) -> list[str]:
    langs = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in langs if x not in LANGS]
    if not langs or bad:
        raise CFError(f"unknown language {','.join(bad) or text!r}; choose from: {', '.join(LANGS)} "
                      "(several, comma-separated, train one model for all)")
    return list(dict.fromkeys(langs))


@dataclass
class StageExamples:
    codes: list[str]
    prompts: list[str] | None  # None: pre-training snippets
    langs: list[str]  # per row
    held: HeldOut = field(default_factory=HeldOut)  # fine-tuning pairs kept out (--holdout)
    examples: list[list[tuple[str, str]]] | None = None  # retrieval: (nl, code) examples per row


def retrieved_examples(pairs, lang: str, store, literal_slots: bool) -> list[list[tuple[str, str]]]:
    """Each pair's nearest examples (core.retrieval.condition.NEIGHBOURS), with every row of
    its own prompt left out, so the model learns to edit a neighbour, not to look up its answer."""
    from core.retrieval.condition import NEIGHBOURS, masked_example

    out = []
    for p in pairs:
        found = store.retrieve(p.nl, lang, NEIGHBOURS, exclude_nl=p.nl)
        out.append([masked_example(e.nl, e.code, literal_slots) for e in found])
    return out


def stage_examples(stage: str, args: TrainArgs, langs: list[str]) -> StageExamples:
    """A stage's rows for every language; in a multi-language model each prompt carries its
    language (core.data.tag_prompt) and a smaller set is repeated up to half the largest, so
    the 712 CF pairs are not drowned by 10k Bash pairs."""
    from core.data import load_jsonl, load_pairs, pretrain_snippets, tag_prompt
    from core.data.literals import mask_pair

    per_lang: dict[str, tuple[list[str], list[str] | None]] = {}
    per_lang_examples: dict[str, list] = {}
    held: dict[str, list] = {}  # lang -> [prompts, references]
    store = open_training_store(args) if args.retrieval and stage == "finetune" else None
    for lang in langs:
        if stage == "pretrain":
            codes = pretrain_snippets(lang, args.data)[: args.limit or None]
            per_lang[lang] = (codes, None)
        else:
            pairs = load_jsonl(args.train_file) if args.train_file else load_pairs(lang, "train", args.data)
            pairs, *held[lang] = split_holdout(pairs[: args.limit or None], args.holdout)
            if held[lang][0] and not pairs:
                raise CFError(f"--holdout {args.holdout} leaves no {lang} pairs to train on")
            if store is not None:
                per_lang_examples[lang] = retrieved_examples(pairs, lang, store, args.literal_slots)
            if args.literal_slots:
                pairs = [mask_pair(p) for p in pairs]
            per_lang[lang] = ([p.code for p in pairs], [tag_prompt(p.nl, lang, langs) for p in pairs])
    largest = max(len(c) for c, _ in per_lang.values())
    out = StageExamples([], None if stage == "pretrain" else [], [],
                        HeldOut({lang: (prompts, refs) for lang, (prompts, refs) in held.items() if prompts}),
                        [] if store is not None else None)
    for lang, (codes, prompts) in per_lang.items():
        repeat = max(1, round(largest / 2 / max(1, len(codes)))) if len(langs) > 1 else 1
        out.codes += codes * repeat
        if store is not None:
            out.examples += per_lang_examples[lang] * repeat
        out.langs += [lang] * (len(codes) * repeat)
        if prompts is not None:
            out.prompts += prompts * repeat
    return out


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


def train(args: TrainArgs, log=print) -> dict[str, Any]:
    from core.model import ARCHS, build_model
    from core.tokenizer import CodeTokenizer

    langs = parse_langs(args.lang)
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
    out = Path(args.out)
    if args.init_from and Path(args.init_from).resolve() == out.resolve():
        raise CFError("--init-from and --out are the same directory")
    has_state = checkpoint.train_state_dir(out) is not None
    if has_state and not args.resume:
        raise CFError(f"{out} already holds a training run; pass --resume to continue it, or choose another --out")
    if args.resume and not has_state:
        raise CFError(f"--resume: no training state in {out}")
    if not has_state and (out / "config.json").exists():
        raise CFError(f"{out} holds a model (not a training run); choose another --out, or --init-from it")

    ddp = _Dist(pick_device(args.device))
    device = ddp.device
    precision = pick_precision(args.precision, device)
    if device.type == "cpu":
        tune_allocator()
    micro = args.batch_size // (ddp.world * args.grad_accum)
    if micro * ddp.world * args.grad_accum != args.batch_size or micro == 0:
        raise CFError(f"--batch-size {args.batch_size} must divide into {ddp.world} processes × "
                      f"{args.grad_accum} accumulation steps")
    progress: dict[str, Any] = {"stage": STAGES[args.stage][0], "step": 0, "examples": 0}
    if has_state:
        meta = json.loads((checkpoint.train_state_dir(out) / "state.json").read_text())
        cfg = ModelConfig.from_dict(meta["model"])
        # What the data is made of comes from the run, not from this command line.
        if langs != cfg.langs:
            log(f"resuming a {','.join(cfg.langs)} run (--lang {args.lang} ignored)")
        langs = cfg.langs
        args.cpd_rate = meta.get("args", {}).get("cpd_rate", args.cpd_rate)
        args.holdout = meta.get("args", {}).get("holdout", 0)
        args.literal_slots = cfg.literal_slots
        args.retrieval = cfg.retrieval
        args.store = args.store or meta.get("args", {}).get("store")
    # Every stage's rows, read once: they make the vocabulary and the training sets, and a
    # missing data set fails before the model is built.
    examples = {stage: stage_examples(stage, args, langs) for stage in STAGES[args.stage]}
    if has_state:
        tok_dir = out / "tokenizer"  # the run's own vocabulary, saved with its first checkpoint
        tokenizer = CodeTokenizer(tok_dir) if (tok_dir / "vocab.json").exists() else CodeTokenizer()
    else:
        tokenizer = pick_tokenizer(args, [examples[stage] for stage in STAGES[args.stage]])
        vocab = {"vocab_size": tokenizer.vocab_size} if tokenizer.subset is not None or tokenizer.added else {}
        cfg = preset(args.preset, langs=langs, encoder_name_or_path=args.encoder, arch=args.arch,
                     self_cond=args.self_cond or args.retrieval, literal_slots=args.literal_slots,
                     retrieval=args.retrieval, **{**vocab, **retrieval_shape(args), **args.overrides})
    first_data = load_stage_data(examples[STAGES[args.stage][0]], args, cfg, tokenizer)
    torch.manual_seed(args.seed)
    model = build_model(cfg).to(device)
    if args.init_from and not has_state:
        n = checkpoint.init_weights_from(model, tokenizer, args.init_from)
        progress["trained_from"] = checkpoint.lineage(args.init_from)  # kept in state.json on resume
        if ddp.main:
            log(f"initialised from {args.init_from} ({n} tensors)")
    # Fused on CUDA: one kernel for the whole update instead of several per parameter group.
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0,
                            fused=device.type == "cuda" or None)
    if has_state:
        progress = checkpoint.load_train_state(out, model, opt)
        for key in ("model", "args"):
            progress.pop(key, None)
    ddp_model = model
    if ddp.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ddp.local_rank] if device.type == "cuda" else None)

    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        if not has_state:  # before any train_state: a resumed run must find its vocabulary
            tokenizer.save(out / "tokenizer")
        log(f"model: {cfg.arch}, {model.num_parameters() / 1e6:.1f}M parameters, preset {args.preset}, "
            f"{', '.join(langs)}, vocabulary {cfg.vocab_size}, "
            f"device {device}{f' × {ddp.world} processes' if ddp.world > 1 else ''}, {precision}")
    summary: dict[str, Any] = {"out": str(out), "stages": {}}
    amp = lambda: autocast(precision, device)  # noqa: E731 (a fresh context per micro-step)
    try:
        with _Stop() as stop:
            for stage in STAGES[args.stage]:
                if ORDER.index(progress["stage"]) > ORDER.index(stage):
                    continue  # a resumed run already moved past this stage
                if progress["stage"] != stage:
                    progress.update(stage=stage, step=0)
                total = args.max_steps or DEFAULT_STEPS.get(args.preset, DEFAULT_STEPS["small"])[stage == "finetune"]
                data = first_data if stage == STAGES[args.stage][0] else load_stage_data(examples[stage], args, cfg, tokenizer)
                if len(data) == 0:
                    raise CFError(f"no {stage} examples fit the model's code length {cfg.code_len}")
                if ddp.main:
                    log(f"{stage}: {len(data)} examples ({data.dropped} longer than {cfg.code_len - 1} "
                        f"tokens left out), steps {progress['step']} → {total}")
                stats = _run_stage(stage, data, ddp_model, model, opt, tokenizer, args, progress, total,
                                   ddp, amp, stop, out, log, examples[stage].held, precision)
                summary["stages"][stage] = stats
                if stop.agreed:
                    raise CFError(f"stopped at {stage} step {progress['step']}; state saved in {out}, "
                                  "continue with --resume")
                if ddp.main:
                    _save(out, model, opt, tokenizer, progress, args)
                if args.stop_at and progress["step"] < total:
                    if ddp.main:
                        log(f"stopped at {stage} step {progress['step']} of {total} (--stop-at); "
                            "continue with --resume")
                    summary["stopped_at"] = progress["step"]
                    break
    finally:
        ddp.close()
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


def _run_stage(stage, data, ddp_model, model, opt, tokenizer, args, progress, total, ddp, amp, stop, out, log,
               held: HeldOut, precision: str):
    # A retrieval model's held-out prompts retrieve from the store without their own rows.
    from core.retrieval import LeaveOut

    val_examples = LeaveOut(open_training_store(args)) if held and model.cfg.retrieval else None
    from core.train.progress import TrainProgress

    world, accum = ddp.world, args.grad_accum
    micro = args.batch_size // (world * accum)
    stage_seed = args.seed * 1000 + (0 if stage == "pretrain" else 500)
    metrics_path = out / "metrics.jsonl"
    bar = TrainProgress(stage, total, progress["step"], enabled=args.progress and ddp.main)
    window: dict[str, torch.Tensor] = {}  # loss terms summed on the device, read at each logged step
    window_n, window_t, window_ex = 0, time.perf_counter(), 0
    started, start_step = time.perf_counter(), progress["step"]
    model.train()

    def step_batches(step: int) -> list:
        """This process's micro-batches of a step. Its CPD masks and retrieved examples derive
        from (seed, stage, step, rank) alone, so they may be built ahead, in another thread."""
        rng = random.Random(stage_seed * 1_000_003 + step * world + ddp.rank)
        idx = global_indices(len(data), step * args.batch_size, args.batch_size, stage_seed)
        mine = idx[ddp.rank * micro * accum:(ddp.rank + 1) * micro * accum]
        batches = [data.batch(mine[a * micro:(a + 1) * micro], rng) for a in range(accum)]
        return [b.pin_memory() for b in batches] if ddp.device.type == "cuda" else batches

    # On a GPU the next step's batches are built (tokenising, masking: Python) while the GPU runs
    # this one, in pinned memory, so that their copies need not wait. On the CPU, which does both,
    # that would only share its cores.
    ahead = ThreadPoolExecutor(1) if ddp.device != torch.device("cpu") else None
    with bar, ahead or contextlib.nullcontext():
        end = min(total, args.stop_at or total)
        pending = None
        while progress["step"] < end and not stop.agreed:
            step = progress["step"]
            # Everything random in this step (timesteps, noise, dropout, CPD masks) derives from
            # (seed, stage, step, rank): a resumed run replays exactly what an unbroken one does.
            torch.manual_seed(stage_seed * 1_000_003 + step * world + ddp.rank)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, args, total)
            batches = pending.result() if pending is not None else step_batches(step)
            pending = ahead.submit(step_batches, step + 1) if ahead is not None and step + 1 < end else None
            for a, batch in enumerate(batches):
                batch = batch.to(ddp.device)
                sync = a == accum - 1 or world == 1
                ctx = ddp_model.no_sync() if (world > 1 and not sync) else contextlib.nullcontext()
                with ctx, amp():
                    out_loss = ddp_model(batch.code_ids, batch.prompt_ids, batch.prompt_mask, **batch.model_inputs())
                    (out_loss.loss / accum).backward()
                for k, v in out_loss.terms().items():
                    window[k] = window.get(k, 0.0) + v / accum
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            progress["step"] = step + 1
            progress["examples"] += args.batch_size
            window_n += 1
            window_ex += args.batch_size
            logged = None
            if progress["step"] % args.log_every == 0 or progress["step"] == total:
                if ddp.main:  # the step's one wait for the GPU: every term at once
                    values = torch.stack([*window.values(), grad_norm.float()]).tolist()
                    now = time.perf_counter()
                    row = {"stage": stage, "step": progress["step"],
                           **{k: v / window_n for k, v in zip(window, values)},
                           "lr": opt.param_groups[0]["lr"], "grad_norm": values[-1],
                           "examples_per_s": window_ex / (now - window_t), "examples": progress["examples"],
                           "time": time.time()}
                    with open(metrics_path, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                    logged, window_t = row["loss"], now
                window, window_n, window_ex = {}, 0, 0
            if ddp.main:  # (the loss shown is the last logged one)
                bar.update(progress["step"], logged,
                           (progress["step"] - start_step) * args.batch_size / (time.perf_counter() - started))
            stop.agreed = ddp.agree(stop.requested)
            if progress["step"] % args.save_every == 0 or stop.agreed:
                if ddp.main:
                    _save(out, model, opt, tokenizer, progress, args)
                ddp.barrier()
            if held and not stop.agreed and (progress["step"] % args.save_every == 0 or progress["step"] == end):
                if ddp.main:  # the next metrics row's examples/s counts training time only
                    window_t += _log_validation(stage, progress, model, tokenizer, held, ddp.device, precision,
                                                metrics_path, log, val_examples)
                ddp.barrier()
    elapsed = time.perf_counter() - started
    done = progress["step"] - start_step
    return {"steps": done, "seconds": elapsed,
            "examples_per_s": done * args.batch_size / elapsed if elapsed > 0 else 0.0}
