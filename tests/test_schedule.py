import math

import pytest
import torch

from core.diffusion import SqrtDiffusionScheduler, make_scheduler, sqrt_alpha_bar


def test_sqrt_schedule_values():
    s = SqrtDiffusionScheduler(1200)
    ab = s.alphas_cumprod
    assert len(ab) == 1200
    # ᾱ_0 is the ratio ᾱ(1/T)/ᾱ(0) of the continuous schedule 1 - sqrt(t/T + 1e-4)
    assert float(ab[0]) == pytest.approx((1 - math.sqrt(1 / 1200 + 1e-4)) / (1 - math.sqrt(1e-4)), rel=1e-9)
    assert float(ab[599]) == pytest.approx(sqrt_alpha_bar(600 / 1200) / sqrt_alpha_bar(0), rel=1e-6)
    assert torch.all(ab[1:] < ab[:-1]) and 0 < float(ab[-1]) < 1e-3
    # the sqrt schedule adds noise fast early: a third of the signal variance is gone by t = T/10
    assert 0.6 < float(ab[119]) < 0.72


def test_add_noise_and_eps_roundtrip():
    s = SqrtDiffusionScheduler(100)
    x0, noise = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(3, 4, 5, dtype=torch.float64)
    t = torch.tensor([0, 50, 99])
    xt = s.add_noise(x0, noise, t)
    ab = s.alphas_cumprod[50]
    assert torch.allclose(xt[1], ab.sqrt() * x0[1] + (1 - ab).sqrt() * noise[1])
    assert torch.allclose(s.eps_from_x0(xt, x0, t), noise)


def test_set_timesteps():
    s = SqrtDiffusionScheduler(1200)
    s.set_timesteps(1200)
    assert s.timesteps.tolist() == list(range(1199, -1, -1))
    s.set_timesteps(5)
    assert s.timesteps.tolist() == [1199, 899, 600, 300, 0]
    with pytest.raises(ValueError):
        s.set_timesteps(0)


def test_full_schedule_step_is_the_ddpm_posterior():
    """With every step and eta=1 the respaced sampler is the paper's DDPM ancestral step."""
    s = SqrtDiffusionScheduler(50)
    s.set_timesteps(50)
    x0, xt = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    t = 30
    a_t, ab_t, ab_prev = 1 - s.betas[t], s.alphas_cumprod[t], s.alphas_cumprod[t - 1]
    mean = (ab_prev.sqrt() * s.betas[t] / (1 - ab_t)) * x0 + (a_t.sqrt() * (1 - ab_prev) / (1 - ab_t)) * xt
    var = s.betas[t] * (1 - ab_prev) / (1 - ab_t)
    draws = torch.stack([s.step(x0, t, xt, eta=1.0, generator=torch.Generator().manual_seed(i)).prev_sample
                         for i in range(4000)])
    assert torch.allclose(draws.mean(0), mean, atol=4 * var.sqrt().item() / math.sqrt(4000) * 3)
    assert torch.allclose(draws.var(0), var.expand(2, 3), rtol=0.1)
    # eta=0 is deterministic and lands exactly on the posterior mean's DDIM counterpart
    out = s.step(x0, t, xt, eta=0.0)
    eps = (xt - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
    assert torch.allclose(out.prev_sample, ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps)
    assert out.pred_original_sample is x0


def test_last_step_returns_the_clean_prediction():
    s = SqrtDiffusionScheduler(1200)
    s.set_timesteps(10)
    x0, xt = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.allclose(s.step(x0, 0, xt).prev_sample, x0)


def test_respaced_sampler_with_every_step_is_the_full_one():
    full, respaced = SqrtDiffusionScheduler(1200), SqrtDiffusionScheduler(1200)
    respaced.set_timesteps(1200)
    assert torch.equal(respaced.timesteps, full.timesteps) and respaced.default_eta() == 1.0
    respaced.set_timesteps(50)
    assert respaced.default_eta() == 0.0 and len(respaced.timesteps) == 50


@pytest.mark.parametrize("name", ["ddim", "dpm++"])
@pytest.mark.parametrize("steps", [1, 2, 7, 40])
def test_deterministic_samplers_follow_the_exact_path_for_a_perfect_denoiser(name, steps):
    """A denoiser that always predicts the true x0: every x_t on the way must be exactly
    sqrt(ab_t) x0 + sqrt(1 - ab_t) eps for the starting eps (the ODE's solution), ending at x0.
    A wrong coefficient in either solver leaves this path."""
    s = make_scheduler(name, 1200)
    s.set_timesteps(steps)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 5, generator=g, dtype=torch.float64), torch.randn(3, 5, generator=g, dtype=torch.float64)
    T = int(s.timesteps[0])
    x = s.alphas_cumprod[T].sqrt() * x0 + (1 - s.alphas_cumprod[T]).sqrt() * eps
    for t in s.timesteps.tolist():
        x = s.step(x0, t, x, eta=0.0).prev_sample
        prev = s.previous_timestep(t)
        if prev >= 0:
            ab = s.alphas_cumprod[prev]
            assert torch.allclose(x, ab.sqrt() * x0 + (1 - ab).sqrt() * eps, atol=1e-9)
    assert torch.allclose(x, x0)


def test_dpm_solver_second_order_uses_the_previous_prediction():
    """Two steps with different x̂0: the second must differ from the first-order (DDIM) update."""
    dpm, ddim = make_scheduler("dpm++", 1200), make_scheduler("ddim", 1200)
    for s in (dpm, ddim):
        s.set_timesteps(10)
    t0, t1 = dpm.timesteps[:2].tolist()
    x, a, b = torch.randn(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    x1 = dpm.step(a, t0, x).prev_sample
    assert torch.allclose(x1, ddim.step(a, t0, x, eta=0.0).prev_sample)  # first step: first order
    assert not torch.allclose(dpm.step(b, t1, x1).prev_sample, ddim.step(b, t1, x1, eta=0.0).prev_sample)
    with pytest.raises(ValueError):
        make_scheduler("euler", 1200)


@pytest.mark.parametrize("name", ["ddim", "dpm++"])
def test_narrowing_the_sampler_is_stepping_the_full_sample_then_cutting(name):
    """Length buckets cut the sequence mid-run: the solvers are position-wise, so stepping the cut
    sample (with the kept state cut by ``narrow``) equals stepping the full one and cutting."""
    full, cut = make_scheduler(name, 1200), make_scheduler(name, 1200)
    for s in (full, cut):
        s.set_timesteps(6)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 16, 4, generator=gen, dtype=torch.float64)
    x_cut = x.clone()
    for i, t in enumerate(full.timesteps.tolist()):
        x0 = torch.randn(3, 16, 4, generator=gen, dtype=torch.float64)
        x = full.step(x0, t, x, eta=0.0).prev_sample
        if i == 2:
            cut.narrow(8)
            x_cut = x_cut[:, :8]
        x_cut = cut.step(x0[:, : x_cut.shape[1]], t, x_cut, eta=0.0).prev_sample
        assert torch.allclose(x_cut, x[:, : x_cut.shape[1]])
    assert x_cut.shape[1] == 8
