"""The sqrt noise schedule (Diffusion-LM; paper section 4.2) and its samplers, diffusers style.

``set_timesteps(n)`` picks n of the T training steps; ``step`` takes the model's predicted
clean sample x̂0 and returns both the previous sample and x̂0, so a UI can show the code as
it forms. With n == T and eta == 1 it is the paper's full DDPM ancestral sampler; with fewer
steps it is DDIM over the respaced subset (eta == 0: deterministic given the start noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.device import randn


def sqrt_alpha_bar(s: float, offset: float = 1e-4) -> float:
    """ᾱ as a function of s = t/T in [0, 1]: 1 - sqrt(s + offset) (Li et al. 2022)."""
    return 1.0 - math.sqrt(s + offset)


def sqrt_betas(num_steps: int, max_beta: float = 0.999) -> torch.Tensor:
    betas = [
        min(1.0 - sqrt_alpha_bar((i + 1) / num_steps) / sqrt_alpha_bar(i / num_steps), max_beta)
        for i in range(num_steps)
    ]
    return torch.tensor(betas, dtype=torch.float64, device="cpu")  # cpu even under a meta-device build


@dataclass
class SchedulerOutput:
    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


class SqrtDiffusionScheduler:
    def __init__(self, num_train_timesteps: int = 1200):
        self.num_train_timesteps = num_train_timesteps
        self.betas = sqrt_betas(num_train_timesteps)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1, device="cpu")
        self._table: torch.Tensor | None = None  # alphas_cumprod where the model is

    def table(self, device: torch.device) -> torch.Tensor:
        """alphas_cumprod on ``device``: copied there once, not at every training step."""
        table = self._table
        if table is None or table.device != device:
            table = self._table = self.alphas_cumprod.to(device)
        return table

    # -- training --------------------------------------------------------------------------
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """q(x_t | x_0) = N(sqrt(ᾱ_t) x_0, (1 - ᾱ_t) I); t holds one step index per row."""
        ab = self.table(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise

    def eps_from_x0(self, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.table(x_t.device)[t].to(x_t.dtype).view(-1, *([1] * (x_t.dim() - 1)))
        return (x_t - ab.sqrt() * x0) / (1.0 - ab).sqrt()

    # -- sampling --------------------------------------------------------------------------
    def set_timesteps(self, num_inference_steps: int, start: int | None = None) -> None:
        """Evenly spaced from ``start`` (default: the noisiest step T-1; lower for a sample that
        starts from a noised example, as diffusers' img2img ``strength``) down to 0."""
        T = self.num_train_timesteps
        start = T - 1 if start is None else start
        if not 0 <= start <= T - 1:
            raise ValueError(f"start must be between 0 and {T - 1}, got {start}")
        if not 1 <= num_inference_steps <= start + 1:
            raise ValueError(f"steps must be between 1 and {start + 1}, got {num_inference_steps}")
        ts = torch.linspace(start, 0, num_inference_steps).round().long()
        self.timesteps = torch.unique_consecutive(ts)

    def narrow(self, length: int, dim: int = 1) -> None:
        """The sampler goes on over the first ``length`` positions along ``dim`` (the sequence):
        cut any state kept from earlier steps to match. DDIM keeps none."""

    def default_eta(self) -> float:
        return 1.0 if len(self.timesteps) == self.num_train_timesteps else 0.0

    def previous_timestep(self, t: int) -> int:
        idx = (self.timesteps == t).nonzero()
        if len(idx) == 0:
            raise ValueError(f"timestep {t} is not in the current schedule")
        i = int(idx[0]) + 1
        return int(self.timesteps[i]) if i < len(self.timesteps) else -1

    def step(
        self,
        pred_original_sample: torch.Tensor,
        timestep: int,
        sample: torch.Tensor,
        eta: float | None = None,
        generator: torch.Generator | None = None,
    ) -> SchedulerOutput:
        """One reverse step from x_t to x_prev given the model's x̂0 (DDIM, Song et al. 2021)."""
        eta = self.default_eta() if eta is None else eta
        prev_t = self.previous_timestep(timestep)
        ab_t = float(self.alphas_cumprod[timestep])
        ab_prev = float(self.alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0
        x0 = pred_original_sample
        eps = (sample - math.sqrt(ab_t) * x0) / math.sqrt(1.0 - ab_t)
        sigma = eta * math.sqrt((1.0 - ab_prev) / (1.0 - ab_t)) * math.sqrt(1.0 - ab_t / ab_prev)
        prev = math.sqrt(ab_prev) * x0 + math.sqrt(max(1.0 - ab_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            prev = prev + sigma * randn(sample.shape, generator, sample.device, sample.dtype)
        return SchedulerOutput(prev_sample=prev, pred_original_sample=x0)


class DPMSolverPlusPlusScheduler(SqrtDiffusionScheduler):
    """DPM-Solver++(2M) (Lu et al. 2022) over the same sqrt schedule: a second-order multistep
    solver of the probability-flow ODE in the data-prediction form, which is what our
    denoiser outputs. Deterministic; remembers the previous x̂0, so use one instance per
    sampling run (``set_timesteps`` resets it). With a denoiser that always predicts the same
    x̂0 it follows the exact ODE path (tests/test_schedule.py)."""

    def set_timesteps(self, num_inference_steps: int, start: int | None = None) -> None:
        super().set_timesteps(num_inference_steps, start)
        self._prev: tuple[torch.Tensor, float] | None = None  # (x̂0, λ) of the previous step

    def narrow(self, length: int, dim: int = 1) -> None:
        if getattr(self, "_prev", None) is not None:
            x0_last, lam_last = self._prev
            self._prev = (x0_last.narrow(dim, 0, length), lam_last)

    def _lambda(self, t: int) -> float:
        ab = float(self.alphas_cumprod[t])
        return 0.5 * math.log(ab / (1.0 - ab))  # log(α_t / σ_t)

    def step(
        self,
        pred_original_sample: torch.Tensor,
        timestep: int,
        sample: torch.Tensor,
        eta: float | None = None,
        generator: torch.Generator | None = None,
    ) -> SchedulerOutput:
        x0 = pred_original_sample
        prev_t = self.previous_timestep(timestep)
        if prev_t < 0:  # σ = 0 at the clean end: the ODE's solution there is x̂0 itself
            self._prev = None
            return SchedulerOutput(prev_sample=x0, pred_original_sample=x0)
        ab_s, ab_t = float(self.alphas_cumprod[timestep]), float(self.alphas_cumprod[prev_t])
        lam_s, lam_t = self._lambda(timestep), self._lambda(prev_t)
        h = lam_t - lam_s
        d = x0
        prev = getattr(self, "_prev", None)
        if prev is not None:  # second order: extrapolate x̂0 with the previous step's slope
            x0_last, lam_last = prev
            r = (lam_s - lam_last) / h
            d = x0 + (x0 - x0_last) / (2.0 * r)
        self._prev = (x0, lam_s)
        sigma_ratio = math.sqrt((1.0 - ab_t) / (1.0 - ab_s))
        out = sigma_ratio * sample + math.sqrt(ab_t) * (1.0 - math.exp(-h)) * d
        return SchedulerOutput(prev_sample=out, pred_original_sample=x0)


SAMPLERS = {"ddim": SqrtDiffusionScheduler, "dpm++": DPMSolverPlusPlusScheduler}


def make_scheduler(name: str, num_train_timesteps: int) -> SqrtDiffusionScheduler:
    """``ddim``: respaced DDIM (DDPM ancestral when steps = T, as in the paper); ``dpm++``:
    DPM-Solver++(2M)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of: {', '.join(SAMPLERS)}")
    return SAMPLERS[name](num_train_timesteps)
