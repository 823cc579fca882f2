"""``cf data fetch``: the published benchmark and snippet files, checksummed, in the user data dir."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable

from core.errors import CFError

BASE_URL = "https://raw.githubusercontent.com/microsoft/prose-benchmarks/main/CodeFusion"
BENCHMARKS = {"bash": "BashBenchmarks.json", "python": "PythonBenchmarks.json", "cf": "CFRuleBenchmarks.json"}
SNIPPETS = {"bash": "BashSnippets.txt", "cf": "ConditionalFormattingSnippets.txt"}
PYTHON_CORPUS = "PythonStdlibSnippets.txt"  # built locally: the paper's Python snippets were never published

# SHA256 of the published files (github.com/microsoft/prose-benchmarks, CodeFusion/).
SHA256 = {
    "BashBenchmarks.json": "fda320d1c2cbfa6a8e7033c1b51af4aeebdee2aad0b92cdeba06f51edace9857",
    "BashSnippets.txt": "66e5f31338f2049e9223500f71cd8fea338da29aee64646710680c77c221e0d4",
    "CFRuleBenchmarks.json": "27cecd3e855e929391f0327a551dabe73db018e30422d870df347d7dff71b2c3",
    "ConditionalFormattingSnippets.txt": "fc7626f78e1f88d3ffcb1746740e2305165ddf992e70f6bf6a625d8e223ecda6",
    "PythonBenchmarks.json": "f7d4a769df79e5c60be041dd44619075e1b8aaed233a64007a754ab0d2ae464c",
}


def url_for(name: str) -> str:
    folder = "Benchmarks" if name.endswith(".json") else "Pretraining%20Data"
    return f"{BASE_URL}/{folder}/{name}"


def data_dir(override: str | Path | None = None) -> Path:
    """Where data lives: an explicit path, else $CODEFUSION_DATA, else the user data dir."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("CODEFUSION_DATA"):
        return Path(os.environ["CODEFUSION_DATA"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("codefusion")) / "data"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _install(src_reader: Callable[[Path], None], name: str, dest_dir: Path) -> None:
    """Write to a temporary file beside the target, verify, then rename: never a half file."""
    from core.atomic import atomic_write_bytes

    def write_verified(tmp: Path) -> None:
        src_reader(tmp)
        got = sha256_of(tmp)
        if got != SHA256[name]:
            raise CFError(f"checksum mismatch for {name}: expected {SHA256[name][:12]}…, got {got[:12]}…")

    atomic_write_bytes(dest_dir / name, write_verified)


def fetch(dest: str | Path | None = None, source_dir: str | Path | None = None,
          log: Callable[[str], None] = print) -> Path:
    """Download (or copy from ``source_dir``) every published file, verify it, and build the
    Python pre-training corpus. Files already present with the right checksum are kept."""
    dest_dir = data_dir(dest)
    dest_dir.mkdir(parents=True, exist_ok=True)
    for name in SHA256:
        target = dest_dir / name
        if target.exists() and sha256_of(target) == SHA256[name]:
            log(f"ok       {name}")
            continue
        if source_dir is not None:
            src = Path(source_dir).expanduser() / name
            if not src.exists():
                raise CFError(f"{src} not found (is --from the CodeFusion data folder?)")
            _install(lambda p, src=src: shutil.copyfile(src, p), name, dest_dir)
            log(f"copied   {name}")
        else:
            def download(p: Path, name: str = name) -> None:
                try:
                    import urllib.request  # here: urllib costs every import of core.data ~25 ms

                    with urllib.request.urlopen(url_for(name), timeout=60) as r, open(p, "wb") as f:
                        shutil.copyfileobj(r, f)
                except OSError as e:
                    raise CFError(f"could not download {name}: {e}; with a local copy, use "
                                  "`cf data fetch --from DIR`") from None
            _install(download, name, dest_dir)
            log(f"fetched  {name}")
    from core.data.pycorpus import build_python_corpus

    corpus = dest_dir / PYTHON_CORPUS
    if not corpus.exists():
        n = build_python_corpus(corpus)
        log(f"built    {PYTHON_CORPUS} ({n} snippets from this Python's standard library)")
    else:
        log(f"ok       {PYTHON_CORPUS}")
    return dest_dir
