"""Where the model runs: the device, its precision, autocast, and where noise is drawn.

Shared by generation (core/generate.py), the schedule's samplers (core/diffusion/schedule.py)
and training (core/train/trainer.py); it imports nothing else of core's but its errors.
"""

from __future__ import annotations

import contextlib

import torch

from core.errors import CFError


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
    emulate it, slower than fp32), and on CPUs with AMX bf16 tiles; else fp32. AVX512-BF16 alone
    is no sign: `python benchmarks/train_speed.py --preset small` measured bf16 at 1.28x the
    examples/s of fp32 (both with the allocator tuning) on an AMD EPYC (2026-11-23) and at 0.63x on
    an Intel Xeon without AMX (2026-12-07); `--precision bf16` asks for it."""
    if name not in ("auto", "fp32", "bf16"):
        raise CFError(f"unknown precision {name!r}; use auto, fp32 or bf16")
    if name != "auto":
        return name
    if device.type == "cuda":
        # (of the current device: pick_device or DDP has set it)
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()  # absent in older torch: fp32
    return "bf16" if capabilities.get("amx_bf16") else "fp32"


def autocast(precision: str, device: torch.device, training: bool = False):
    """bf16 autocast for ``precision`` "bf16", else nothing. A fresh context per call: autocast
    state is per thread, so never hold one open around a yield."""
    if precision != "bf16":
        return contextlib.nullcontext()
    if training and device.type == "cpu":
        # The CPU flash-attention kernel's bf16 backward is slower than the plain math one.
        from torch.nn.attention import SDPBackend, sdpa_kernel

        stack = contextlib.ExitStack()
        stack.enter_context(sdpa_kernel(SDPBackend.MATH))
        stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
        return stack
    return torch.autocast(device.type, dtype=torch.bfloat16)


def randn(shape, generator: torch.Generator | None, device: torch.device, dtype=torch.float32) -> torch.Tensor:
    """Standard normal noise for ``device``, drawn where ``generator`` lives and copied over.

    Start noise comes from a CPU generator, so a seed starts every device alike (and gives the same
    candidates, up to rounding, with the deterministic samplers). A CPU draw for a CUDA tensor goes
    through pinned memory, so the copy does not block."""
    device = torch.device(device)
    where = device if generator is None or generator.device.type == device.type else generator.device
    pinned = device.type == "cuda" and where.type == "cpu"
    noise = torch.randn(shape, generator=generator, dtype=dtype, device=where, pin_memory=pinned)
    return noise.to(device, non_blocking=pinned)


def generator_on(device: torch.device, seeded_like: torch.Generator) -> torch.Generator:
    """A generator on ``device`` for the noise a sampler adds at every step (DDPM, eta > 0): drawn
    on the CPU it took 0.6 ms a step for the paper preset's 5 candidates and 9.7 ms for an eval
    batch of 80 (2 shared cores, 2026-12-03), plus a blocking copy a GPU would wait for. On the
    plain CPU device it is ``seeded_like`` itself, so CPU runs keep one random stream."""
    if torch.device(device) == torch.device("cpu"):
        return seeded_like
    return torch.Generator(device).manual_seed(seeded_like.initial_seed())
