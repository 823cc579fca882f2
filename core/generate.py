"""The one generation contract shared by the CLI, the TUI, the language server and eval.

``Pipeline.stream(prompts, …)`` is an iterator: a ``Step`` per denoising step (with the
current predicted clean code of every candidate when previews are asked for), then a
``Result`` per prompt. ``generate`` and ``generate_batch`` just drain it.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch

from core import threads
from core.data.literals import SLOT, Literals, mask_prompt, unmask
from core.device import autocast, generator_on, randn
from core.diffusion import make_scheduler
from core.errors import CFError
from core.events import Cancelled, Candidate, Result, Step  # noqa: F401 (callers import them from here too)
from core.metrics import first_rule, syntax_valid
from core.confidence import Calibration, agreement, features, in_rank_order, origin
from core.retrieval.tools import kept_command
from core.retrieval.values import contradictions, fill_example, missing_values
from core.effects import DEMOTED, asks_to_show, code_effects, destructive, read_only_version, reads_first
from core.safety import code_warnings
from core.tokenizer import pad_prompts


PRECISIONS = ("auto", "fp32", "bf16", "int8")
# What `cf`, the language server and eval use unless told otherwise (README, "Speed": cf bench).
# Used together when no step count is given (an explicit --steps runs every step at full length
# unless early stop or length buckets are asked for too). 5 steps without early stop, chosen on
# the first 500 Bash test items, beat 10 steps with early stop 2 (the default until 2026-12-02)
# in Bash and CF (docs/results.md, "The sampling study"); early stop stays an option.
DEFAULT_STEPS = 5
# A retrieval model runs only the low-noise end of the schedule, from its examples
# (ModelConfig.retrieval_strength): fewer steps suffice (docs/results.md, "Retrieval").
DEFAULT_RETRIEVAL_STEPS = 3
# Rounding a retrieval candidate, its example's token gets this many nats more (_copy_biased).
COPY_BIAS = 3.0
# A user's row copied as it stands (core/retrieval/own.py): its tokens get this many nats more, so
# the model's own preferences never change it.
COPY_FORCED = 1e4
# Rounds of further samples when fewer than k distinct candidates came out (Pipeline._fill).
FILL_ROUNDS = 2
DEFAULT_SAMPLER = "dpm++"
DEFAULT_EARLY_STOP = 0
# What precision "auto" means on each device: int8 dynamic quantisation on CPUs (README, "Speed");
# CUDA stays fp32 until bf16 is measured there.
DEFAULT_PRECISION = {"cpu": "int8", "cuda": "fp32"}
CLAMPS = ("decoder", "nearest", "none")
# Length buckets: once the rounded tokens show where every candidate's code ends, the sampler
# goes on over the shortest multiple of LENGTH_BUCKET that still leaves LENGTH_MARGIN positions
# of pad after the longest (the denoiser's cost is linear in the length; cf bench measures both).
LENGTH_BUCKET = 16
LENGTH_MARGIN = 8


def default_steps(cfg) -> int:
    """The step count of cf's default sampling for a model."""
    return min(cfg.diffusion_steps, DEFAULT_RETRIEVAL_STEPS if cfg.retrieval else DEFAULT_STEPS)


def is_default_sampling(steps: int | None, clamp: bool | str) -> bool:
    """cf's default sampling: no step count given, and clamping on (early stop and length buckets
    read the rounded tokens that only clamping computes)."""
    return steps is None and clamp not in (False, "none")


def default_early_stop(steps: int | None, clamp: bool | str) -> int:
    """Early stop belongs to the default sampling, when DEFAULT_EARLY_STOP asks for it."""
    return DEFAULT_EARLY_STOP if is_default_sampling(steps, clamp) else 0


def default_shrink(steps: int | None, clamp: bool | str) -> bool:
    """Length buckets belong to the default sampling too: cf bench measured them 1.6x faster on
    2 cores at the same quality (benchmarks/README.md)."""
    return is_default_sampling(steps, clamp)


ROUNDINGS = ("decoder", "nearest")


def shrunk_length(tokens: torch.Tensor, pad_id: int, bucket: int = LENGTH_BUCKET, margin: int = LENGTH_MARGIN) -> int:
    """The length to go on at: the longest row's code (up to its first pad) plus ``margin``,
    rounded up to a multiple of ``bucket``, never longer than the rows are now."""
    length = tokens.shape[1]
    pad = tokens == pad_id
    ends = torch.where(pad.any(1), pad.float().argmax(1), torch.full_like(pad[:, 0], length, dtype=torch.long))
    need = int(ends.max()) + margin
    return min(length, -(-need // bucket) * bucket)


def quantize_int8(model, inplace: bool = False):
    """``model`` (or a copy) with int8 dynamic quantisation of every nn.Linear (weights int8,
    activations quantised per batch). torch.ao's eager API is deprecated in favour of torchao,
    but it is in torch itself and does the job on CPU without another dependency."""
    import warnings

    from torch import nn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model if inplace else copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8,
                                inplace=True)


def tidy_spaces(code: str) -> str:
    """One space for each run of spaces and tabs inside a line, outside quotes; no spaces at
    line ends. The denoiser writes a lone space token where it cannot tell what comes next
    (`find    f` is `find f`); indentation and quoted text stay as written. Candidates are
    de-duplicated after this, so five of them are five different commands."""
    out: list[str] = []
    quote, escaped, line_start, pending = "", False, True, False
    for ch in code:
        if ch == "\n":
            if quote:
                out.append(ch)
            else:
                while out and out[-1] in " \t":
                    out.pop()
                out.append(ch)
                line_start, pending = True, False
            continue
        if not quote and ch in " \t":
            if line_start:
                out.append(ch)  # indentation
            else:
                pending = True
            continue
        if pending:
            out.append(" ")
            pending = False
        line_start = False
        out.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
    return "".join(out).rstrip(" \t") if not quote else "".join(out)


def compiled_steps(model, device: torch.device) -> tuple[Callable, Callable]:
    """``torch.compile`` of the two calls the sampling loop makes at every step: the denoiser,
    and decoder + head. On CUDA, mode "reduce-overhead" replays each as a CUDA graph (a small
    denoiser's step is mostly kernel launches); a graph's outputs live in buffers its next
    replay reuses, so they are cloned. The first call of each shape compiles (tens of seconds)."""
    cuda = device.type == "cuda"
    mode = "reduce-overhead" if cuda else None
    denoise = torch.compile(model.denoise, mode=mode)
    decode = torch.compile(lambda x0, cross: model.logits(model.decode(x0, cross)), mode=mode)
    if not cuda:
        return denoise, decode

    def owned(fn: Callable) -> Callable:
        def call(*args):
            torch.compiler.cudagraph_mark_step_begin()
            return fn(*args).clone()
        return call

    return owned(denoise), owned(decode)


@dataclasses.dataclass(frozen=True)
class SamplingPlan:
    """How one call samples, checked and with cf's defaults filled in (Pipeline.plan); a fill
    round reuses it with more candidates and the next seed."""
    k: int
    steps: int
    seed: int | None
    cancel: Callable[[], bool] | None
    preview_every: int
    eta: float | None
    clamp: str
    lang: str
    sampler: str
    early_stop: int
    rounding: str
    shrink: bool
    strength: float | None
    copy_bias: float | None
    roll: int
    novel: bool


@dataclasses.dataclass
class Conditioning:
    """What the denoiser and the decoder read of the prompts (Pipeline._condition)."""
    dn_cross: tuple
    dec_cross: tuple
    guess: torch.Tensor | None = None  # self-conditioning's x̂0: a retrieval model's examples
    found: list | None = None  # a retrieval model's examples per prompt
    example_lits: list | None = None
    example_codes: torch.Tensor | None = None
    bias: float | torch.Tensor = COPY_BIAS


class Pipeline:
    def __init__(self, model, tokenizer, device: str | torch.device = "cpu", name: str = "", lang: str = "",
                 precision: str = "auto", owns_model: bool = False, compile: bool = False, examples=None):
        """``lang``: the default target (a multi-language model serves each of its ``cfg.langs``;
        callers check the language, the language server may map one to a model for another).
        ``precision``: fp32; bf16 (autocast: CUDA, and CPUs with bf16 instructions); int8
        (dynamic quantisation of the linear layers, CPU; of a copy unless ``owns_model``);
        auto: DEFAULT_PRECISION for the device (fp32 for int8 when compiled). ``compile``:
        ``torch.compile`` the denoiser and the decoder (``compiled_steps``), for CUDA graphs; on
        2 CPU cores it gained 4-9% over eager (benchmarks/README.md). ``examples``: what a
        retrieval model retrieves from (anything with ``retrieve(prompt, lang, k)``, such as
        core.retrieval.ExampleStore); default: the shipped store with the user's examples."""
        if precision not in PRECISIONS:
            raise CFError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if precision == "auto":
            precision = DEFAULT_PRECISION.get(torch.device(device).type, "fp32")
            precision = "fp32" if compile and precision == "int8" else precision
        model = model.eval()
        if precision == "int8" and torch.device(device).type != "cpu":
            raise CFError("int8 runs on the CPU only; use bf16 on CUDA")
        if precision == "int8" and compile:
            # Measured on the shipped model: slower than int8 eager, and other candidates.
            raise CFError("--compile runs fp32 or bf16; int8's quantised layers do not compile")
        if precision == "int8":
            model = quantize_int8(model, inplace=owns_model)
        self.model, self.tok, self.precision = model, tokenizer, precision
        self.device = torch.device(device)
        self.name = name
        self.cfg = model.cfg
        self.lang = lang or self.cfg.langs[0]
        # Beam search (the t5-ar baseline) has no denoising loop to compile.
        self._compiled = compiled_steps(model, self.device) if compile and self.cfg.arch != "t5-ar" else None
        self._examples = examples
        self._lexicons: dict[str, object] = {}  # lang -> the store's re-ranking tables, or None
        # Candidates that parse come before those that do not (for a retrieval model it raised
        # top-1 validity and the scores: docs/results.md, "Retrieval").
        self.valid_first = True
        # A retrieval model's candidates re-ordered as its examples were (where the store has a
        # lexicon); off, they keep the examples' order (benchmarks/bash_rerank.py --candidates).
        self.reorder_candidates = True
        self._calibration: Calibration | None | bool = False  # False: not read yet
        # A Bash value the prompt does not give, left over from the example edited, is shown as a
        # placeholder (core/retrieval/placeholders.py).
        self.placeholders = True

    @property
    def examples(self):
        """The example store a retrieval model edits from (opened on first use)."""
        if self._examples is None:
            from core.retrieval import open_examples

            self._examples = open_examples()
        return self._examples

    @examples.setter
    def examples(self, store) -> None:
        """Another store (`cf serve` reopens it when the user's examples change)."""
        self._examples = store
        self._lexicons = {}

    @property
    def calibration(self) -> Calibration | None:
        """The fit that turns a candidate into a confidence (core/confidence.py): the model
        directory's calibration.json, None where there is none."""
        if self._calibration is False:
            self._calibration = Calibration.load(self.name) if self.name and Path(self.name).is_dir() else None
        return self._calibration

    def lexicon(self, lang: str):
        """A retrieval model's re-ranking tables for ``lang`` (core/retrieval/rerank.py), or None:
        bm25's order then stands, for the examples and for the candidates."""
        if lang not in self._lexicons:
            find = getattr(self.examples, "lexicon", None) if self.cfg.retrieval else None
            self._lexicons[lang] = find(lang) if find is not None else None
        return self._lexicons[lang]

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def _denoise(self, x: torch.Tensor, t: torch.Tensor, dn_cross, guess: torch.Tensor | None) -> torch.Tensor:
        if self._compiled:
            return self._compiled[0](x, t, dn_cross, guess)
        return self.model.denoise(x, t, dn_cross, guess)

    def _decode_logits(self, x0: torch.Tensor, dec_cross) -> torch.Tensor:
        if self._compiled:
            return self._compiled[1](x0, dec_cross)
        return self.model.logits(self.model.decode(x0, dec_cross))

    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, device: str | torch.device = "auto", lang: str = "",
                        precision: str = "auto", compile: bool = False, examples=None) -> "Pipeline":
        """The one way to load a model: ``model`` a directory or a model name (``cf model list``;
        None: the shipped default); ``device`` auto (CUDA when torch sees one), cpu, cuda or one
        device of them. A ``lang`` the model was not trained for fails before the weights load.
        Torch's thread counts follow the policy the process configured (core/threads.py)."""
        from core.checkpoint import load_model, read_config, require_language
        from core.device import pick_device
        from core.registry import resolve_model

        directory = resolve_model(str(model) if model is not None else None)
        if lang:
            require_language(read_config(directory)["model"]["langs"], lang, directory)
        threads.apply()
        device = pick_device(str(device))
        loaded, tok, _ = load_model(directory, device)
        return cls(loaded, tok, device, name=str(directory), lang=lang, precision=precision, owns_model=True,
                   compile=compile, examples=examples)

    def with_lang(self, lang: str) -> "Pipeline":
        """This pipeline for another default target, over the same (already quantised) weights."""
        other = copy.copy(self)
        other.lang = lang
        return other

    def _amp(self):
        return autocast(self.precision, self.device)

    def _literals(self, prompts: Sequence[str]) -> list[Literals]:
        """What the model reads of each prompt: with literal slots, placeholders for its values."""
        if self.cfg.literal_slots:
            return [mask_prompt(p) for p in prompts]
        return [Literals(p) for p in prompts]

    def _encode_prompts(self, lits: Sequence[Literals], lang: str):
        from core.data import tag_prompt
        tagged = [tag_prompt(m.prompt, lang, self.cfg.langs) for m in lits]
        rows = [r[: self.cfg.prompt_len] for r in self.tok.encode_batch(tagged)]
        ids, mask = pad_prompts(rows, self.tok.pad_id)
        return ids.to(self.device), mask.to(self.device)

    def _retrieve(self, prompts: Sequence[str], lits: Sequence[Literals], lang: str, k: int, roll: int = 0,
                  novel: bool = False):
        """A retrieval model's inputs for k candidates per prompt, candidate j of a prompt editing
        its j-th nearest example (cycled when fewer are found; roll r > 0 takes the next k after
        the first r*k, as far as the pool goes): encoder ids and mask (P*k rows),
        the examples' code ids (P*k, code_len), the examples found per prompt, and (slot models)
        each row's example literals."""
        from core.data import tag_prompt
        from core.retrieval.condition import aligned_example, example_input

        from core.retrieval.rerank import POOL

        from core.retrieval.own import Found, pinned
        from core.retrieval.pydocs import with_values

        lexicon = self.lexicon(lang)
        rank_all = getattr(self.examples, "ranked", None) if self.cfg.retrieval else None
        found = []
        for p in prompts:
            pool = rank_all(p, lang) if rank_all is not None else None
            one_ranking = bool(pool)  # every source in one ranking (core/retrieval/ranker.py)
            if not one_ranking:  # with a lexicon: bm25's POOL nearest, re-ordered by what the prompt says
                n = max(k, POOL) if lexicon is not None else POOL if novel else k * (roll + 1)
                pool = self.examples.retrieve(p, lang, n)
            if lang == "python":  # a documentation row's call takes the prompt's values (before its order reads them)
                pool = [with_values(e, p) for e in pool]
            order = lexicon.order(p, [e.code for e in pool]) if lexicon is not None and not one_ranking \
                else list(range(len(pool)))
            mine = pinned(p, pool)  # the user's rows that match the prompt closely come first
            ranked = [pool[j] for j in mine + [j for j in order if j not in mine]]
            # A re-roll edits the next examples: the user's close rows only in the first roll.
            found.append(Found.of(p, _window(_novel(ranked, lang) if novel else ranked, k, roll),
                                  min(len(mine), k) if roll == 0 and not novel else 0, ranked=one_ranking))
        heads = self.tok.encode_batch([tag_prompt(m.prompt, lang, self.cfg.langs) for m in lits])
        picked = [ex[j % len(ex)] for ex in found for j in range(k)]
        example_lits = None
        if self.cfg.literal_slots:  # the example's values the prompt shares take the prompt's placeholders
            from core.retrieval.copying import copy_slots

            aligned = [aligned_example(e.nl, e.code, lits[i // k].slots) for i, e in enumerate(picked)]
            masked, example_lits = [], []
            for i, (nl, code, ex_lits) in enumerate(aligned):
                # Words the model cannot write (and a copied row's swapped values) as slots.
                ex = found[i // k]
                code, ex_lits = copy_slots(code, ex_lits, {n for n, _ in lits[i // k].slots}, self.tok,
                                           ex.swaps.get((i % k) % len(ex), ()))
                masked.append((nl, code))
                example_lits.append(ex_lits)
        else:
            masked = [(e.nl, e.code) for e in picked]
        nl_rows = self.tok.encode_batch([nl for nl, _ in masked])
        code_rows = [r[: self.cfg.code_len - 1] for r in self.tok.encode_batch([c for _, c in masked])]
        rows = [example_input(heads[i // k], nl_rows[i], code_rows[i], self.tok.eos_id, self.cfg.prompt_len)
                for i in range(len(picked))]
        ids, mask = pad_prompts(rows, self.tok.pad_id)
        codes = torch.tensor(self.tok.pad_rows(code_rows, self.cfg.code_len), dtype=torch.long)
        return ids.to(self.device), mask.to(self.device), codes.to(self.device), found, example_lits

    def cut_note(self, prompt: str, lang: str | None = None) -> str:
        """The encoder reads the first prompt_len tokens of a prompt: say so when that drops some."""
        from core.data import tag_prompt

        read = self._literals([prompt])[0].prompt
        n, limit = len(self.tok.encode(tag_prompt(read, lang or self.lang, self.cfg.langs))), self.cfg.prompt_len
        return f"the prompt was cut to the model's first {limit} of {n} tokens" if n > limit else ""

    def _tokens(self, x0: torch.Tensor, dec_cross, example: torch.Tensor | None = None, bias: float = 0.0
                ) -> torch.Tensor:
        """Decoder + head + argmax (no softmax: the cheap path for previews and clamping)."""
        with self._amp():
            logits = self._decode_logits(x0, dec_cross)
        if example is not None and (torch.is_tensor(bias) or bias):
            return self._copy_biased(logits, example, bias, normalised=False).argmax(-1)
        return logits.argmax(-1)

    @staticmethod
    def _copy_biased(logits: torch.Tensor, example: torch.Tensor, bias: float, normalised: bool = True
                     ) -> torch.Tensor:
        """Log-probabilities with ``bias`` nats added to the example's token at each position: a
        retrieval candidate keeps its example's token unless the model prefers another by more
        than that (what it was not sure of, it leaves as the example had it). ``bias`` may be a
        tensor of one value per row. ``normalised`` False: the logits, no log-softmax (a constant
        per position: the same argmax, about 10 ms less a step on the shipped model)."""
        scores = logits.float().log_softmax(-1) if normalised else logits.float()
        add = bias.to(scores).reshape(-1, 1, 1) if torch.is_tensor(bias) else bias
        return scores.scatter_add(-1, example[:, : scores.shape[1], None], torch.zeros_like(scores[..., :1]) + add)

    def _nearness(self, x0: torch.Tensor) -> torch.Tensor:
        """-||x0 - L_v||² for every token v, up to a per-position constant: the paper's
        "grounding" (nearest vocabulary embedding, no decoder)."""
        table = self.model.embed.weight.float()
        return 2 * x0.float() @ table.T - table.pow(2).sum(-1)

    def _round(self, x0: torch.Tensor, dec_cross, rounding: str = "decoder", example: torch.Tensor | None = None,
               bias: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder + head + argmax (or the nearest embeddings): (tokens, per-row mean log-prob
        through the first pad); ``example``/``bias``: see _copy_biased."""
        if rounding == "nearest":
            logits = self._nearness(x0)
        else:
            with self._amp():
                logits = self._decode_logits(x0, dec_cross)
        if example is not None and (torch.is_tensor(bias) or bias):
            logp = self._copy_biased(logits, example, bias)
        else:
            logp = logits.float().log_softmax(-1)
        best, ids = logp.max(-1)
        if torch.is_tensor(bias):  # a copied row is scored as if its tokens had the usual bias
            usual = torch.where(bias >= COPY_FORCED, torch.full_like(bias, COPY_BIAS), bias)
            best = self._copy_biased(logits, example, usual).gather(-1, ids[..., None])[..., 0]
        keep = self.model.scored_positions(ids)
        score = (best * keep).sum(-1) / keep.sum(-1).clamp(min=1)
        return ids, score

    @torch.inference_mode()
    def stream(
        self,
        prompts: Sequence[str],
        k: int = 5,
        steps: int | None = None,
        seed: int | None = None,
        cancel: Callable[[], bool] | None = None,
        preview_every: int = 0,
        eta: float | None = None,
        clamp: bool | str = True,
        lang: str | None = None,
        sampler: str | None = None,
        early_stop: int | None = None,
        rounding: str = "decoder",
        shrink: bool | None = None,
        strength: float | None = None,
        copy_bias: float | None = None,
        fill: bool = True,
        roll: int = 0,
        novel: bool = False,
    ) -> Iterator[Step | Result]:
        """Denoise k candidates per prompt in one batch.

        ``steps``: T (the model's diffusion_steps) is the paper's full ancestral schedule; fewer
        respaces it (DDIM). ``eta`` overrides the scheduler's noise (1 = DDPM, 0 = DDIM).
        ``clamp`` rounds x̂0 through decoder + head at every step (default: measured on the tiny
        overfit model, plain DDIM drifts as steps grow, 56% top-1 at 50 steps vs 89% at 1 step,
        while clamped sampling keeps 90.6% at 50 steps; see README). ``preview_every`` n puts the
        current predicted code in every n-th Step. ``cancel`` is polled before every step (in beam
        search: at every decoded position).
        ``lang``: the target (default: the pipeline's). ``sampler``: "ddim" (respaced; DDPM
        ancestral at steps = T, the paper's) or "dpm++" (DPM-Solver++(2M)). ``early_stop`` n > 0
        ends sampling once the rounded tokens of every candidate have not changed for n steps
        (needs ``clamp``, which computes them anyway). The paper's Table 4 ablations: ``clamp=
        "nearest"`` rounds x̂0 to the nearest token embeddings at every step ("M with Clamping"),
        ``rounding="nearest"`` replaces D and H at the end ("M with Grounding"). ``strength``: where
        a retrieval model starts, as a share of the schedule (default: its retrieval_strength);
        ``copy_bias``: nats added to its example's token when rounding (default: COPY_BIAS).
        ``fill``: when fewer than k distinct candidates come out, sample again (FILL_ROUNDS at
        most, 2k candidates each; a retrieval model edits further examples) and say in
        ``Result.note`` when there are still fewer. ``roll``: 0, the best set; r > 0 (the
        picker's re-roll, ``cf --seed r``) draws a retrieval model's candidates from the next k
        examples after the first r*k of its ranked pool (a model without retrieval: the seed).
        ``novel``: a retrieval model edits only the nearest example of each template (``_fill``).
        """
        threads.apply()  # the process's thread policy, for the machine's load now (core/threads.py)
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts or any(not p.strip() for p in prompts):
            raise CFError("empty prompt")
        if k < 1:
            raise CFError("--top-k must be at least 1")
        lang = lang or self.lang
        if self.cfg.arch == "t5-ar":  # the autoregressive baseline: beam search, no denoising steps
            yield from self._stream_beam(prompts, self._literals(prompts), k, lang, preview_every, cancel)
            return
        plan = self.plan(k=k, steps=steps, seed=seed, cancel=cancel, preview_every=preview_every, eta=eta,
                         clamp=clamp, lang=lang, sampler=sampler, early_stop=early_stop, rounding=rounding,
                         shrink=shrink, strength=strength, copy_bias=copy_bias, roll=roll, novel=novel)
        yield from self._sample(prompts, plan, fill)

    def plan(self, *, k: int, steps: int | None, seed: int | None, cancel, preview_every: int, eta: float | None,
             clamp: bool | str, lang: str, sampler: str | None, early_stop: int | None, rounding: str,
             shrink: bool | None, strength: float | None, copy_bias: float | None, roll: int,
             novel: bool) -> "SamplingPlan":
        """Phase 1, the arguments checked and cf's defaults filled in: one frozen plan."""
        T = self.cfg.diffusion_steps
        if roll < 0:
            raise CFError("roll must be 0 or more")
        if early_stop is None:
            early_stop = default_early_stop(steps, clamp)
        if shrink is None:
            shrink = default_shrink(steps, clamp)
        steps = steps or default_steps(self.cfg)
        if not 1 <= steps <= T:
            raise CFError(f"--steps must be between 1 and {T}")
        clamp = {True: "decoder", False: "none"}.get(clamp, clamp)
        if clamp not in CLAMPS or rounding not in ROUNDINGS:
            raise CFError(f"clamp must be one of {', '.join(CLAMPS)} and rounding one of {', '.join(ROUNDINGS)}")
        if early_stop < 0 or (early_stop and clamp == "none"):
            raise CFError("early_stop needs clamp and a count of at least 1")
        if shrink and clamp == "none":
            raise CFError("shrink needs clamp (it reads the rounded tokens)")
        if strength is not None and not 0.0 < strength <= 1.0:
            raise CFError("strength must be above 0 and at most 1")
        return SamplingPlan(k, steps, seed, cancel, preview_every, eta, clamp, lang, sampler or DEFAULT_SAMPLER,
                            early_stop, rounding, shrink, strength, copy_bias, roll, novel)

    def _sample(self, prompts: list[str], plan: "SamplingPlan", fill: bool) -> Iterator[Step | Result]:
        """The phases after the plan: the schedule, conditioning, the start, the loop, the finish."""
        t0 = time.perf_counter()
        lits = self._literals(prompts)
        sched = self._schedule(plan)
        gen = torch.Generator().manual_seed(plan.seed if plan.seed is not None else secrets.randbits(63))
        cond = self._condition(prompts, lits, plan)
        t_enc = time.perf_counter()
        n = len(prompts) * plan.k
        # Start noise from the CPU generator (a seed starts every device alike); the noise DDPM adds
        # at every step from one on the model's device (core/device.py: why).
        x = randn((n, self.cfg.code_len, self.cfg.embed_dim), gen, self.device)
        if cond.guess is not None:  # SDEdit: start from the example, noised to the first timestep
            x = self.model.scheduler.add_noise(cond.guess, x, sched.timesteps[:1].to(self.device).expand(n))
        x0, done = yield from self._denoise_loop(plan, sched, cond, x, generator_on(self.device, gen), lits)
        t_sample = time.perf_counter()
        # As in the paper, the decoder and head run once, on the final x̂0.
        tokens, scores = self._round(x0, cond.dec_cross, plan.rounding, cond.example_codes, cond.bias)
        t_end = time.perf_counter()
        results = list(self._results(prompts, lits, plan.lang, plan.k, tokens.tolist(), scores.tolist(), {
            "total_ms": t_end - t0, "encode_ms": t_enc - t0, "sample_ms": t_sample - t_enc,
            "decode_ms": t_end - t_sample}, done, cond.found, cond.example_lits))
        if fill:
            self._fill(results, plan)
        yield from results

    def _schedule(self, plan: "SamplingPlan"):
        """A scheduler of its own (set_timesteps mutates, and dpm++ keeps state: thread-safe), its
        timesteps set; a retrieval model's start where its examples are noised to."""
        try:
            sched = make_scheduler(plan.sampler, self.cfg.diffusion_steps)
            start = self.model.start_timestep(plan.strength) if self.cfg.retrieval else None
            sched.set_timesteps(plan.steps if start is None else min(plan.steps, start + 1), start)
        except ValueError as e:
            raise CFError(str(e)) from None
        return sched

    def _condition(self, prompts: list[str], lits: list[Literals], plan: "SamplingPlan") -> "Conditioning":
        """What the denoiser and decoder read: the prompt encoded once (a retrieval model: once per
        candidate, with its example) and its cross-attention keys and values."""
        k = plan.k
        bias = COPY_BIAS if plan.copy_bias is None else plan.copy_bias
        if not self.cfg.retrieval:
            ids, mask = self._encode_prompts(lits, plan.lang)
            with self._amp():
                enc = self.model.encode(ids, mask)  # once per prompt, shared by its k samples
                dn_cross, dec_cross = (c.repeat_interleave(k) for c in self.model.cross(enc, mask))
            return Conditioning(dn_cross, dec_cross, bias=bias)
        ids, mask, example_codes, found, example_lits = self._retrieve(prompts, lits, plan.lang, k, plan.roll,
                                                                       plan.novel)
        with self._amp():
            enc = self.model.encode(ids, mask)  # one row per candidate: each reads its own example
            dn_cross, dec_cross = self.model.cross(enc, mask)
        copied = [(j % k) % len(ex) in ex.swaps for ex in found for j in range(k)]
        if any(copied):  # the user's rows copied as they stand: the model does not edit them
            bias = torch.tensor([COPY_FORCED if c else bias for c in copied], device=self.device)
        # guess: self-conditioning's first x̂0, the examples' code
        return Conditioning(dn_cross, dec_cross, self.model.embed(example_codes).float(), found, example_lits,
                            example_codes, bias)

    def _denoise_loop(self, plan: "SamplingPlan", sched, cond: "Conditioning", x: torch.Tensor, step_gen,
                      lits: list[Literals]):
        """The denoising steps, each yielding a Step; returns the final x̂0 and the steps run."""
        n, guess, clamp = x.shape[0], cond.guess, plan.clamp
        x0, before, unchanged, done = x, None, 0, 0
        for i, t in enumerate(sched.timesteps.tolist(), 1):
            if plan.cancel is not None and plan.cancel():
                raise Cancelled()
            tt = torch.full((n,), t, device=self.device, dtype=torch.long)
            with self._amp():
                x0 = self._denoise(x, tt, cond.dn_cross, guess).float()
            if self.cfg.self_cond:
                guess = x0  # as trained: the raw prediction, not its clamped rounding
            done = i
            last = i == len(sched.timesteps)
            preview = bool(plan.preview_every) and (i % plan.preview_every == 0 or last)
            clamping = clamp != "none" and not last
            tokens = None
            if clamp == "nearest" and clamping:
                tokens = self._nearness(x0).argmax(-1)
            elif clamping or preview:
                tokens = self._tokens(x0, cond.dec_cross, cond.example_codes, cond.bias)
            if clamping:
                # Clamping: step from the embedding of the rounded tokens, so the sampler stays on
                # the embeddings it was trained on.
                x0 = self.model.embed(tokens).float()
                if plan.shrink:
                    length = shrunk_length(tokens, self.tok.pad_id)
                    if length < x.shape[1]:
                        x, x0, tokens = x[:, :length], x0[:, :length], tokens[:, :length]
                        guess = None if guess is None else guess[:, :length]
                        before = None if before is None else before[:, :length]
                        sched.narrow(length)
                if plan.early_stop:
                    unchanged = unchanged + 1 if before is not None and torch.equal(tokens, before) else 0
                    before = tokens
                    last = unchanged >= plan.early_stop
                    preview = preview or (bool(plan.preview_every) and last)
            x = sched.step(x0, t, x, eta=plan.eta, generator=step_gen).prev_sample
            texts = self._previews(tokens.tolist(), lits, plan.k, cond.example_lits) if preview else None
            yield Step(i, len(sched.timesteps), t, texts)
            if last:
                break
        return x0, done

    def _fill(self, results: list[Result], plan: "SamplingPlan") -> None:
        """Top up results with fewer than k distinct candidates from further samples (in place):
        the same plan, 2k candidates, the next seed, no previews."""
        k, seed = plan.k, plan.seed
        short = [i for i, r in enumerate(results) if len(r.candidates) < k]
        # A retrieval model's last round edits one example of each template (the nearest of each):
        # where the nearest examples all share one template, their edits of one prompt collapse
        # into one candidate ("GreaterThan(85)" from ten GreaterThan(N) rules: 45 of the first 50
        # CF test prompts had 5 distinct before it, docs/results.md).
        rounds = [(r, False) for r in range(1, FILL_ROUNDS + 1)] + [(FILL_ROUNDS + 1, True)] * bool(self.cfg.retrieval)
        for round_, novel in rounds:
            if not short:
                break
            started = time.perf_counter()
            again = dataclasses.replace(plan, k=2 * k, novel=novel, preview_every=0,
                                        seed=None if seed is None else seed + round_)
            more = [e for e in self._sample([results[i].prompt for i in short], again, fill=False)
                    if isinstance(e, Result)]
            for i, extra in zip(short, more):
                res = results[i]
                have = {c.code for c in res.candidates}
                res.candidates += [c for c in extra.candidates if c.code not in have][: k - len(res.candidates)]
                self._order(res.prompt, res.candidates, res.lang, k)
                self._in_rank_order(res.candidates)
                seen = {(e["nl"], e["code"]) for e in res.examples}
                res.examples += [e for e in extra.examples if (e["nl"], e["code"]) not in seen]
                res.timings["fill_ms"] = round(res.timings.get("fill_ms", 0.0)
                                               + 1000 * (time.perf_counter() - started) / len(short), 2)
            short = [i for i in short if len(results[i].candidates) < k]
        for i in short:
            n = len(results[i].candidates)
            results[i].note = (f"{n} distinct candidate{'s' if n != 1 else ''} of the {k} asked: "
                               "further samples gave no other")

    def _stream_beam(self, prompts: list[str], lits: list[Literals], k: int, lang: str, preview_every: int,
                     cancel: Callable[[], bool] | None) -> Iterator[Step | Result]:
        def on_token() -> None:  # beam search is one call: cancel is polled at every position instead
            if cancel():
                raise Cancelled()

        t0 = time.perf_counter()
        if cancel is not None and cancel():
            raise Cancelled()
        ids, mask = self._encode_prompts(lits, lang)
        with self._amp():
            tokens, scores = self.model.beam_search(ids, mask, k, on_token if cancel else None)
        t_end = time.perf_counter()
        rows = tokens.tolist()
        yield Step(1, 1, 0, self._previews(rows, lits, k) if preview_every else None)
        yield from self._results(prompts, lits, lang, k, rows, scores.float().tolist(), {
            "total_ms": t_end - t0, "encode_ms": 0.0, "sample_ms": t_end - t0, "decode_ms": 0.0}, 1)

    def _text(self, row: list[int], lit: Literals, example: Literals | None = None) -> str:
        """A candidate's code: its tokens decoded, the prompt's values put back, spaces tidied.
        ``example``: the literals of the example a retrieval candidate edits; a placeholder the
        prompt has no value for is one the model carried over from the example, so it takes the
        example's value (never shown as ``<str_0>``)."""
        code = unmask(self.tok.decode(row), lit)
        if example is not None:
            code = unmask(code, example)
        return tidy_spaces(code.strip())

    def _previews(self, rows: list[list[int]], lits: list[Literals], k: int,
                  example_lits: list[Literals] | None = None) -> list[list[str]]:
        """texts[p][j]: candidate j of prompt p, as a final candidate would read."""
        return [[self._text(rows[j], lits[p], example_lits and example_lits[j]) for j in range(p * k, (p + 1) * k)]
                for p in range(len(lits))]

    def _final_text(self, row: list[int], lit: Literals, lang: str, example: Literals | None = None) -> str:
        code = self._text(row, lit, example)
        return first_rule(code) if lang == "cf" else code  # a rule is one expression: what follows is noise

    def _order(self, prompt: str, candidates: list[Candidate], lang: str, k: int) -> None:
        """``_rank``, then, for a prompt that asks to show something, those that only read before
        those that delete, overwrite or kill (core.effects.reads_first); where all of them would,
        the read-only part of the first one (``kill -9 $(lsof -t -i:3000)`` -> ``lsof -t -i:3000``)
        takes first place (and the k-th goes)."""
        self._rank(candidates, prompt if lang == "bash" else None)
        candidates[:] = [candidates[i] for i in reads_first(prompt, [c.effects for c in candidates])]
        if lang == "bash" and candidates and asks_to_show(prompt) and \
                all(destructive(c.effects, DEMOTED) for c in candidates):
            first = candidates[0]
            reading = read_only_version(first.code)
            if reading and reading not in {c.code for c in candidates}:
                candidates[:] = [Candidate(reading, first.score, syntax_valid(reading, lang), code_warnings(reading, lang),
                                           code_effects(reading, lang),
                                           origin=f"the read-only part of {first.origin or 'the first'}")
                                 ] + candidates[: k - 1]

    @staticmethod
    def _in_rank_order(candidates: list[Candidate]) -> None:
        for cand, shown in zip(candidates, in_rank_order([c.confidence for c in candidates])):
            cand.confidence = shown

    def _rank(self, candidates: list[Candidate], prompt: str | None = None) -> None:
        """With ``valid_first``, those that parse first, in place; given the ``prompt`` (Bash), then
        those that hold more of the values it gives (core.retrieval.values.missing_values: `od -t c
        /system/text1.txt` before `ascii -s tpasswd` for "Dump "/system/text1.txt" as ASCII"), a
        find test that points the other way than the prompt's comparison counting as a value
        missing (values.contradictions: `-size -100M` for "larger than 100MB").
        Stable, so each group keeps its order (the examples', the scores', first draws before later ones)."""
        missing = {c.code: missing_values(prompt, c.code) + contradictions(prompt, c.code)
                   for c in candidates} if prompt else {}
        candidates.sort(key=lambda c: (self.valid_first and not c.valid, missing.get(c.code, 0)))

    def _results(self, prompts, lits, lang, k, rows, scores, seconds: dict[str, float], steps: int,
                 found=None, example_lits: list[Literals] | None = None) -> Iterator[Result]:
        """Ranked, de-duplicated candidates per prompt; timings per prompt in ms. A retrieval
        model's candidates keep the order of the examples they edit (retrieval ranked better
        than the model's own score; docs/results.md), re-ordered as its examples were where the
        store has a lexicon for the language; others are ranked by score."""
        timings = {name: round(1000 * v / len(prompts), 2) for name, v in seconds.items()}
        lexicon = self.lexicon(lang) if found is not None else None
        for p, prompt in enumerate(prompts):
            best: dict[str, float] = {}
            edits: dict[str, int] = {}  # code -> the example its first draw edited
            for j in range(p * k, (p + 1) * k):
                code = self._final_text(rows[j], lits[p], lang, example_lits and example_lits[j])
                if SLOT.search(code):  # a placeholder with no value to put back is not code to show
                    continue
                if found is not None and found[p] and lang == "bash":
                    example = found[p][(j - p * k) % len(found[p])]
                    code = fill_example(kept_command(code, example, prompt), example, prompt)
                if code and scores[j] > best.get(code, float("-inf")):
                    best[code] = scores[j]
                    edits.setdefault(code, j - p * k)
            ranked = list(best.items()) if found is not None else sorted(best.items(), key=lambda kv: -kv[1])
            # Candidates keep the order of the examples they edit where one ranking ordered them
            # (and in Python and CF, whose weights were chosen for the examples only).
            if lexicon is not None and self.reorder_candidates and len(ranked) > 1 and lang == "bash" and \
                    not getattr(found[p], "ranked", False):
                from core.retrieval.rerank import CANDIDATE_WEIGHTS

                mine = [i for i, (c, _) in enumerate(ranked)
                        if found[p] and edits[c] % len(found[p]) < getattr(found[p], "pinned", 0)]
                ranked = [ranked[j] for j in lexicon.order(prompt, [c for c, _ in ranked], CANDIDATE_WEIGHTS, mine)]
            if lang == "bash" and self.placeholders and found is not None and found[p]:
                ranked = self._placeholders(prompt, ranked, edits, found[p])
            source = {c: found[p][edits[c] % len(found[p])] if found is not None and found[p] else None
                      for c, _ in ranked}
            cands = [Candidate(c, round(s, 4), syntax_valid(c, lang), code_warnings(c, lang), code_effects(c, lang),
                               origin=origin(source[c], c, lang)) for c, s in ranked]
            shares = agreement([self._final_text(rows[j], lits[p], lang, example_lits and example_lits[j])
                                for j in range(p * k, (p + 1) * k)], lang)
            self._order(prompt, cands, lang, k)
            if found is not None and getattr(found[p], "swaps", None):  # a copied user row stays first
                copied = {c for c in edits if edits[c] % len(found[p]) in found[p].swaps}
                cands.sort(key=lambda c: c.code not in copied)
            first = next(iter(source.values()), None)  # the read-only part of a candidate: its example
            for i, cand in enumerate(cands):  # the calibration's inputs (not in the JSON: benchmarks/calibrate.py)
                cand.features = features(i, cand.score, source.get(cand.code, first), cand.code, prompt,
                                         shares.get(cand.code, 0.0))
                if self.calibration is not None:
                    cand.confidence = self.calibration.probability(lang, cand.features)
            self._in_rank_order(cands)
            examples = [] if found is None else [{"nl": e.nl, "code": e.code, "source": e.source} for e in found[p]]
            yield Result(prompt, lang, self.name, cands, {**timings, "steps": steps}, examples)

    @staticmethod
    def _placeholders(prompt: str, ranked: list, edits: dict[str, int], found) -> list:
        """The ranked candidates with the values left over from the examples they edit shown as
        placeholders (after ranking, which reads the values as written); one that becomes an
        earlier one goes. A user's row copied as it stands keeps its values."""
        from core.retrieval.placeholders import leftover_placeholders

        out, seen = [], set()
        for code, score in ranked:
            e = edits[code] % len(found)
            if e not in getattr(found, "swaps", {}):
                shown = leftover_placeholders(code, prompt, found[e].nl, found[e].code)
                edits.setdefault(shown, edits[code])  # what it edits, for its origin
                code = shown
            if code not in seen:
                seen.add(code)
                out.append((code, score))
        return out

    def generate_batch(self, prompts: Sequence[str], **kw) -> list[Result]:
        return [e for e in self.stream(prompts, **kw) if isinstance(e, Result)]

    def generate(self, prompt: str, **kw) -> Result:
        return self.generate_batch([prompt], **kw)[0]


def _window(ranked: list, k: int, roll: int) -> list:
    """The k examples a roll edits: the first k for roll 0; for roll r the k after the first r*k
    (wrapping round a pool too short to hold them)."""
    if not ranked or roll == 0:
        return ranked[:k]
    start = (roll * k) % len(ranked)
    return (ranked[start:] + ranked[:start])[:k]


def _novel(ranked: list, lang: str) -> list:
    """The first example of each template (core.confidence.draw_key), in order."""
    from core.confidence import draw_key

    seen, out = set(), []
    for e in ranked:
        key = draw_key(e.code, lang)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out
