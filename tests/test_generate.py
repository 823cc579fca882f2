import pytest
import torch

from core.config import preset
from core.errors import CFError
from core.generate import Cancelled, Pipeline, Result, Step
from core.model import CodeFusion
from core.tokenizer import CodeTokenizer


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return Pipeline(CodeFusion(preset("tiny")), CodeTokenizer(), name="untrained")


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


def test_bad_arguments(pipe):
    with pytest.raises(CFError):
        pipe.generate("   ")
    with pytest.raises(CFError):
        pipe.generate("x", steps=5000)
