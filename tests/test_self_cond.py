"""Self-conditioning (ModelConfig.self_cond): the denoiser also reads its previous x̂0."""

import torch

from core.checkpoint import init_weights_from, load_model
from core.config import ModelConfig, preset
from core.generate import Pipeline
from core.model import CodeFusion, build_model
from tests.conftest import cf
from tests.test_model import batch


def test_training_mixes_first_guesses_and_conditioned_ones():
    torch.manual_seed(0)
    m = CodeFusion(preset("tiny", self_cond=True)).train()
    w = m.denoiser.self_cond.weight
    assert torch.count_nonzero(w) == 0  # adds nothing until trained
    code, prompt, mask = batch(m)
    # The input weight gets a gradient only in the batches that condition on a first guess (the
    # others pass zeros): about half of them.
    conditioned = 0
    for seed in range(20):
        torch.manual_seed(seed)
        m.zero_grad()
        m(code, prompt, mask).loss.backward()
        conditioned += bool(w.grad.abs().sum() > 0)
    assert 4 <= conditioned <= 16


def test_a_model_warm_started_without_it_generates_exactly_as_before(tiny_model):
    before = Pipeline.from_pretrained(tiny_model, precision="fp32")
    src, tok, _ = load_model(tiny_model)
    m = build_model(ModelConfig.from_dict({**src.cfg.to_dict(), "self_cond": True}))
    init_weights_from(m, tok, tiny_model)
    after = Pipeline(m, tok, precision="fp32")
    for prompt in ("remove directory tree", "count lines in all python files"):
        a, b = (p.generate(prompt, seed=3, steps=20) for p in (before, after))
        assert [c.code for c in a.candidates] == [c.code for c in b.candidates]


def test_the_sampler_feeds_back_its_raw_previous_prediction():
    torch.manual_seed(0)
    m = CodeFusion(preset("tiny", self_cond=True)).eval()
    torch.nn.init.normal_(m.denoiser.self_cond.weight, std=0.1)  # as if trained
    from core.tokenizer import CodeTokenizer

    calls = []
    denoise = m.denoise

    def spy(x_t, t, cross, x0_prev=None):
        out = denoise(x_t, t, cross, x0_prev)
        calls.append((x0_prev, out.clone()))
        return out

    m.denoise = spy
    pipe = Pipeline(m, CodeTokenizer(), precision="fp32", lang="bash")
    pipe.generate("list files", k=2, steps=6, seed=0, shrink=True)
    assert len(calls) == 6 and calls[0][0] is None
    for (_, prev_out), (fed, _) in zip(calls, calls[1:]):
        # the unclamped x̂0 of the step before, cut to the length the sampler goes on at
        assert torch.equal(fed, prev_out[:, : fed.shape[1]].float())


def test_cli_trains_it_and_refuses_to_drop_it(tmp_path, bash64):
    out = tmp_path / "sc"
    r = cf("train", "--preset", "tiny", "--train-file", str(bash64), "--out", str(out), "--max-steps", "2",
           "--self-cond", "--device", "cpu", "--no-progress")
    assert r.returncode == 0, r.stderr.decode()
    model, _, _ = load_model(out)
    assert model.cfg.self_cond and model.denoiser.self_cond is not None
    # Warm-starting a model without self-conditioning from it would silently drop a trained input.
    r = cf("train", "--preset", "tiny", "--train-file", str(bash64), "--out", str(tmp_path / "plain"),
           "--max-steps", "1", "--init-from", str(out), "--device", "cpu", "--no-progress")
    err = r.stderr.decode().strip()
    assert r.returncode != 0 and "--self-cond" in err and len(err.splitlines()) == 1, err
    r = cf("train", "--arch", "t5-ar", "--preset", "tiny", "--train-file", str(bash64), "--out",
           str(tmp_path / "ar"), "--self-cond", "--no-progress")
    assert r.returncode != 0 and "--self-cond" in r.stderr.decode() and b"Traceback" not in r.stderr
