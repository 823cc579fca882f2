"""`cf eval --bench tldr`: the held-out split of tldr-pages, the store without its rows, the scores."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.conftest import cf
from tests.test_retrieval import TLDR, needs_tldr


def test_held_out_is_the_documented_hash_of_the_page_name():
    from core.data.tldr import HELD_OUT_PERCENT, held_out, page_name

    for name in ("tar", "rm", "git", "grep", "du", "aa-genprof", "%"):
        expected = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 100 < HELD_OUT_PERCENT
        assert held_out(name) == expected
        # the platform and the example number do not change a page's side
        assert held_out(f"tldr:common/{name}#3") == held_out(f"linux/{name}") == expected
    assert page_name("tldr:linux/apt-get#12") == "apt-get"
    # pinned: the split must never move (reports compare across dates)
    assert [n for n in ("tar", "rm", "git", "ls", "find", "du", "curl", "ssh", "grep", "sed") if held_out(n)] == \
        ["rm", "grep"]


@needs_tldr
def test_held_out_pages_are_about_ten_percent_and_their_raw_commands_match_themselves():
    from core.data.tldr import command, held_out, held_out_examples, load_tldr, page_name
    from core.metrics.tldr import slot_match

    pages = {page_name(p.id) for p in load_tldr(TLDR)}
    held = {p for p in pages if held_out(p)}
    assert 0.08 < len(held) / len(pages) < 0.12
    examples = held_out_examples(TLDR)
    assert {page_name(e.id) for e in examples} == held
    assert any("{{" in e.code for e in examples)  # raw: placeholders kept
    # what a user types for a page's command is an exact match of it, placeholders as slots
    assert all(slot_match(command(e.code), e.code) for e in examples)


@needs_tldr
def test_no_held_out_row_comes_back_from_retrieval_under_the_benchmark(tmp_path):
    from core.data.tldr import held_out, held_out_examples
    from core.retrieval.holdout import without_tldr_held_out
    from core.retrieval.user import shipped_store

    shipped = shipped_store()
    store, removed = without_tldr_held_out(shipped, tmp_path / "examples.sqlite")
    assert removed > 2000
    assert store.count(source="tldr") == shipped.count(source="tldr") - removed
    assert store.count(source="train") == shipped.count(source="train")
    prompts = [e.nl for e in held_out_examples(TLDR)[::60]]
    before = [e for p in prompts for e in shipped.search(p, "bash", 10, sources=["tldr"])]
    assert sum(held_out(e.ref) for e in before) > len(prompts) // 2  # the shipped store does return them
    for p in prompts:
        found = store.retrieve(p, "bash", 40) + store.search(p, "bash", 10, sources=["tldr"]) + \
            (store.ranked(p, "bash") or [])
        assert found and not any(e.source == "tldr" and held_out(e.ref) for e in found)
    assert store.lexicon("bash") is not None  # the re-ranking tables come along
    assert store.matcher() is not None  # and the tool matcher, which never learned from those pages
    store.close()


@needs_tldr
def test_training_stores_can_leave_the_held_out_pages_out():
    from core.data.tldr import held_out
    from core.retrieval.build import tldr_rows

    kept = list(tldr_rows(TLDR, hold_out=True))
    assert kept and not any(held_out(ref) for *_, ref in kept)
    assert len(kept) < len(list(tldr_rows(TLDR)))


def test_slot_match_and_the_other_scores():
    from core.metrics.tldr import first_utility, slot_match, token_f1

    page = "rm {{[-r|--recursive]}} {{path/to/directory}}"
    assert slot_match("rm -r build", page) and slot_match("rm --recursive 'my dir'", page)
    assert not slot_match("rm -rf build", page) and not slot_match("rm build", page)
    assert not slot_match("rm -r -v build", page)
    page = 'git commit {{[-m|--message]}} "{{message}}"'
    assert slot_match('git commit -m "fix the parser"', page) and slot_match("git commit --message 'x'", page)
    assert not slot_match("git commit -a", page)
    page = "cat {{path/to/file1 path/to/file2 ...}}"
    assert slot_match("cat a.txt b.txt", page) and slot_match("cat a.txt", page)
    assert first_utility("sudo rm -r /tmp/x") == "rm" and first_utility("ls | wc -l") == "ls"
    assert token_f1("rm -r build", "rm -r path/to/directory") == pytest.approx(2 / 3)
    assert token_f1("ls", "rm -r x") == 0.0


@needs_tldr
def test_cf_eval_bench_tldr_lookup_end_to_end(tmp_path, source_data):
    out = tmp_path / "tldr.json"
    r = cf("eval", "--bench", "tldr", "--limit", "4", "--baseline", "lookup", "--data", str(source_data),
           "--out", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["bench"] == "tldr" and report["items"] == 4 and report["model"].startswith("lookup")
    assert report["command"].startswith("cf eval --bench tldr") and report["date"]
    assert report["split"]["pages"] > 500
    assert set(report["metrics"]) == {"right_tool", "template_match", "slot_match", "token_f1"}
    rows = [json.loads(line) for line in out.with_name("tldr.items.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["candidates"] for r in rows)
    for m, v in report["metrics"].items():
        assert v["top1"] <= v["top5"]
    r = cf("eval", "--bench", "tldr", "--lang", "python", "--baseline", "lookup", "--data", str(source_data))
    assert r.returncode == 2 and b"Bash only" in r.stderr
