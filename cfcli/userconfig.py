"""The user's defaults (``config.toml`` in the user config dir) and where cf keeps its files.

``CODEFUSION_HOME`` puts the config and the history in one folder instead of the platform's
user dirs (tests, portable installs). The config is optional; every key is optional:

    lang = "bash"              # bash, python or cf
    model = "~/models/my-model"  # unset: the shipped codefusion-small
    steps = 8                  # unset: cf's default sampling
    top_k = 5
    key = "ctrl-g"             # the key `cf shell-init` binds
    learn_picks = true         # an accepted pick becomes one of your examples (`cf examples`)
    serve = "auto"             # cf serve: auto, use or off (SERVE_MODES)
    serve_idle_minutes = 30    # a server ends after this long without a request (0: never)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from core.config import LANGS
from core.errors import CFError

APP_NAME = "codefusion"
# How cf uses `cf serve` (docs/serve.md): "use" a running server, else load the model in-process;
# "auto" as "use", and the picker, when none answered, starts one in the background as it exits
# (for the next Ctrl-G); "off" always loads in-process.
SERVE_MODES = ("auto", "use", "off")


@dataclass(frozen=True)
class UserConfig:
    lang: str | None = None
    model: str | None = None
    steps: int | None = None
    top_k: int | None = None
    key: str = "ctrl-g"
    learn_picks: bool = True
    serve: str = "auto"
    serve_idle_minutes: float = 30


def _home() -> Path | None:
    home = os.environ.get("CODEFUSION_HOME")
    return Path(home).expanduser() if home else None


def config_path() -> Path:
    import platformdirs

    return (_home() or Path(platformdirs.user_config_dir(APP_NAME))) / "config.toml"


def history_path() -> Path:
    import platformdirs

    return (_home() or Path(platformdirs.user_data_dir(APP_NAME))) / "history.jsonl"


def serve_dir() -> Path:
    """The folder of `cf serve`'s socket, lock and log (made 0700 by the server): under
    $CODEFUSION_HOME when set, else $XDG_RUNTIME_DIR (per user, on a tmpfs), else the user data dir."""
    home, runtime = _home(), os.environ.get("XDG_RUNTIME_DIR")
    if home:
        return home / "run"
    if runtime:
        return Path(runtime) / APP_NAME
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME)) / "run"


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def load_config(path: Path | None = None) -> UserConfig:
    """The config file's settings; defaults when there is none. A bad file is a CFError."""
    path = path or config_path()
    if not path.exists():
        return UserConfig()
    toml = _toml()
    try:
        raw = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise CFError(f"{path}: {e}") from None
    types = {f.name: (int if f.name in ("steps", "top_k") else bool if f.name == "learn_picks" else
                      float if f.name == "serve_idle_minutes" else str)
             for f in fields(UserConfig)}
    for key, value in raw.items():
        if key not in types:
            raise CFError(f"{path}: unknown setting {key!r} (known: {', '.join(types)})")
        if types[key] is float:  # minutes: 30 or 0.5, never negative
            if type(value) not in (int, float) or not 0 <= value < float("inf"):
                raise CFError(f"{path}: {key} must be a number of minutes (0: never), not {value!r}")
        elif type(value) is not types[key] or (types[key] is int and value < 1):
            kind = {int: "a positive integer", bool: "true or false"}.get(types[key], "a string")
            raise CFError(f"{path}: {key} must be {kind}, not {value!r}")
    if raw.get("lang", "bash") not in LANGS:
        raise CFError(f"{path}: lang must be one of {', '.join(LANGS)}, not {raw['lang']!r}")
    if raw.get("serve", "auto") not in SERVE_MODES:
        raise CFError(f"{path}: serve must be one of {', '.join(SERVE_MODES)}, not {raw['serve']!r}")
    if "model" in raw:
        raw["model"] = str(Path(raw["model"]).expanduser())
    return UserConfig(**raw)


def resolve_model(model: str | None) -> str:
    """--model NAME|DIR (None: the config file's `model`, else the shipped default) -> a directory."""
    from core.registry import resolve_model as resolve

    return str(resolve(model or load_config().model))


@dataclass(frozen=True)
class Options:
    """What a generating command uses: each from its flag, else the config file, else the default."""
    lang: str
    model: str | None  # None: the shipped default (core.registry resolves it)
    top_k: int
    steps: int | None  # None: cf's default sampling


def resolve_options(lang: str | None = None, model: str | None = None, top_k: int | None = None,
                    steps: int | None = None, config: UserConfig | None = None) -> Options:
    """The one place flag → config → default is decided (cf ask, cf generate, the language server)."""
    config = config or load_config()
    return Options(lang=lang or config.lang or "bash", model=model or config.model,
                   top_k=top_k or config.top_k or 5, steps=steps or config.steps)
