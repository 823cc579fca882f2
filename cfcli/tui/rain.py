"""The matrix rain of one candidate row: pure functions from (predicted code, progress) to a
Textual ``Content``, so the widget stays thin and the look is testable without a terminal.

Each cell of a row gets a fixed random threshold; a cell shows the code's character once the
denoising progress passes its threshold and a falling glyph until then, so the program emerges
from the noise everywhere at once, the way diffusion forms it (not left to right). Characters
that changed since the last frame are shown at once, bright, whatever their threshold.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import AbstractSet, Sequence

from textual.color import Color
from textual.content import Content, Span
from textual.style import Style

# Half-width katakana, digits and a few symbols: one cell each in every monospace terminal font.
GLYPHS = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ0123456789:.=*+<>|"


@dataclass(frozen=True)
class Palette:
    glyphs: tuple[Style, ...]  # the shades a streak of noise is drawn in
    settled: Style  # code that has emerged
    changed: Style  # code that changed since the last frame


# Textual styles built once: a rich style string would be parsed and converted on every frame.
MATRIX = Palette(
    glyphs=tuple(Style(foreground=Color.parse(c), bold=b) for c, b in (  # matrix greens, dim to bright
        ("#003b00", False), ("#008f11", False), ("#008f11", False), ("#00c82a", False), ("#9dff9d", True))),
    settled=Style(foreground=Color.parse("#00ff41")),
    changed=Style(foreground=Color.parse("#ffffff"), background=Color.parse("#005f1a"), bold=True),
)
# Under NO_COLOR: the same three kinds of cell told apart by attributes alone.
MONOCHROME = Palette(glyphs=(Style(dim=True),) * 3 + (Style(), Style(bold=True)), settled=Style(),
                     changed=Style(bold=True, reverse=True))
MAX_WIDTH = 100  # cells of rain per row: enough for the code, and drawing costs the sampler time


def thresholds(width: int, rng: random.Random) -> list[float]:
    """When each cell settles: uniform in [0, 1), fixed for a row's whole run."""
    return [rng.random() for _ in range(width)]


def changed_positions(previous: str, current: str) -> frozenset[int]:
    """Cells whose character differs from the previous frame (a longer or shorter text counts)."""
    return frozenset(i for i in range(max(len(previous), len(current)))
                     if i >= len(previous) or i >= len(current) or previous[i] != current[i])


def rain_text(code: str, progress: float, width: int, cell_thresholds: Sequence[float],
              changed: AbstractSet[int], rng: random.Random, palette: Palette = MATRIX) -> Content:
    """One frame of a row, ``width`` cells: code where settled or just changed, glyphs elsewhere.

    Cells of one style make one span: every span costs the renderer per frame, and the drawing
    shares the GIL with the sampler."""
    code = code.replace("\n", " ").replace("\t", " ")
    # progress ** 0.6 lets the code show through early: by mid-run two thirds of it is readable
    cutoff = max(0.0, min(1.0, progress)) ** 0.6
    chars: list[str] = []
    spans: list[Span] = []
    run_start, run_style, glyph_style = 0, None, None
    for i in range(min(width, max(MAX_WIDTH, len(code)))):
        char = code[i] if i < len(code) else " "
        if i in changed and i < len(code):
            style = palette.changed
        elif (cell_thresholds[i] if i < len(cell_thresholds) else 1.0) < cutoff:
            style = palette.settled
        else:
            if glyph_style is None or rng.random() < 0.3:  # glyphs come in streaks of a shade
                glyph_style = rng.choice(palette.glyphs)
            char, style = rng.choice(GLYPHS), glyph_style
        if style is not run_style:
            if run_style is not None:
                spans.append(Span(run_start, i, run_style))
            run_start, run_style = i, style
        chars.append(char)
    if run_style is not None:
        spans.append(Span(run_start, len(chars), run_style))
    return Content("".join(chars), spans)
