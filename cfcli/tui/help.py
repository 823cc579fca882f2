"""The `?` screen."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("↑ ↓  1-5", "select a candidate"),
    ("Enter", "accept: print it and exit (also while it is still forming)"),
    ("e", "edit the selection: Enter accepts the edit, Esc discards it"),
    ("r", "re-roll: a new set, edited from the next examples (and new noise)"),
    ("m", "more: candidates 6-10 of this set"),
    ("c", "copy the selected candidate to the clipboard (OSC 52)"),
    ("Esc  q  Ctrl-C", "cancel: print nothing, exit 1"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,enter", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        # Scrolls, focused so that the arrows scroll it: a narrow terminal's footer leaves most
        # keys to this screen, and in 40x10 they do not all fit.
        with VerticalScroll(id="help") as help:
            help.border_title = "CodeFusion"
            help.border_subtitle = "Esc closes"
            yield Static("The whole program forms from noise at once; cf never runs it.\n")
            yield Static(table)
            yield Static("\n[dim]Any of Esc, q, ? closes this.[/dim]")

    def on_mount(self) -> None:
        self.query_one("#help").focus()
