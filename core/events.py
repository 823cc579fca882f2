"""What ``Pipeline.stream`` yields and raises, without torch: the client of ``cf serve`` and the
picker read these from JSON, in processes that must start fast (core.generate imports torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


def seed_roll(seed: int | None) -> int:
    """The roll a seed asks for (``Pipeline.stream``'s ``roll``): none given or 0, the best set;
    seed n, the n-th re-roll (so `cf generate --seed 1` shows what the picker's first `r` does)."""
    return abs(seed) if seed else 0


class Cancelled(Exception):
    """Raised from the iterator when the cancel callback returned True (checked between steps)."""


@dataclass
class Candidate:
    code: str
    # The model's own number, for research: mean log-probability of the chosen tokens (through the
    # first pad), plus the copy bias where a retrieval candidate kept its example's token.
    score: float
    valid: bool = True  # parses as the target language (bashlex / ast / the CF rule parser)
    warnings: list[str] = field(default_factory=list)  # what is dangerous about it (core.safety)
    effects: list[str] = field(default_factory=list)  # what it deletes, overwrites, kills, sends (core.effects)
    # The chance it is right, fit on held-out train prompts (core/confidence.py); None where the
    # model has no fit. Never above the one ranked before it, so the numbers read in rank order.
    confidence: float | None = None
    origin: str = ""  # where it came from: "your example", "tldr: tar", "edited from NL2Bash", "the model"


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
