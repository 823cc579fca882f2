"""Loading the model off the UI thread without holding up exit.

Importing torch and reading the weights takes seconds. Textual waits for its worker threads when
the app exits, so a user pressing Esc during the load would wait for it; a daemon thread does
the load instead, and the generation worker only polls it (and gives up when cancelled)."""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class BackgroundLoad(Generic[T]):
    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cf-load-model", daemon=True)

    def start(self) -> "BackgroundLoad[T]":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._value = self._load()
        except BaseException as e:  # handed to whoever waits
            self._error = e
        finally:
            self._done.set()

    @property
    def busy(self) -> bool:
        return self._thread.is_alive()

    def wait(self, cancelled: Callable[[], bool], poll_s: float = 0.05) -> T | None:
        """The loaded value; None when ``cancelled()`` turned true first; re-raises a load error."""
        while not self._done.wait(poll_s):
            if cancelled():
                return None
        if self._error is not None:
            raise self._error
        return self._value
