"""`cf "PROMPT"`: denoise candidates live, as matrix rain, and pick one.

The app never touches stdout: Textual draws through stderr's terminal, and the caller prints
the accepted code after the app has exited (so ``x=$(cf "…")`` works)."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from cfcli.tui.help import HelpScreen
from cfcli.tui.loader import BackgroundLoad
from cfcli.tui.messages import Denoised, Failed, Finished, ModelReady
from cfcli.tui.widgets import CandidateRow, CodeEditor, TextView
from core.events import seed_roll

# One clock draws the rain; steps only update the rows' state. A frame costs the UI thread about
# as much as a step of the tiny model, and the UI shares the GIL and the cores with the sampler.
FPS = 12
# The smallest terminal that shows the prompt line, one candidate (code and score), the status line
# and the narrow footer (Accept, Help, Cancel); below it the picker shows only a short message.
MIN_WIDTH, MIN_HEIGHT = 30, 5
# Below this width the footer shows only Accept, Help and Cancel (the help lists every key).
ALL_KEYS_WIDTH = 56
# Below this height the prompt takes one line and the margins go.
ROOMY_HEIGHT = 16


@dataclass(frozen=True)
class PickRequest:
    prompt: str
    lang: str = "bash"
    top_k: int = 5
    steps: int | None = None
    seed: int | None = None
    model: str = ""  # shown in the header


def new_seed() -> int:
    return random.SystemRandom().randrange(2**31)


class Rows(VerticalScroll, can_focus=False):
    """The candidate rows; they scroll when the terminal is too short for all of them. Never
    focused: the arrows must reach the app's bindings, not scroll the container."""


class KeyFooter(Footer):
    """Textual's footer, with the keys a narrow terminal leaves to the help marked -secondary."""

    SECONDARY = {"edit", "reroll", "more", "copy"}

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if getattr(widget, "action", None) in self.SECONDARY:
                widget.add_class("-secondary")
            yield widget


class PickerApp(App[str]):
    """Returns the accepted code; None with return_code 1 when cancelled, 2 on an error (``error``)."""

    CSS_PATH = "picker.tcss"
    TITLE = "CodeFusion"
    ENABLE_COMMAND_PALETTE = False
    # Classes on the screen that picker.tcss lays the picker out by (-wide and -roomy only end
    # the ranges below them).
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_WIDTH, "-narrow"), (ALL_KEYS_WIDTH, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_HEIGHT, "-short"), (ROOMY_HEIGHT, "-roomy")]
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        *[Binding(str(n), f"select({n - 1})", f"Select {n}", show=False) for n in range(1, 10)],
        Binding("enter", "accept", "Accept"),
        Binding("e", "edit", "Edit"),
        Binding("r", "reroll", "Re-roll"),
        Binding("m", "more", "More"),
        Binding("c", "copy", "Copy"),
        Binding("question_mark", "help", "Help"),
        Binding("escape,q", "cancel", "Cancel"),
        Binding("ctrl+c", "cancel", "Cancel", show=False, priority=True),
    ]
    # What the keys may not do while a row is being edited (the Input takes the typing).
    EDIT_BLOCKS = {"move", "select", "accept", "edit", "reroll", "more", "copy", "help"}

    selected: reactive[int] = reactive(0)

    def __init__(self, request: PickRequest, load_pipeline: Callable[[], object], **app_options) -> None:
        """``load_pipeline``: a core.generate.Pipeline, or cfcli.client.RemotePipeline (`cf serve`)."""
        if "NO_COLOR" in os.environ:  # set at all, as Textual reads it
            # Textual's own NO_COLOR filter turns colours grey, still as 256- or 24-bit colour
            # codes; with native ANSI colours it strips them (NoColor), leaving bold and reverse.
            app_options.setdefault("ansi_color", True)
        super().__init__(**app_options)
        self.request = request
        self.pipeline = BackgroundLoad(load_pipeline)
        self.seed = request.seed if request.seed is not None else new_seed()
        # Which set: 0 the best; each re-roll edits the next examples (core.generate, ``roll``).
        self.roll = seed_roll(request.seed)
        self.more = False  # showing candidates k+1..2k of this roll (m)
        self._last_set: frozenset[str] = frozenset()  # the codes the previous run showed
        self.run_id = 0
        self.result = None  # core.generate.Result of the current run, once it ended
        self.error: str | None = None
        self.note = ""
        self._progress = ""  # the status line while denoising, drawn with the next frame
        # Enter before the selected row had any code (the model loading, the first steps): it is
        # accepted as soon as it has some. Early Enter used to say "Nothing to accept yet" (4 of 5 tries).
        self._accept_when_formed = False
        self._status_text = ""

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        header = Text.assemble(("❯ ", "bold green"), (self.request.prompt, "bold"),
                               (f"   {self.request.lang} · {Path(self.request.model).name or 'model'}", "dim"))
        with Vertical(id="picker"):
            yield Static(header, id="prompt")
            with Rows(id="rows"):
                for index in range(self.request.top_k):
                    yield CandidateRow(index)
            yield TextView(id="status")
        yield KeyFooter()
        # Short: it has to fit the very terminal that is too small.
        yield Static(f"Terminal too small (min {MIN_WIDTH}×{MIN_HEIGHT}). Esc cancels.", id="too-small")

    @property
    def rows(self) -> list[CandidateRow]:
        return list(self.query(CandidateRow))

    def on_mount(self) -> None:
        self.pipeline.start()
        self.set_interval(1 / FPS, self._frame)
        self._start_run()

    def _status(self, text: str) -> None:
        text += f"  ·  {self.note}" if self.note else ""
        if text != self._status_text:  # an unchanged line costs no repaint
            self._status_text = text
            self.query_one("#status", TextView).show(text)

    # -- the generation worker ----------------------------------------------------------------

    def _start_run(self) -> None:
        self.run_id += 1
        self.result = None
        self._progress = ""
        self._accept_when_formed = False  # a re-roll is a change of mind
        for row in self.rows:
            row.reset(self.seed + self.run_id)
        self.selected = 0
        self.watch_selected(0)
        self._status("loading the model…" if self.pipeline.busy else "denoising…")
        self._denoise(self.run_id, self.seed, self.roll, self.request.top_k * (2 if self.more else 1))

    @work(thread=True, exclusive=True, group="denoise", exit_on_error=False)
    def _denoise(self, run: int, seed: int, roll: int = 0, k: int = 5) -> None:
        """Runs Pipeline.stream; a re-roll or exit cancels it (polled before every step)."""
        from core.errors import CFError
        from core.events import Cancelled, Step

        worker = get_current_worker()
        req = self.request
        try:
            pipe = self.pipeline.wait(lambda: worker.is_cancelled)
            if pipe is None:
                return
            # Threads: cfcli/ask.py configures the policy, with a core left for this UI thread.
            self.post_message(ModelReady(run, pipe.cut_note(req.prompt, req.lang)))
            first = posted = None
            for event in pipe.stream([req.prompt], k=k, steps=req.steps, seed=seed, roll=roll,
                                     cancel=lambda: worker.is_cancelled, preview_every=1):
                if not isinstance(event, Step):
                    self.post_message(Finished(run, event))
                    continue
                now = time.perf_counter()
                first = first or (event.index, now)
                rate = (event.index - first[0]) / (now - first[1]) if now > first[1] else 0.0
                if posted is None or now - posted >= 1 / FPS or event.index == event.total:
                    posted = now
                    self.post_message(Denoised(run, event.index, event.total, event.texts[0], rate))
        except Cancelled:
            pass
        except CFError as e:
            self.post_message(Failed(run, str(e)))
        except Exception as e:  # shown as one line by the caller, never a traceback on the terminal
            self.post_message(Failed(run, f"{type(e).__name__}: {e}"))

    def on_model_ready(self, message: ModelReady) -> None:
        if message.run == self.run_id:
            self.note = message.note
            self._status("denoising…")

    def on_denoised(self, message: Denoised) -> None:
        if message.run != self.run_id:
            return
        for row, code in zip(self.rows, message.texts[self.request.top_k:] if self.more else message.texts):
            row.show_step(code, message.index / message.total)
        rate = f"{message.rate:.1f} steps/s" if message.rate else "…"
        self._progress = f"step {message.index}/{message.total}  ·  {rate}  ·  seed {self.seed}"
        if self._accept_when_formed and self._selected_row().text.strip():
            self._accept(self._selected_row().text)

    def on_finished(self, message: Finished) -> None:
        if message.run != self.run_id:
            return
        result = message.result
        if self.more:  # candidates k+1..2k, ranked as the run ranked them
            result = replace(result, candidates=result.candidates[self.request.top_k: 2 * self.request.top_k])
        self.result = result
        candidates = result.candidates
        if self._accept_when_formed and candidates:
            self._accept(candidates[min(self.selected, len(candidates) - 1)].code)
            return
        self._accept_when_formed = False
        shown = frozenset(c.code for c in candidates)
        same, self._last_set = bool(shown) and shown == self._last_set, shown
        for row in self.rows:
            if row.index < len(candidates):
                row.show_candidate(candidates[row.index])
            elif not row.editing:
                row.display = False
        self.selected = min(self.selected, max(0, len(candidates) - 1))
        self.call_after_refresh(self._show_selected)  # the rows grew a score line
        seconds = message.result.timings.get("total_ms", 0) / 1000
        if candidates:
            count = f"{len(candidates)} candidate{'s' if len(candidates) > 1 else ''}"
            if self.more:
                count = f"candidates {self.request.top_k + 1}–{self.request.top_k + len(candidates)}"
            if same:
                self._status(f"the same {count} as before  ·  m shows more "
                             f"({self.request.top_k + 1}–{2 * self.request.top_k})")
            else:
                self._status(f"{count} in {seconds:.1f} s  ·  seed {self.seed}  ·  done")
        else:
            self._status(f"no candidates (all empty)  ·  seed {self.seed}  ·  r re-rolls")

    def on_failed(self, message: Failed) -> None:
        if message.run == self.run_id:
            self.error = message.error
            self.exit(None, return_code=2)

    def _frame(self) -> None:
        if self.result is None:
            for row in self.rows:
                row.rain()
            if self._accept_when_formed:
                self._status(f"accepting row {self.selected + 1} as soon as it forms  ·  {self._progress or '…'}")
            elif self._progress:
                self._status(self._progress)

    # -- selection and keys ---------------------------------------------------------------------

    def _visible_rows(self) -> list[CandidateRow]:
        return [row for row in self.rows if row.display]

    def _selected_row(self) -> CandidateRow:
        return self.rows[self.selected]

    def _editing(self) -> bool:
        return any(row.editing for row in self.rows)

    def _too_small(self) -> bool:
        width, height = self.size
        return width < MIN_WIDTH or height < MIN_HEIGHT

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if self._too_small():  # the candidates are not shown: only cancelling makes sense
            return action == "cancel"
        return not (action in self.EDIT_BLOCKS and self._editing())

    def watch_selected(self, selected: int) -> None:
        for row in self.rows:
            row.set_class(row.index == selected, "-selected")
        self.call_after_refresh(self._show_selected)

    def _show_selected(self) -> None:
        """Scroll the selection into view: Enter must never accept a candidate the user can't see."""
        if self.rows:
            self._selected_row().scroll_visible(animate=False, immediate=True)

    def on_resize(self, event: Resize) -> None:
        self.refresh_bindings()  # the keys a too-small terminal disables come back as it grows
        self.call_after_refresh(self._after_resize)

    def _after_resize(self) -> None:
        self._show_selected()
        if self.focused is None and not self._too_small():
            for editor in self.query(CodeEditor):  # hiding the picker took the focus from it
                editor.focus()

    def action_move(self, delta: int) -> None:
        count = len(self._visible_rows())
        if count:
            self.selected = (self.selected + delta) % count

    def action_select(self, index: int) -> None:
        if index < len(self._visible_rows()):
            self.selected = index

    def action_accept(self) -> None:
        """The selected row as it is, mid-rain too (the sampler stops); before it has any code,
        as soon as it has some."""
        if self.result is None and not self._selected_row().text.strip():
            self._accept_when_formed = True
            return
        self._accept(self._selected_row().text)

    def on_candidate_row_edit_done(self, message: CandidateRow.EditDone) -> None:
        self._accept(message.code)

    def _accept(self, code: str) -> None:
        code = code.strip()
        if code:
            self.exit(code)
        else:
            self.notify("Nothing to accept yet", severity="warning")

    def action_edit(self) -> None:
        self._selected_row().start_edit()

    def action_reroll(self) -> None:
        self.seed, self.roll, self.more = new_seed(), self.roll + 1, False
        self._start_run()

    def action_more(self) -> None:
        """Candidates k+1..2k of this roll (its next examples, ranked with the first k)."""
        self.more = True
        self._start_run()

    def action_copy(self) -> None:
        code = self._selected_row().text.strip()
        if code:
            self.copy_to_clipboard(code)
            self.notify("Copied to the clipboard")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_cancel(self) -> None:
        self.exit(None, return_code=1)
