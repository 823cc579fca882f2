import torch

from core.config import preset
from core.model import CodeFusion


def tiny(**kw):
    torch.manual_seed(0)
    return CodeFusion(preset("tiny", **kw)).eval()


def batch(m, b=3, s=7):
    g = torch.Generator().manual_seed(1)
    code = torch.randint(5, 1000, (b, m.cfg.code_len), generator=g)
    code[0, 10:] = 0  # pad after 10 tokens
    code[1, 3:] = 0
    prompt = torch.randint(5, 1000, (b, s), generator=g)
    mask = torch.ones(b, s, dtype=torch.long)
    mask[1, 4:] = 0
    return code, prompt, mask


def test_shapes():
    m = tiny()
    code, prompt, mask = batch(m)
    enc = m.encode(prompt, mask)
    assert enc.shape == (3, 7, m.cfg.d_model)
    dn, dc = m.cross(enc, mask)
    x = torch.randn(3, m.cfg.code_len, m.cfg.embed_dim)
    x0 = m.denoise(x, torch.tensor([0, 5, 1199]), dn)
    assert x0.shape == x.shape
    assert m.decode(x0, dc).shape == x.shape
    assert m.logits(m.decode(x0, dc)).shape == (3, m.cfg.code_len, m.cfg.vocab_size)


def test_prompt_padding_is_masked():
    m = tiny()
    code, prompt, mask = batch(m)
    x = torch.randn(3, m.cfg.code_len, m.cfg.embed_dim)
    t = torch.tensor([3, 3, 3])
    with torch.no_grad():
        a = m.denoise(x, t, m.cross(m.encode(prompt, mask), mask)[0])
        changed = prompt.clone()
        changed[1, 4:] = 777  # only masked positions of row 1
        b = m.denoise(x, t, m.cross(m.encode(changed, mask), mask)[0])
        changed[1, 0] = 778  # an attended position
        c = m.denoise(x, t, m.cross(m.encode(changed, mask), mask)[0])
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a[1], c[1], atol=1e-4)
    assert torch.allclose(a[0], c[0], atol=1e-5)  # rows do not leak into each other


def test_scored_positions_stop_after_first_pad():
    m = tiny()
    code = torch.tensor([[7, 8, 0, 9, 0], [0, 0, 0, 0, 0], [5, 6, 7, 8, 9]])
    assert m.scored_positions(code).tolist() == [
        [True, True, True, False, False], [True, False, False, False, False], [True] * 5]


def test_each_loss_term_matches_its_definition():
    m = tiny()
    code, prompt, mask = batch(m)
    t = torch.tensor([0, 600, 1199])
    noise = torch.randn(3, m.cfg.code_len, m.cfg.embed_dim)
    with torch.no_grad():
        out = m(code, prompt, mask, t=t, noise=noise)
        dn, dc = m.cross(m.encode(prompt, mask), mask)
        y = m.embed(code)
        x0_hat = m.denoise(m.scheduler.add_noise(y, noise, t), t, dn)
        d_s = m.decode(x0_hat, dc)
        keep = m.scored_positions(code)
        logp = m.logits(d_s).log_softmax(-1).gather(-1, code[..., None])[..., 0]
    assert torch.allclose(out.denoise, ((x0_hat - y) ** 2).mean(), rtol=1e-4)
    assert torch.allclose(out.decoder, ((d_s - y) ** 2).mean(), rtol=1e-4)
    assert torch.allclose(out.nll, -logp[keep].mean(), rtol=1e-4)
    assert torch.allclose(out.loss, out.denoise + out.decoder + out.nll)


def test_unconditional_rows_ignore_the_prompt():
    m = tiny()
    code, prompt, mask = batch(m)
    uncond = torch.tensor([True, False, False])
    t, noise = torch.tensor([100, 100, 100]), torch.randn(3, m.cfg.code_len, m.cfg.embed_dim)
    other = prompt.clone()
    other[0] = 999
    with torch.no_grad():
        torch.manual_seed(5)
        a = m(code[:1], prompt[:1], mask[:1], uncond[:1], t[:1], noise[:1])
        torch.manual_seed(5)
        b = m(code[:1], other[:1], mask[:1], uncond[:1], t[:1], noise[:1])
        torch.manual_seed(5)
        c = m(code[:1], other[:1], mask[:1], ~uncond[:1], t[:1], noise[:1])
    assert torch.equal(a.loss, b.loss)
    assert not torch.equal(a.loss, c.loss)


def test_loss_trains_every_part():
    m = tiny()
    m.train()
    code, prompt, mask = batch(m)
    m(code, prompt, mask).loss.backward()
    for name in ("encoder", "embed", "denoiser", "decoder", "head"):
        grads = [p.grad for n, p in m.named_parameters() if n.startswith(name) and p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name
