"""The everyday prompt file (benchmarks/everyday.jsonl), its scorer and `cf eval --bench everyday`."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.conftest import ROOT, cf

FILE = ROOT / "benchmarks" / "everyday.jsonl"


@pytest.fixture(scope="module")
def items():
    from core.metrics.everyday import load_everyday

    return load_everyday(FILE)  # every pattern compiles, ids and prompts are unique, or this raises


def test_the_file_is_well_formed(items):
    langs = Counter(i.lang for i in items)
    assert len(items) >= 100 and langs["bash"] >= 70 and langs["python"] >= 40
    assert len({i.id for i in items}) == len(items)
    assert len({(i.lang, i.prompt.lower()) for i in items}) == len(items)
    assert all(i.example and i.patterns for i in items)


def test_each_prompt_accepts_its_own_answer_and_rarely_another_prompts(items):
    assert [i.id for i in items if not i.accepts(i.example)] == []
    # A real answer to another request is a wrong answer here, nearly always (a few pairs overlap:
    # "du -sh */" also shows the current directory's usage).
    pairs = [(a, b) for a in items for b in items if a is not b and a.lang == b.lang]
    wrongly = [(a.prompt, b.example) for a, b in pairs if a.accepts(b.example)]
    assert len(wrongly) < 0.002 * len(pairs), wrongly


def test_the_development_file_is_well_formed(items):
    """benchmarks/everyday-dev.jsonl: more prompts of the kind for the ranking's development mix
    (benchmarks/rank_sources.py, benchmarks/word_rerank.py), none a prompt of the everyday file, none a task
    of its check half."""
    from core.data.dev import dev_everyday
    from core.metrics.everyday import load_everyday

    dev = load_everyday(ROOT / "benchmarks" / "everyday-dev.jsonl")
    assert all(i.accepts(i.example) for i in dev)
    assert sum(i.lang == "bash" for i in dev) >= 100 and sum(i.lang == "python" for i in dev) >= 70
    assert not {(i.lang, i.prompt.lower()) for i in dev} & {(i.lang, i.prompt.lower()) for i in items}
    checks = [c for c in items if not dev_everyday(c.id)]
    # A check prompt that accepts a development prompt's answer asks for the same thing; one such
    # pair is known and loose ("unzip a zip file into a folder" accepts `unzip -l`).
    same = [(c.prompt, d.prompt) for c in checks for d in dev if c.lang == d.lang and c.accepts(d.example)]
    assert same == [("unzip a zip file into a folder", "list the files inside a zip archive")], same


def test_the_lookup_s_real_candidates_are_judged(items):
    from core.metrics.tldr import first_utility
    from core.retrieval.user import shipped_store

    by_prompt = {i.prompt: i for i in items}
    store = shipped_store()
    # The lookup answers these with the wrong tool: the scorer must say no.
    for prompt, wrong_tool in [("show disk usage of the current directory", "df"),
                               ("remove directory tree", "find")]:
        found = store.search(prompt, "bash", 1, sources=["train"])[0].code
        assert first_utility(found) == wrong_tool, found
        assert not by_prompt[prompt].accepts(found)
    # and these with an acceptable command: the scorer must say yes.
    for prompt, tool in [("find empty directories", "find"), ("stash my uncommitted changes", "git")]:
        found = [e.code for e in store.search(prompt, "bash", 5)]
        right = [c for c in found if by_prompt[prompt].accepts(c)]
        assert right and all(first_utility(c) == tool for c in right), found
    # Python: an answer must parse as well as match.
    reverse = by_prompt["reverse a string"]
    assert reverse.accepts("s[::-1]") and not reverse.accepts("s[::-1")


def test_malformed_files_are_clear_errors(tmp_path):
    from core.errors import CFError
    from core.metrics.everyday import load_everyday

    good = {"id": "bash-1", "lang": "bash", "prompt": "list files", "example": "ls", "patterns": ["<cmd>ls\\b"]}
    cases = [({**good, "patterns": ["(unclosed"]}, "bad regex"), ({**good, "lang": "cf"}, "lang must be"),
             ({**good, "patterns": []}, "at least one pattern")]
    for row, message in cases:
        path = tmp_path / "e.jsonl"
        path.write_text(json.dumps(row) + "\n")
        with pytest.raises(CFError, match=message):
            load_everyday(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "bash-2"}) + "\n")
    with pytest.raises(CFError, match="e.jsonl:2"):
        load_everyday(path)
    path.write_text(json.dumps(good) + "\n")
    item = load_everyday(path)[0]
    assert item.accepts("ls -la") and item.accepts("sudo ls /root") and not item.accepts("echo ls")


def test_cf_eval_bench_everyday_lookup_end_to_end(tmp_path):
    out = tmp_path / "everyday.json"
    r = cf("eval", "--bench", "everyday", "--limit", "3", "--baseline", "lookup", "--out", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["bench"] == "everyday" and report["lang"] == "bash,python" and report["items"] == 6
    assert report["command"] == f"cf eval --bench everyday --limit 3 --baseline lookup --out {out}"
    assert report["date"] and report["model"].startswith("lookup")
    for lang in ("bash", "python"):
        accepted = report["metrics"][lang]
        assert accepted["items"] == 3 and 0 <= accepted["top1"] <= accepted["top5"] <= 100
    rows = [json.loads(line) for line in out.with_name("everyday.items.jsonl").read_text().splitlines()]
    assert [r["nl"] for r in rows][:3] == ["remove directory tree", "show disk usage of the current directory",
                                           "find all python files modified in the last 7 days"]
    assert all(r["candidates"] for r in rows)
    assert report["first"]["bash-002"]["code"] == rows[1]["candidates"][0]
    r = cf("eval", "--bench", "everyday", "--lang", "python", "--limit", "2", "--baseline", "lookup", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["metrics"].keys() == {"python"}
    r = cf("eval", "--bench", "everyday", "--lang", "cf", "--baseline", "lookup")
    assert r.returncode == 2 and b"Bash and Python" in r.stderr
