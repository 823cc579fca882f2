"""Accepted candidates, one JSON object a line, in the user data dir (``cf history``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from cfcli.userconfig import history_path
from core.userfiles import private_file


def append_history(prompt: str, code: str, lang: str, model: str) -> None:
    path = private_file(history_path())  # the user's commands: 0600, as their examples
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "prompt": prompt,
             "code": code, "lang": lang, "model": model}
    with path.open("a", encoding="utf-8") as f:  # one short append: whole lines even with two shells
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def read_history(limit: int | None = None) -> list[dict]:
    """The newest ``limit`` entries, oldest first; unreadable lines are skipped."""
    path = history_path()
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("code"), str):
            entries.append(entry)
    return entries[-limit:] if limit else entries
