"""Model directories and training state on disk: safetensors + JSON, never pickle; every
write is atomic, so a killed process leaves the previous version intact.

A model directory (what ``--model DIR`` takes) holds ``config.json``, ``model.safetensors`` and
``tokenizer/``. A training run's ``out`` directory is also a model directory, plus
``train_state/`` (weights, optimizer and progress of the last save) for ``--resume``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from core.atomic import atomic_write_bytes, atomic_write_json, usual_mode
from core.config import ModelConfig
from core.errors import CFError

if TYPE_CHECKING:
    import torch

# torch and safetensors are imported where weights are read or written: reading a config.json
# (the picker checks its --model before opening) stays cheap.
FORMAT = "codefusion-1"


def tied_names(model: torch.nn.Module) -> dict[str, str]:
    """``{alias: name}`` for the state-dict entries that are the same tensor as an earlier one
    (tied weights, such as the T5 encoder's input embedding under ``shared`` and ``embed_tokens``):
    files store each tensor once and the loaders fill the aliases back in."""
    first: dict[tuple[int, tuple[int, ...]], str] = {}
    aliases = {}
    for name, t in model.state_dict(keep_vars=True).items():
        key = (t.data_ptr(), tuple(t.shape))
        if t.numel() and key in first:
            aliases[name] = first[key]
        else:
            first[key] = name
    return aliases


def fill_tied(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with the model's tied aliases that a file left out (see ``tied_names``)."""
    for alias, name in tied_names(model).items():
        if alias not in state and name in state:
            state[alias] = state[name]
    return state


def _state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # Tied aliases are left out (stored once); clone: safetensors refuses tensors that share storage.
    aliases = tied_names(model)
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()
            if k not in aliases}


def save_model(directory: str | Path, model, tokenizer, meta: dict[str, Any] | None = None) -> None:
    from safetensors.torch import save_file

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tokenizer.save(d / "tokenizer")
    tensors = _state_tensors(model)
    atomic_write_bytes(d / "model.safetensors", lambda p: save_file(tensors, str(p), metadata={"format": FORMAT}))
    atomic_write_json(d / "config.json", {"format": FORMAT, "model": model.cfg.to_dict(), **(meta or {})})


def read_config(directory: str | Path) -> dict[str, Any]:
    d = Path(directory)
    path = d / "config.json"
    if d.exists() and not d.is_dir():
        raise CFError(f"{d} is a file, not a model directory (a folder with config.json and model.safetensors)")
    if not d.is_dir():
        raise CFError(f"model directory {d} does not exist")
    if not path.exists():
        raise CFError(f"{d} is not a CodeFusion model directory (no config.json); train one with `cf train --out DIR`")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        ModelConfig.from_dict(meta["model"])
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError, CFError) as e:
        raise CFError(f"{path} is corrupt or not a CodeFusion config ({type(e).__name__})") from None
    return meta


def require_language(langs: Sequence[str], lang: str, model: str | Path) -> None:
    if lang not in langs:
        raise CFError(f"model {model} was trained for {', '.join(langs)}, not {lang}")


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.exists():
        raise CFError(f"{path.parent} has no {path.name}")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CFError(f"{path} is corrupt: {e}") from None


def load_model(directory: str | Path, device: str | torch.device = "cpu"):
    """Build the model from config.json and load model.safetensors; returns (model, tokenizer, meta)."""
    from core.model import build_model

    d = Path(directory)
    meta = read_config(d)
    cfg = ModelConfig.from_dict(meta["model"])
    weights = d / "model.safetensors"
    state = _read_weights(weights)

    # Built on the CPU and filled by copy (fp16 files are cast as they are copied). Building on
    # the meta device instead would skip the random initialisation, but its normal_ pulls in
    # torch._refs/_prims: 3 s more of a cold `cf` than the ~0.15 s of initialisation it saves.
    model = build_model(cfg)
    missing, unexpected = model.load_state_dict(fill_tied(model, state), strict=False)
    if missing or unexpected:
        raise CFError(f"{weights} does not match its config ({len(missing)} missing, {len(unexpected)} unexpected tensors)")
    del state
    tokenizer = model_tokenizer(d, cfg)
    return model.to(device).eval(), tokenizer, meta


def model_tokenizer(d: Path, cfg: ModelConfig):
    """The model directory's tokenizer, checked against the model's vocabulary size."""
    from core.tokenizer import CodeTokenizer

    tok_dir = d / "tokenizer"
    tokenizer = CodeTokenizer(tok_dir) if (tok_dir / "vocab.json").exists() else CodeTokenizer()
    # A model of CodeT5's 32,000 regular ids reads the full tokenizer; a smaller one needs its subset.
    fits = tokenizer.vocab_size == cfg.vocab_size if tokenizer.subset is not None else cfg.vocab_size >= 32000
    if not fits:
        raise CFError(f"{d}'s tokenizer ({tokenizer.vocab_size} ids) does not match its model "
                      f"({cfg.vocab_size}); is {tok_dir / 'subset.json'} missing?")
    return tokenizer


def export_model(src: str | Path, dst: str | Path, dtype: str = "fp16", meta: dict[str, Any] | None = None) -> Path:
    """A model directory without training state, weights stored in ``dtype`` (fp16 halves the
    size; they load back into fp32). What ships and what `cf model add` installs."""
    import torch
    from safetensors.torch import save_file

    from core.model import build_model

    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype not in dtypes:
        raise CFError(f"unknown dtype {dtype!r}; use {', '.join(dtypes)}")
    src, dst = Path(src), Path(dst)
    info = read_config(src)
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise CFError(f"{dst} exists and is not an empty directory")
    tokenizer = model_tokenizer(src, ModelConfig.from_dict(info["model"]))
    state = _read_weights(src / "model.safetensors")
    aliases = tied_names(build_model(ModelConfig.from_dict(info["model"])))
    tensors = {k: v.to(dtypes[dtype]) if v.is_floating_point() else v for k, v in state.items() if k not in aliases}
    # Built beside the destination and renamed in: a failed export leaves nothing behind.
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    except OSError as e:
        raise CFError(f"cannot write to {dst.parent}: {e.strerror}") from None
    try:
        tokenizer.save(tmp / "tokenizer")
        atomic_write_bytes(tmp / "model.safetensors",
                           lambda p: save_file(tensors, str(p), metadata={"format": FORMAT, "dtype": dtype}))
        atomic_write_json(tmp / "config.json", {**info, **(meta or {}), "dtype": dtype})
        os.chmod(tmp, usual_mode(0o777))  # mkdtemp makes it 0700: the installed model is readable like any other
        if dst.exists():
            dst.rmdir()
        os.replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


def lineage(directory: str | Path) -> list[dict[str, Any]]:
    """What a model warm-started from ``directory`` was trained from, nearest first: that model's
    stage, steps and examples, then its own ``trained_from`` (a model's provenance survives
    being used as a starting point)."""
    from core.registry import display_name

    meta = read_config(directory)
    # A shipped or user model by its name: no machine's path in a model another machine may run.
    own = {"model": display_name(directory), **{k: meta[k] for k in ("lang", "stage", "step", "examples_seen")
                                                 if k in meta}}
    return [own, *meta.get("trained_from", [])]


# Tensors with one row per token: copied row by row when vocabularies differ.
VOCAB_TENSORS = ("encoder.shared.weight", "encoder.encoder.embed_tokens.weight", "embed.weight",
                 "head.weight", "head.bias")
# Tensors a model may add over the one it starts from: they are zero-initialised so that they
# change nothing until trained (self-conditioning's input, core/model/layers.py).
ADDED_TENSORS = ("denoiser.self_cond.weight",)


def init_weights_from(model, tokenizer, directory: str | Path) -> int:
    """Copy another model's weights into ``model`` (same architecture but perhaps another
    vocabulary): token rows are matched by CodeT5 id, rows the source lacks keep their fresh
    initialisation. Returns the number of tensors copied."""
    import torch

    d = Path(directory)
    meta = read_config(d)
    if meta["model"].get("arch", "codefusion") != "codefusion" or model.cfg.arch != "codefusion":
        raise CFError("--init-from works between CodeFusion models only")
    src_tok = model_tokenizer(d, ModelConfig.from_dict(meta["model"]))
    src = fill_tied(model, _read_weights(d / "model.safetensors"))
    src_vocab = meta["model"]["vocab_size"]
    # For each row of ours, the source row holding the same token (or -1).
    full = tokenizer.to_full(range(tokenizer.vocab_size))
    src_rows = torch.tensor([r if r < src_vocab and src_tok.to_full([r])[0] == f else -1
                             for f, r in zip(full, src_tok.from_full(full))])
    found = src_rows >= 0
    state = model.state_dict()
    extra = sorted(set(src) - set(state))
    if extra:
        hint = " (it was trained with --self-cond: pass that too)" if set(extra) & set(ADDED_TENSORS) else ""
        raise CFError(f"{d} does not match this model: this model has no {extra[0]}{hint}")
    with torch.no_grad():
        for name, dst in state.items():
            if name not in src and name in ADDED_TENSORS:
                continue  # keeps its zero initialisation
            if name not in src:
                raise CFError(f"{d} does not match this model: it has no {name}")
            by_token = name in VOCAB_TENSORS  # rows may differ, widths may not
            if src[name].shape[int(by_token):] != dst.shape[int(by_token):]:
                raise CFError(f"{d} does not match this model: {name} is {tuple(src[name].shape)}, "
                              f"not {tuple(dst.shape)} (train with the same --preset)")
            if by_token:  # read on the CPU, written where the model is (a GPU refuses a CPU value)
                dst[found.to(dst.device)] = src[name][src_rows[found]].to(dst.device, dst.dtype)
            else:
                dst.copy_(src[name])
    return sum(name in src for name in state)


# -- training state ----------------------------------------------------------------------------

def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    import torch

    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{k}"] = v.detach().to("cpu").contiguous()
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, v in list(tensors.items()) + list(info["scalars"].items()):
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    return {"state": state, "param_groups": info["param_groups"]}


def save_train_state(out: str | Path, model, optimizer, progress: dict[str, Any]) -> None:
    """Write train_state/ as a whole: build it beside the old one, then swap the directories."""
    from safetensors.torch import save_file

    out = Path(out)
    final, old = out / "train_state", out / "train_state.old"
    tmp = Path(tempfile.mkdtemp(prefix=".train_state.", dir=out))
    try:
        save_file(_state_tensors(model), str(tmp / "model.safetensors"))
        opt_tensors, opt_info = _flatten_optimizer(optimizer)
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"optimizer": opt_info, **progress}, indent=2), encoding="utf-8")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def train_state_dir(out: str | Path) -> Path | None:
    """The newest complete train_state (train_state.old survives a kill during the swap)."""
    out = Path(out)
    for d in (out / "train_state", out / "train_state.old"):
        if (d / "state.json").exists():
            return d
    return None


def load_train_state(out: str | Path, model, optimizer) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = train_state_dir(out)
    if d is None:
        raise CFError(f"no training state in {out} to resume from")
    try:
        progress = json.loads((d / "state.json").read_text(encoding="utf-8"))
        model.load_state_dict(fill_tied(model, load_file(str(d / "model.safetensors"), device="cpu")))
        optimizer.load_state_dict(_unflatten_optimizer(load_file(str(d / "optimizer.safetensors")),
                                                       progress.pop("optimizer")))
    except (SafetensorError, OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as e:
        raise CFError(f"training state in {d} is corrupt: {e}") from None
    return progress
