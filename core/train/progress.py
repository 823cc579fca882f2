"""A rich progress bar for training: step, loss, examples/s and ETA (off when not wanted)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainProgress:
    def __init__(self, stage: str, total: int, start: int, enabled: bool = True):
        self.enabled = enabled
        self.progress = Progress(
            TextColumn(f"[bold]{stage}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[speed]:.1f} ex/s"),
            TimeRemainingColumn(), console=Console(file=sys.stderr), disable=not enabled,
        )
        self.task = self.progress.add_task(stage, total=total, completed=start, loss=float("nan"), speed=0.0)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(self, step: int, loss: float | None, speed: float) -> None:
        """``loss``: None keeps the one shown (the trainer reads it at logged steps only)."""
        self.progress.update(self.task, completed=step, speed=speed, **({} if loss is None else {"loss": loss}))
