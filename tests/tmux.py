"""A real terminal for end-to-end tests: a private tmux server, keys in, screen out."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest


def require(*programs: str) -> None:
    for program in programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (Debian: apt-get install {program})")


class Tmux:
    """One detached session on its own server socket (-L), so tests never touch a user's tmux."""

    def __init__(self, command: list[str], env: dict[str, str], width: int = 150, height: int = 40):
        require("tmux")
        self.socket = f"cf-test-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", **env}
        env.pop("TMUX", None)
        self._run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), *command, env=env)
        self.socket_path = self._run("display-message", "-p", "#{socket_path}").strip()

    def _run(self, *args: str, env: dict | None = None) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True,
                              env=env).stdout

    def keys(self, *keys: str) -> None:
        """tmux key names: 'Enter', 'C-g', 'Down', 'Escape'."""
        self._run("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self._run("send-keys", "-t", "t", "-l", text)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "t")

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen().splitlines()]

    def wait_for(self, condition, timeout: float = 90.0, what: str = "") -> str:
        """Poll the screen until ``condition(screen)``; the screen that satisfied it."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)  # kill-server leaves the socket file
