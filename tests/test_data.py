import json
import random

import pytest

from core.data import load_jsonl, load_pairs, load_snippets
from core.data.masking import mask_identifiers
from core.errors import CFError


def test_benchmarks_load_and_clean(data_dir):
    bash = load_pairs("bash", "train", data_dir)
    assert len(bash) == 10085 and not bash[0].code.endswith("\n") and not bash[0].nl.endswith("\n")
    raw = json.loads((data_dir / "PythonBenchmarks.json").read_text())["train"]
    py = load_pairs("python", "train", data_dir)
    assert any(r["NL Utterance"] is None for r in raw) and len(py) < len(raw)
    assert all(p.nl for p in py)
    assert len(load_pairs("bash", "test", data_dir)) == 2522


def test_missing_data_names_the_fix(tmp_path):
    with pytest.raises(CFError, match="cf data fetch"):
        load_pairs("bash", "train", tmp_path)


def test_jsonl_and_snippets(tmp_path, data_dir):
    p = tmp_path / "x.jsonl"
    p.write_text('{"nl": "list files", "code": "ls\\n"}\n\n{"nl": "x", "code": ""}\n')
    assert [(x.nl, x.code) for x in load_jsonl(p)] == [("list files", "ls")]
    p.write_text('{"nl": 1}\n')
    with pytest.raises(CFError, match=":1:"):
        load_jsonl(p)
    snippets = load_snippets(data_dir / "BashSnippets.txt")
    assert 50000 < len(snippets) <= 61952 and len(set(snippets)) == len(snippets)


def test_cpd_masks_only_identifiers():
    rng = random.Random(0)
    out = mask_identifiers("x = foo('a b', 42)", "python", rng, rate=1.0)
    assert out == "<mask> = <mask>('a b', 42)"  # strings and numbers stay
    out = mask_identifiers("find . -name '*.py' | xargs wc -l", "bash", random.Random(1), rate=0.5)
    assert "<mask>" in out and "|" in out and "." in out
    assert mask_identifiers("42 + 1", "python", rng) == "42 + 1"
