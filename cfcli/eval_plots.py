"""`cf eval --plot DIR`: the paper's Fig. 2 and Fig. 6 for our model, as PNGs (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from core.errors import CFError


def require_matplotlib() -> None:
    """Fail before any generation when the optional plotting dependency is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CFError("--plot needs matplotlib: pip install 'codefusion[plot]'") from None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    from core.atomic import atomic_write_bytes

    atomic_write_bytes(path, lambda p: fig.savefig(p, format="png", dpi=120))
    _pyplot().close(fig)


def plot_refinement(edit_distance: Sequence[float], path: Path, title: str) -> None:
    """Fig. 2: mean normalised edit distance to the final code after each denoising step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.plot(range(1, len(edit_distance) + 1), edit_distance, marker="." if len(edit_distance) <= 60 else None)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("denoising step")
    ax.set_ylabel("normalised edit distance to the final code")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_quality_vs_steps(points: Sequence[dict], metric_label: str, path: Path, title: str) -> None:
    """Fig. 6: top-1 and top-5 of the language's main metric against the number of sampling steps."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    steps = [p["steps"] for p in points]
    for key, label in (("top1", "top-1"), ("top5", "top-5")):
        ax.plot(steps, [p[key] if p[key] is not None else float("nan") for p in points], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.set_xlabel("sampling steps")
    ax.set_ylabel(f"{metric_label} (%)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)
