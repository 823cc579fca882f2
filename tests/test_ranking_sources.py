"""All sources on equal terms: the tool signals (core/retrieval/tools.py) over the shipped store, real prompts."""

import pytest

from core.retrieval.tools import TOOL_WEIGHTS, ToolWeights, named_tools, tool_of


def test_the_tool_a_command_runs():
    assert tool_of("sudo du -sh .") == "du"
    assert tool_of("LC_ALL=C /usr/bin/sort -u file") == "sort"
    assert tool_of("env -i git log") == "git"
    assert tool_of("") == ""


def test_a_prompt_names_its_tool():
    cued, plain = named_tools("Use jq to delete a field from a JSON file")
    assert "jq" in cued
    cued, plain = named_tools("download a page with curl")
    assert "curl" in cued
    cued, _ = named_tools("git show the last commit")
    assert "git" in cued
    cued, _ = named_tools("run `tar` on the folder")
    assert "tar" in cued
    # plain English that happens to be a tool's name is no cue
    cued, plain = named_tools("find files changed in less than an hour and sort them")
    assert not {"find", "less", "sort"} & (cued | plain)


@pytest.fixture(scope="module")
def shipped():
    from core.retrieval.user import shipped_store

    store = shipped_store()
    yield store, store.lexicon("bash")
    store.close()


def test_tool_counts_tell_mainstream_from_niche(shipped):
    store, lexicon = shipped
    counts = lexicon.tools.counts
    assert counts["du"] > 3 * counts["gdu"] > 0
    assert counts["rm"] > counts["rmdir"] > 0


def test_a_pool_holds_both_sources(shipped):
    from core.retrieval.rerank import POOL

    store, _ = shipped
    pool = store.retrieve("show disk usage of the current directory", "bash", POOL)
    sources = [e.source for e in pool]
    assert len(pool) == POOL and sources.count("tldr") == POOL // 2 and sources.count("train") == POOL // 2


def first_tool(shipped, prompt: str, weights: ToolWeights) -> str:
    from core.retrieval.rerank import POOL

    store, lexicon = shipped
    pool = store.retrieve(prompt, "bash", POOL)
    order = lexicon.order(prompt, [e.code for e in pool], rows=pool, tool_weights=weights)
    return tool_of(pool[order[0]].code)


@pytest.mark.parametrize("prompt, tool", [
    ("use jq to delete a field from a json file", "jq"),  # the tables alone: `ab -T application/json`
])
def test_a_named_tool_comes_first(shipped, prompt, tool):
    assert first_tool(shipped, prompt, ToolWeights()) != tool  # the tables alone miss it ...
    assert first_tool(shipped, prompt, TOOL_WEIGHTS) == tool  # ... the shipped signals do not


def test_the_dev_pages_are_disjoint_from_the_test_pages():
    from core.data.tldr import dev_page, held_out

    names = [f"page{i}" for i in range(3000)] + ["tar", "du", "rm", "jq", "curl", "git"]
    dev = [n for n in names if dev_page(n)]
    assert not [n for n in dev if held_out(n)]
    assert 0.07 < len(dev) / len(names) < 0.13
