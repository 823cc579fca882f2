"""The picker's widgets: a candidate row (rain while denoising, then the ranked candidate with
its score, validity and warnings; an Input while being edited)."""

from __future__ import annotations

import random

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from cfcli.tui.rain import MATRIX, MONOCHROME, changed_positions, rain_text, thresholds

RAIN_WIDTH_FALLBACK = 60  # before the first layout gives the row a size


class TextView(Widget):
    """Shows a Rich Text or Textual Content. Unlike Static.update, ``show`` repaints without a
    new layout unless asked: the rain redraws five rows twelve times a second, and in a profile
    the layout pass of every Static.update took most of the UI thread's time."""

    DEFAULT_CSS = "TextView { height: auto; }"

    def __init__(self, text: Text | Content | str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._text = text

    def show(self, text: Text | Content | str, layout: bool = False) -> None:
        self._text = text
        self.refresh(layout=layout)

    def render(self) -> Text | Content | str:
        return self._text


class CodeEditor(Input):
    """A row's code being edited. Its own, shown Enter and Esc: the Input's are hidden, and with
    the picker's keys blocked while typing the footer went blank."""

    BINDINGS = [Binding("enter", "submit", "Accept"), Binding("escape", "discard", "Discard edit")]

    class Discarded(Message):
        def __init__(self, editor: "CodeEditor") -> None:
            super().__init__()
            self.editor = editor

    def action_discard(self) -> None:
        self.post_message(self.Discarded(self))


class CandidateRow(Widget):
    """Row ``index`` (0-based). States: raining (``candidate`` None), final, editing."""

    class EditDone(Message):
        """The user pressed Enter in the row's Input."""

        def __init__(self, row: "CandidateRow", code: str) -> None:
            super().__init__()
            self.row, self.code = row, code

    def __init__(self, index: int) -> None:
        super().__init__(id=f"row-{index + 1}")
        self.index = index
        self.text = ""  # the latest predicted (or final) code
        self.candidate = None  # core.generate.Candidate once the sampler ended
        self.progress = 0.0
        self._changed: frozenset[int] = frozenset()
        self._rng = random.Random(index)
        self._thresholds: list[float] = []

    def compose(self) -> ComposeResult:
        yield Static(str(self.index + 1), classes="number")
        with Vertical(classes="body"):
            yield TextView(classes="code")
            yield TextView(classes="meta")

    # -- states ---------------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        """Back to pure noise for a new run."""
        self._rng = random.Random(seed * 31 + self.index)
        self._thresholds = []
        self.text, self.candidate, self.progress, self._changed = "", None, 0.0, frozenset()
        self.display = True
        self.remove_class("-final", "-warned")
        self.query_one(".meta", TextView).show("", layout=True)
        self.rain()

    def show_step(self, code: str, progress: float) -> None:
        """Take a step's code; drawn with the next frame, which highlights all changes since the last."""
        self._changed |= changed_positions(self.text, code)
        self.text, self.progress = code, progress

    def rain(self) -> None:
        """Draw a frame (also between steps, so that slow models still animate)."""
        if self.candidate is not None:
            return
        code_view = self.query_one(".code", TextView)
        width = code_view.content_size.width or RAIN_WIDTH_FALLBACK
        if len(self._thresholds) < width:
            self._thresholds += thresholds(width - len(self._thresholds), self._rng)
        palette = MONOCHROME if self.app.no_color else MATRIX
        code_view.show(rain_text(self.text, self.progress, width, self._thresholds, self._changed, self._rng,
                                 palette))
        self._changed = frozenset()

    def show_candidate(self, candidate) -> None:
        self.candidate, self.text = candidate, candidate.code
        self.add_class("-final")
        from core.effects import destructive  # after the model's answer: not on the picker's start-up path

        self.set_class(bool(candidate.warnings) or destructive(getattr(candidate, "effects", None) or []), "-warned")
        self.query_one(".code", TextView).show(Text(candidate.code, style="bold"), layout=True)
        self.query_one(".meta", TextView).show(meta_text(candidate), layout=True)

    # -- editing --------------------------------------------------------------------------

    @property
    def editing(self) -> bool:
        return bool(self.query(CodeEditor))

    def start_edit(self) -> None:
        if self.editing:
            return
        self.query_one(".code").display = False
        editor = CodeEditor(self.text, classes="editor", select_on_focus=False)
        self.query_one(".body").mount(editor, before=0)
        editor.focus()

    def stop_edit(self) -> None:
        for editor in self.query(CodeEditor):
            editor.remove()
        self.query_one(".code").display = True

    def on_code_editor_discarded(self, event: CodeEditor.Discarded) -> None:
        event.stop()
        changed = event.editor.value != self.text
        self.stop_edit()
        if changed:  # Esc used to drop the typing without a word
            self.notify("Edit discarded", timeout=3)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.EditDone(self, event.value))


def meta_text(candidate) -> Text:
    """'72% · edited from NL2Bash  ✓ valid  ⚠ kills the processes lsof lists' under a final
    candidate: its calibrated confidence (core/confidence.py; the raw score only where the model
    has no calibration), where it came from, validity, then what it would delete, overwrite,
    kill or send, and its danger warnings."""
    confidence = getattr(candidate, "confidence", None)
    if confidence is not None:
        text = Text.assemble((f"{round(100 * confidence)}%", "bold"), (" likely right", "dim"))
    else:
        text = Text.assemble(("score ", "dim"), (f"{candidate.score:.2f}", ""))
    if getattr(candidate, "origin", ""):
        text.append(f" · {candidate.origin}", "dim")
    text.append("  ")
    text.append("✓ valid" if candidate.valid else "✗ does not parse", "green" if candidate.valid else "red")
    for effect in getattr(candidate, "effects", None) or []:
        if effect not in candidate.warnings:
            text.append("  ⚠ " + effect, "yellow")
    for warning in candidate.warnings:
        text.append("  ⚠ " + warning, "bold yellow")
    return text
