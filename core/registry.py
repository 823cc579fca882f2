"""Which model a name means: the models shipped in the package, the user's models folder, or a
directory. ``cf``, the language server and eval all resolve ``--model`` here.

Shipped models live in ``core/assets/models/NAME/`` (package data, fp16 safetensors); a user's
in ``$CODEFUSION_HOME/models`` or the platform's user data dir (``cf model add`` copies one
there). A name in the user's folder shadows a shipped one of the same name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import CFError

SHIPPED_DIR = Path(__file__).parent / "assets" / "models"
DEFAULT_MODEL = "codefusion-small"


def shipped_dir() -> Path:
    """$CODEFUSION_SHIPPED_MODELS moves the shipped models (a packager keeping weights apart; tests
    pointing it at an empty folder to see cf without them)."""
    moved = os.environ.get("CODEFUSION_SHIPPED_MODELS")
    return Path(moved) if moved else SHIPPED_DIR


def user_models_dir() -> Path:
    home = os.environ.get("CODEFUSION_HOME")
    if home:
        return Path(home).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_data_dir("codefusion")) / "models"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    source: str  # "shipped" or "user"


def _models_in(root: Path | None, source: str) -> list[ModelEntry]:
    if root is None or not root.is_dir():
        return []
    return [ModelEntry(d.name, d, source) for d in sorted(root.iterdir())
            if d.is_dir() and (d / "config.json").exists()]


def list_models(user_dir: Path | None = None) -> list[ModelEntry]:
    """The user's models first (they shadow shipped ones of the same name), then the shipped."""
    user = _models_in(user_dir or user_models_dir(), "user")
    names = {m.name for m in user}
    return user + [m for m in _models_in(shipped_dir(), "shipped") if m.name not in names]


def looks_like_path(name_or_dir: str) -> bool:
    # Anything that looks like a path is a path: a typo there should not pick a named model.
    return Path(name_or_dir).expanduser().exists() or "/" in name_or_dir or name_or_dir.startswith((".", "~"))


def resolve_model(name_or_dir: str | None, user_dir: Path | None = None) -> Path:
    """A directory path as given, else a model name (None: the default model)."""
    if name_or_dir and looks_like_path(name_or_dir):
        return Path(name_or_dir).expanduser()
    name = name_or_dir or DEFAULT_MODEL
    for entry in list_models(user_dir):
        if entry.name == name:
            return entry.path
    known = ", ".join(m.name for m in list_models(user_dir)) or "none"
    if name_or_dir is None:
        raise CFError(f"the default model {DEFAULT_MODEL} is not installed (models here: {known}); "
                      "pass --model DIR, or train one with `cf train --out DIR`")
    raise CFError(f"no model directory or model named {name!r} (models: {known}; see `cf model list`)")


def display_name(directory: str | Path) -> str:
    """How reports name a model: its name when it is a shipped or user model (no machine's
    absolute path in a report), else the directory as given."""
    path = Path(directory).expanduser()
    for root in (shipped_dir(), SHIPPED_DIR, user_models_dir()):
        try:
            if path.resolve().parent == root.resolve():
                return path.name
        except OSError:
            continue
    return str(directory)
