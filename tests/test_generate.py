import pytest
import torch

from core.config import preset
from core.errors import CFError
from core.generate import Cancelled, Pipeline, Result, Step, tidy_spaces
from core.metrics import syntax_valid
from core.model import CodeFusion
from core.tokenizer import CodeTokenizer


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    # fp32: int8's dynamic quantisation scales activations per batch, so with it a prompt's
    # candidates depend on what else is in the batch (test_batched_equals_single).
    return Pipeline(CodeFusion(preset("tiny")), CodeTokenizer(), name="untrained", precision="fp32")


def test_stream_yields_steps_then_results(pipe):
    events = list(pipe.stream(["list files", "remove a directory"], k=3, steps=4, seed=1, preview_every=2))
    steps = [e for e in events if isinstance(e, Step)]
    results = [e for e in events if isinstance(e, Result)]
    assert [s.index for s in steps] == [1, 2, 3, 4] and steps[0].timestep == 1199 and steps[-1].timestep == 0
    assert steps[0].texts is None and len(steps[1].texts) == 2 and len(steps[1].texts[0]) == 3
    assert [r.prompt for r in results] == ["list files", "remove a directory"]
    for r in results:
        assert 1 <= len(r.candidates) <= 3
        assert len({c.code for c in r.candidates}) == len(r.candidates)  # de-duplicated
        assert [c.score for c in r.candidates] == sorted((c.score for c in r.candidates), reverse=True)
        assert r.timings["total_ms"] > 0 and r.timings["steps"] == 4


def test_seed_makes_output_reproducible(pipe):
    a = pipe.generate("find all text files", k=5, steps=3, seed=42)
    b = pipe.generate("find all text files", k=5, steps=3, seed=42)
    c = pipe.generate("find all text files", k=5, steps=3, seed=43)
    assert a.candidates == b.candidates
    assert a.candidates != c.candidates


def test_batched_equals_single(pipe):
    """Generating prompts together gives each the same candidates as generating it alone."""
    both = pipe.generate_batch(["a b", "c d e"], k=2, steps=2, seed=7)
    alone = pipe.generate("a b", k=2, steps=2, seed=7)
    assert [c.code for c in both[0].candidates] == [c.code for c in alone.candidates]


def test_cancel_stops_between_steps(pipe):
    seen = []
    with pytest.raises(Cancelled):
        for e in pipe.stream("x", k=2, steps=10, seed=0, cancel=lambda: len(seen) >= 3):
            seen.append(e)
    assert len(seen) == 3


def test_cancel_stops_the_autoregressive_beam_search_within_a_position():
    import dataclasses

    from core.model import build_model

    torch.manual_seed(0)
    # A short code length keeps the untrained model's full-length searches quick.
    cfg = dataclasses.replace(preset("tiny"), arch="t5-ar", vocab_size=CodeTokenizer().vocab_size, code_len=12)
    ar = Pipeline(build_model(cfg), CodeTokenizer(), name="untrained-ar", precision="fp32")
    polls = []

    def cancel_at(n):
        return lambda: polls.append(1) or len(polls) > n

    with pytest.raises(Cancelled):
        ar.generate("remove directory tree", k=2, cancel=cancel_at(4))
    assert len(polls) == 5  # the poll before the search, then one per decoded position
    polls.clear()
    never = ar.generate("remove directory tree", k=2, cancel=cancel_at(10**6))
    assert len(polls) > 5  # an untrained model runs on for many positions
    assert [c.code for c in never.candidates] == [c.code for c in ar.generate("remove directory tree", k=2).candidates]


def test_bad_arguments(pipe):
    with pytest.raises(CFError):
        pipe.generate("   ")
    with pytest.raises(CFError):
        pipe.generate("x", steps=5000)


def test_early_stop_ends_when_tokens_settle(tiny_model, bash64):
    """On a prompt it learnt, the trained tiny model's rounded tokens settle long before 100
    steps; early stop then ends sampling, reports the steps it ran, and keeps the full run's top-1."""
    import json

    trained = Pipeline.from_pretrained(tiny_model)
    prompt = json.loads(bash64.read_text().splitlines()[5])["nl"]
    full = [e for e in trained.stream(prompt, k=5, steps=100, seed=3)]
    early = [e for e in trained.stream(prompt, k=5, steps=100, seed=3, early_stop=3)]
    steps = [e for e in early if isinstance(e, Step)]
    assert len([e for e in full if isinstance(e, Step)]) == 100
    assert 4 <= len(steps) < 100 and early[-1].timings["steps"] == len(steps)
    assert early[-1].candidates[0].code == full[-1].candidates[0].code
    with pytest.raises(CFError):
        trained.generate(prompt, early_stop=2, clamp=False)


def test_every_sampler_runs_and_unknown_ones_are_refused(pipe):
    for sampler in ("ddim", "dpm++"):
        r = pipe.generate("list files", k=2, steps=5, seed=0, sampler=sampler)
        assert r.timings["steps"] == 5 and r.candidates
    with pytest.raises(CFError, match="unknown sampler"):
        pipe.generate("list files", sampler="euler")


def test_nearest_rounding_recovers_tokens_from_their_embeddings(pipe):
    """Grounding (the paper's ablation): an embedding that is exactly L(v) rounds back to v."""
    ids = torch.randint(0, pipe.cfg.vocab_size, (2, pipe.cfg.code_len))
    x0 = pipe.model.embed(ids)
    tokens, _ = pipe._round(x0, None, "nearest")
    assert torch.equal(tokens, ids)
    for clamp in ("nearest", "none", "decoder"):
        r = pipe.generate("list files", k=2, steps=3, seed=0, clamp=clamp, rounding="nearest")
        assert r.timings["steps"] == 3
    with pytest.raises(CFError, match="clamp must be one of"):
        pipe.generate("list files", clamp="sometimes")


def test_shrunk_length_keeps_the_longest_code_and_a_margin():
    from core.generate import shrunk_length

    pad = 0
    rows = torch.ones(3, 64, dtype=torch.long)
    rows[:, 10:] = pad
    assert shrunk_length(rows, pad, bucket=16, margin=8) == 32  # 10 + 8 -> the next multiple of 16
    rows[1, 10:30] = 5  # one candidate is longer: it sets the length for the batch
    assert shrunk_length(rows, pad, bucket=16, margin=8) == 48
    rows[2, :] = 5  # one has no pad at all: nothing may be cut
    assert shrunk_length(rows, pad, bucket=16, margin=8) == 64
    assert shrunk_length(rows[:, :40], pad, bucket=16, margin=8) == 40  # never longer than now


def test_shrink_runs_the_denoiser_on_fewer_positions_and_keeps_what_it_learnt(tiny_model, bash64):
    """On the trained tiny model, length buckets cut the sequence once the rounded code shows its
    end, and the learnt prompts' top-1 stays as good as with the full length."""
    import json

    trained = Pipeline.from_pretrained(tiny_model, precision="fp32")
    from core.generate import LENGTH_BUCKET, LENGTH_MARGIN

    pairs = [json.loads(line) for line in bash64.read_text().splitlines()[:16]]
    prompts = [p["nl"] for p in pairs]
    # A prompt whose code ends early enough to leave a bucket to cut (the tiny code length is 32).
    shortest = min(pairs, key=lambda p: len(trained.tok.encode(p["code"])))
    assert len(trained.tok.encode(shortest["code"])) + LENGTH_MARGIN <= trained.cfg.code_len - LENGTH_BUCKET
    lengths = []  # of one sampling run each (fill=False: no second run to top up short lists)
    denoise = trained.model.denoise
    trained.model.denoise = lambda x, t, cross, prev=None: (lengths.append(x.shape[1]), denoise(x, t, cross, prev))[1]
    try:
        full = trained.generate_batch([shortest["nl"]], k=5, steps=10, seed=0, fill=False)
        assert set(lengths) == {trained.cfg.code_len}
        lengths.clear()
        short = trained.generate_batch([shortest["nl"]], k=5, steps=10, seed=0, shrink=True, fill=False)
        assert lengths[0] == trained.cfg.code_len and min(lengths) < trained.cfg.code_len
        assert lengths == sorted(lengths, reverse=True)  # cut, never grown back
        assert short[0].candidates[0].code == full[0].candidates[0].code
        lengths.clear()
        default = trained.generate_batch([shortest["nl"]], k=5, seed=0, fill=False)  # cf's default sampling shrinks
        assert min(lengths) < trained.cfg.code_len and default[0].candidates
        lengths.clear()
        trained.generate_batch([shortest["nl"]], k=5, seed=0, steps=10, fill=False)  # an explicit --steps runs it all
        assert set(lengths) == {trained.cfg.code_len}
        both = [trained.generate_batch(prompts, k=5, steps=10, seed=0, shrink=s) for s in (False, True)]
    finally:
        trained.model.denoise = denoise
    from core.metrics.exact import exact_match

    hits = [sum(exact_match(r.candidates[0].code, p["code"]) for r, p in zip(res, pairs)) for res in both]
    assert hits[1] >= hits[0] - 1 and hits[0] >= 12, hits
    with pytest.raises(CFError, match="shrink needs clamp"):
        trained.generate(prompts[0], shrink=True, clamp=False)


def test_cf_candidates_end_where_their_rule_does(pipe):
    # What the sampler decoded, as token rows: two say the same rule with noise after it.
    texts = ["GreaterThan(85))))", "GreaterThan(85)85)", "TextContains(", "LessThan(3) x"]
    rows = pipe.tok.pad_rows(pipe.tok.encode_batch(texts), 16)
    lits = pipe._literals(["p"])
    results = {lang: next(pipe._results(["p"], lits, lang, 4, rows, [-1.0, -0.5, -2.0, -3.0], {"total_ms": 1.0}, 1))
               for lang in ("cf", "bash")}
    assert [c.code for c in results["cf"].candidates] == ["GreaterThan(85)", "LessThan(3)", "TextContains("]  # parses first
    assert results["cf"].candidates[0].score == -0.5 and results["cf"].candidates[0].valid
    by_score = [texts[1], texts[0], texts[2], texts[3]]  # then those that parse first, stably
    assert [c.code for c in results["bash"].candidates] == sorted(by_score, key=lambda c: not syntax_valid(c, "bash"))


def test_compiled_pipeline_gives_the_eager_candidates(tiny_model):
    """torch.compile of the denoiser and decoder (cf eval/bench --compile) changes the speed,
    not the candidates: the same seeds give the same code, across the shapes that length
    buckets and a second batch size make."""
    eager = Pipeline.from_pretrained(tiny_model, precision="fp32")
    compiled = Pipeline.from_pretrained(tiny_model, precision="fp32", compile=True)
    assert compiled.compiled and not eager.compiled
    assert Pipeline.from_pretrained(tiny_model, compile=True).precision == "fp32"  # auto: not int8
    with pytest.raises(CFError, match="int8"):
        Pipeline.from_pretrained(tiny_model, precision="int8", compile=True)
    for prompts in (["list all files"], ["remove the directory tmp", "count lines in a file"]):
        a = eager.generate_batch(prompts, k=3, seed=5)  # cf's default sampling (length buckets)
        b = compiled.generate_batch(prompts, k=3, seed=5)
        assert [[c.code for c in r.candidates] for r in a] == [[c.code for c in r.candidates] for r in b]
        assert [c.score for r in a for c in r.candidates] == pytest.approx(
            [c.score for r in b for c in r.candidates], abs=1e-3)


@pytest.mark.parametrize("raw, tidy", [
    ("find    f", "find f"),
    ("echo 'a   b'  |  wc  ", "echo 'a   b' | wc"),  # quoted text as written
    ('echo "a \\"  b"   x', 'echo "a \\"  b" x'),  # an escaped quote does not end the string
    ("def f():\n    return  1  \n  x =  2", "def f():\n    return 1\n  x = 2"),  # indentation kept
    ("echo 'open   ", "echo 'open   "),  # an unclosed quote: the rest is left alone
])
def test_tidy_spaces(raw, tidy):
    assert tidy_spaces(raw) == tidy


def test_candidates_differing_only_in_spaces_are_one_candidate(pipe):
    """The denoiser's lone space tokens are tidied before de-duplication: two rows that decode to
    `find    f` and `find f` are one candidate, with the better score."""
    from core.data.literals import Literals

    rows = [pipe.tok.encode(code) for code in ("find    f", "find f", "ls  -l")]
    assert pipe.tok.decode(rows[0]) == "find    f"
    (result,) = pipe._results(["p"], [Literals("p")], "bash", 3, rows, [-0.5, -0.9, -0.7], {"total_ms": 0.0}, 1)
    assert [(c.code, c.score) for c in result.candidates] == [("find f", -0.5), ("ls -l", -0.7)]
