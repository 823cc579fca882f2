"""What ``Pipeline.stream`` yields and raises, without torch: the client of ``cf serve`` and the
picker read these from JSON, in processes that must start fast (core.generate imports torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


class Cancelled(Exception):
    """Raised from the iterator when the cancel callback returned True (checked between steps)."""


@dataclass
class Candidate:
    code: str
    score: float  # mean log-probability of the chosen tokens (through the first pad)
    valid: bool = True  # parses as the target language (bashlex / ast / the CF rule parser)
    warnings: list[str] = field(default_factory=list)  # what is dangerous about it (core.safety)


@dataclass
class Result:
    prompt: str
    lang: str
    model: str
    candidates: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)
    # A retrieval model's retrieved examples, nearest first ({"nl", "code", "source"}): candidate
    # i was sampled from example i (the candidates are the model's, never these codes as such).
    examples: list[dict] = field(default_factory=list)
    # Set when fewer distinct candidates than asked exist, saying so (absent from the JSON otherwise).
    note: str = ""

    def to_json(self) -> dict:
        out = asdict(self)
        if not self.note:
            del out["note"]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Result":
        """The inverse of ``to_json`` (what `cf serve` sends)."""
        candidates = [Candidate(**c) for c in data["candidates"]]
        return cls(**{**data, "candidates": candidates})


@dataclass
class Step:
    index: int  # 1-based
    total: int
    timestep: int
    # texts[p][j]: candidate j of prompt p decoded from this step's x̂0; None when not previewed.
    texts: list[list[str]] | None = None
