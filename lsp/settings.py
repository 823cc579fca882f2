"""Server settings from initializationOptions and workspace/didChangeConfiguration (pure).

Accepted shapes: the settings themselves, or nested under ``"codefusion"`` (what VS Code sends);
``topK`` and ``top_k`` both work. A bad value is reported and the previous value kept, so a
typo in an editor's config never takes the server down. An empty list counts as an empty object:
Neovim encodes ``{}`` (``init_options = {}``, ``models = {}``) as ``[]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from lsp.prompts import language_for

MAX_TOP_K = 5  # the "up to 5": one code action / completion item per candidate
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # default model directory (used for the languages it was trained for)
    models: tuple[tuple[str, str], ...] = ()  # (language, model directory): explicit, always used
    steps: int | None = None  # None: cf's default (core.generate.default_steps)
    top_k: int | None = None  # None: the config file's top_k, else 5 (at most MAX_TOP_K)
    languages: tuple[str, ...] = ("python", "bash")
    seed: int = 0  # fixed, so a code action and a completion for one prompt agree
    device: str = "auto"

    def explicit_model_for(self, lang: str) -> str | None:
        return dict(self.models).get(lang)


def _language_name(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    name = name.lower()
    return name if name in ("python", "bash") else language_for(name)


def parse_settings(raw: Any, base: Settings = Settings()) -> tuple[Settings, list[str]]:
    """(new settings, problems). Keys that are absent keep their value from ``base``."""
    problems: list[str] = []
    if raw is None or raw == []:
        return base, problems
    if not isinstance(raw, dict):
        return base, [f"settings must be an object, got {type(raw).__name__}"]
    if isinstance(raw.get("codefusion"), dict):
        raw = raw["codefusion"]
    changes: dict[str, Any] = {}

    if "model" in raw:
        value = raw["model"]
        if value is None or (isinstance(value, str) and value.strip()):
            changes["model"] = value.strip() if value else None
        else:
            problems.append("model must be a model directory (a non-empty string)")
    if "models" in raw:
        value = {} if raw["models"] == [] else raw["models"]
        if isinstance(value, dict):
            pairs = []
            for lang, path in value.items():
                name = _language_name(lang)
                if name is None or not isinstance(path, str) or not path.strip():
                    problems.append(f"models.{lang}: expected a language (python, bash) and a model directory")
                else:
                    pairs.append((name, path.strip()))
            changes["models"] = tuple(sorted(pairs))
        elif value is not None:
            problems.append("models must be an object mapping a language to a model directory")
    if "steps" in raw:
        value = raw["steps"]
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            changes["steps"] = value
        else:
            problems.append("steps must be a positive integer")
    key = "topK" if "topK" in raw else "top_k" if "top_k" in raw else None
    if key:
        value = raw[key]
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TOP_K):
            changes["top_k"] = value
        else:
            problems.append(f"{key} must be an integer from 1 to {MAX_TOP_K}")
    if "languages" in raw:
        value = raw["languages"]
        names = [_language_name(v) for v in value] if isinstance(value, list) else [None]
        if None in names:
            problems.append("languages must be a list of python, bash (or shellscript, sh, zsh)")
        else:
            changes["languages"] = tuple(dict.fromkeys(names))
    if "seed" in raw:
        value = raw["seed"]
        if isinstance(value, int) and not isinstance(value, bool):
            changes["seed"] = value
        else:
            problems.append("seed must be an integer")
    if "device" in raw:
        value = raw["device"]
        if value in DEVICES:
            changes["device"] = value
        else:
            problems.append(f"device must be one of {', '.join(DEVICES)}")
    return replace(base, **changes), problems


def resolve_path(path: str, root: str | None) -> str:
    path = os.path.expanduser(path)
    if not os.path.isabs(path) and root:
        path = os.path.join(root, path)
    return os.path.normpath(os.path.abspath(path))
