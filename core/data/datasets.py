"""Loaders: the benchmark JSON files, the snippet files, and user JSONL ({"nl": ..., "code": ...})."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.data.fetch import BENCHMARKS, PYTHON_CORPUS, SNIPPETS, data_dir
from core.errors import CFError


@dataclass(frozen=True)
class Pair:
    nl: str
    code: str
    id: str = ""


def _missing(path: Path) -> CFError:
    return CFError(f"{path.name} not found in {path.parent}; run `cf data fetch` "
                   "(or `cf data fetch --from DIR` with a local copy)")


def _clean(text: str | None) -> str:
    return (text or "").strip()


def load_records(lang: str, split: str, root: str | Path | None = None) -> list[dict]:
    """The published records of one split as they are in the file (CF rules keep their "Data"
    table), less those with a null or empty utterance or code (some CoNaLa rows)."""
    if lang not in BENCHMARKS:
        raise CFError(f"unknown language {lang!r}; choose one of: {', '.join(BENCHMARKS)}")
    path = data_dir(root) / BENCHMARKS[lang]
    if not path.exists():
        raise _missing(path)
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if split not in data:
        raise CFError(f"{path.name} has no split {split!r}; it has: {', '.join(data)}")
    return [r for r in data[split] if _clean(r.get("NL Utterance")) and _clean(r.get("Code"))]


def load_pairs(lang: str, split: str, root: str | Path | None = None) -> list[Pair]:
    """The published NL→code pairs of one split (see load_records); trailing newlines (Bash)
    are stripped."""
    return [Pair(_clean(r.get("NL Utterance")), _clean(r.get("Code")), str(r.get("ID", "")))
            for r in load_records(lang, split, root)]


def load_jsonl(path: str | Path) -> list[Pair]:
    path = Path(path)
    if not path.exists():
        raise CFError(f"{path} not found")
    pairs = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pairs.append(Pair(_clean(row["nl"]), _clean(row["code"]), str(row.get("id", i))))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise CFError(f"{path}:{i}: expected a JSON object with string fields \"nl\" and \"code\"") from None
    return [p for p in pairs if p.nl and p.code]


def load_snippets(path: str | Path) -> list[str]:
    """One snippet per line (a literal "\\n" inside a line stays as written); blanks and
    duplicates dropped, first occurrence order kept."""
    path = Path(path)
    if not path.exists():
        raise _missing(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        return list(dict.fromkeys(s for s in (line.strip() for line in f) if s))


def pretrain_snippets(lang: str, root: str | Path | None = None) -> list[str]:
    name = PYTHON_CORPUS if lang == "python" else SNIPPETS.get(lang)
    if name is None:
        raise CFError(f"unknown language {lang!r}")
    return load_snippets(data_dir(root) / name)


def tag_prompt(nl: str, lang: str, langs: list[str]) -> str:
    """What the encoder reads: a model trained for several languages reads the target first."""
    return f"[{lang}] {nl}" if len(langs) > 1 else nl
