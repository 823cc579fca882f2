"""A Textual driver that measures the terminal it draws on.

Textual's Linux driver sizes the screen with ``shutil.get_terminal_size()``, which asks stdout;
in ``x=$(cf "…")`` and in the shell bindings stdout is a pipe, so the picker came out 80x24 in
any terminal. It draws through stderr, so ask stderr (Textual PR #6153 proposes the same)."""

from __future__ import annotations

import os
import sys


def stderr_sized_driver():
    """The driver class to pass to ``App(driver_class=…)``; None (Textual's choice) off POSIX."""
    if sys.platform == "win32":
        return None
    from textual.drivers.linux_driver import LinuxDriver

    class StderrSizedDriver(LinuxDriver):
        def _get_terminal_size(self) -> tuple[int, int]:
            try:
                width, height = os.get_terminal_size(sys.__stderr__.fileno())
            except (AttributeError, ValueError, OSError):
                return super()._get_terminal_size()
            return (width, height) if width and height else super()._get_terminal_size()

    return StderrSizedDriver
