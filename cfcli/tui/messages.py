"""Messages the generation worker posts to the app (thread-safe: ``post_message``).

Each carries the run it belongs to, so that a re-roll can ignore what an older, cancelled run
still manages to post."""

from __future__ import annotations

from textual.message import Message


class RunMessage(Message):
    def __init__(self, run: int) -> None:
        super().__init__()
        self.run = run


class ModelReady(RunMessage):
    """The model is loaded; ``note`` says when the prompt was cut to the model's length."""

    def __init__(self, run: int, note: str = "") -> None:
        super().__init__(run)
        self.note = note


class Denoised(RunMessage):
    """One denoising step: ``texts[j]`` is candidate j decoded from this step's predicted x0."""

    def __init__(self, run: int, index: int, total: int, texts: list[str], rate: float) -> None:
        super().__init__(run)
        self.index, self.total, self.texts, self.rate = index, total, texts, rate  # rate: steps/s


class Finished(RunMessage):
    """The sampler ended: the ranked, de-duplicated candidates (``core.generate.Result``)."""

    def __init__(self, run: int, result) -> None:
        super().__init__(run)
        self.result = result


class Failed(RunMessage):
    def __init__(self, run: int, error: str) -> None:
        super().__init__(run)
        self.error = error
