"""One ranking over every source (core/retrieval/ranker.py): the tool signals, the tool matcher,
the documentation rows, and what they put first over the shipped store, with real prompts."""

import pytest

from core.retrieval.tools import kept_command, named_tools, tool_of


def test_the_tool_a_command_runs():
    assert tool_of("sudo du -sh .") == "du"
    assert tool_of("LC_ALL=C /usr/bin/sort -u file") == "sort"
    assert tool_of("env -i git log") == "git"
    assert tool_of("") == ""


def test_an_edit_of_a_tldr_row_keeps_its_command_and_writes_only_the_example_or_the_prompt():
    from core.retrieval.store import Example

    tldr = Example(0, "bash", "", "rm -r path/to/file_or_directory1 path/to/file_or_directory2", "tldr")
    prompt = "remove the build directory"
    assert kept_command("rm -r build", tldr, prompt) == "rm -r build"  # the prompt's value
    assert kept_command("rm -rf build", tldr, prompt) == tldr.code  # "rf": neither the row's nor the prompt's
    assert kept_command("rm -r -f build", tldr, prompt) == "rm -r -f build"  # a one-letter flag says nothing new
    assert kept_command("rmdir build", tldr, prompt) == tldr.code  # another command
    garbled = Example(0, "bash", "", "systemctl cat|edit unit", "tldr")
    assert kept_command("systemctl cat|}/ last", garbled, "show the contents of a file") == garbled.code
    # The train split's rows are the model's to edit.
    train = Example(0, "bash", "", "find . -name '*.txt'", "train")
    assert kept_command("find . -name '*.md' -delete", train, "delete the markdown files") == \
        "find . -name '*.md' -delete"


def test_a_prompt_names_its_tool():
    assert "jq" in named_tools("Use jq to delete a field from a JSON file")[0]
    assert "curl" in named_tools("download a page with curl")[0]
    assert "git" in named_tools("git show the last commit")[0]
    assert "tar" in named_tools("run `tar` on the folder")[0]
    cued, plain = named_tools("find files changed in less than an hour and sort them")
    assert not {"find", "less", "sort"} & (cued | plain)  # plain English that is also a tool's name
    # a kind of file is no tool to run; the tool before a script is
    assert "python" not in set().union(*named_tools("Print the number of python files in the testbed directory"))
    assert "php" not in set().union(*named_tools("run wc on the php files"))
    assert "python" in named_tools("run the python script foo.py")[1]


def test_a_matcher_learns_tools_and_survives_its_bytes():
    from core.retrieval.matcher import ToolMatcher, train_matcher

    pairs = [("compress a folder into an archive", "tar"), ("extract an archive", "tar"),
             ("list archive contents", "tar"), ("show disk usage of a directory", "du"),
             ("disk usage summary of each folder", "du"), ("how much space a directory takes", "du")] * 20
    m = train_matcher(pairs, epochs=6)
    assert max(m.scores("make an archive of my photos"), key=m.scores("make an archive of my photos").get) == "tar"
    again = ToolMatcher.from_bytes(m.to_bytes())
    assert again.tools == m.tools
    assert again.scores("disk usage of home", top=1).keys() == {"du"}


def test_the_dev_pages_are_disjoint_from_the_held_out_pages():
    from core.data.tldr import dev_page, held_out

    names = [f"page{i}" for i in range(3000)] + ["tar", "du", "rm", "jq", "curl", "git"]
    dev = [n for n in names if dev_page(n)]
    assert not [n for n in dev if held_out(n)]
    assert 0.07 < len(dev) / len(names) < 0.13


def test_a_page_summary_is_its_description_without_links():
    from core.data.tldr import page_summary

    page = "# tar\n\n> Archiving utility.\n> Often combined with `gzip`.\n> More information: <https://x>.\n\n- a:\n\n`tar`\n"
    assert page_summary(page) == "Archiving utility. Often combined with gzip."


@pytest.fixture(scope="module")
def shipped():
    from core.retrieval.user import shipped_store

    store = shipped_store()
    if store.matcher() is None:
        pytest.skip("the shipped store has no tool matcher")
    yield store
    store.close()


def test_the_shipped_postings_give_the_pools_fts5_gives(shipped):
    """The shipped store's bm25 comes from its postings (core/retrieval/bm25.py): each of the pool's
    queries, left-one-out and for the guessed tools too, must give FTS5's own rows and scores."""
    from core.retrieval.ranker import POOL_SIZES
    from core.retrieval.store import ExampleStore

    fts = ExampleStore(shipped.path)
    fts._bm25 = None  # as a store without postings: FTS5's queries
    assert shipped._postings() is not None
    for prompt in ("show disk usage of the current directory", "find all *.log files older than 7 days and delete them",
                   "Remove all CVS directories in the current directory tree", "zip a folder"):
        for leave_out in (None, prompt):
            pool = shipped.nearest(prompt, "bash", POOL_SIZES, leave_out)
            assert pool == fts.nearest(prompt, "bash", POOL_SIZES, leave_out)
            assert [len(pool[group]) for group in POOL_SIZES] == list(POOL_SIZES.values())
            assert {e.source for e in pool["curated"]} <= {"train", "user"}
            assert {e.source for e in pool["docs"]} == {"docs"}
            tools = ["du", "zip", "tar", "find", "git"]
            assert shipped._nearest_of_tools(prompt, "bash", tools, leave_out) == \
                fts._nearest_of_tools(prompt, "bash", tools, leave_out)
    for lang, prompt in (("python", "sort a list of dicts by a key"), ("cf", "highlight cells greater than 10")):
        assert shipped.search(prompt, lang, 10) == fts.search(prompt, lang, 10)
    fts.close()


def test_a_pool_holds_every_source_and_the_matchers_guesses(shipped):
    from core.retrieval.ranker import POOL_SIZES, Ranker

    ranker = Ranker(shipped)
    rows, clues = ranker.pool("show listening sockets")
    sources = [e.source for e in rows]
    assert sources.count("train") >= POOL_SIZES["curated"] and sources.count("tldr") >= POOL_SIZES["tldr"]
    first = list(clues.guesses)[:3]
    # each guess, and each tool whose documentation is near, brought in by a tldr or docs row of its own
    brought = {tool_of(e.code) for e in rows if e.source != "train"}
    assert set(first) <= brought
    assert clues.documented and set(clues.documented) <= brought


def test_tool_counts_tell_mainstream_from_niche(shipped):
    counts = shipped.tool_counts("bash")
    assert sum(counts["du"]) > 3 * sum(counts["gdu"]) > 0
    assert counts["find"][0] > counts["find"][1]  # NL2Bash is mostly find


@pytest.mark.parametrize("prompt, tools", [
    ("use jq to delete a field from a json file", {"jq"}),  # a prompt that names its tool; before: `join`
    ("show listening sockets", {"ss", "netstat"}),  # tldr's wording; before: `lsof -n -i:3000 | grep LISTEN ...`
    ("resize an image", {"magick", "convert", "mogrify"}),
    # a tool's documentation says what its examples do not ("Display amount of free and used
    # memory"); before: `fincore`, a documentation row
    ("how much free memory is there", {"free"}),
    ("disk usage summary of a folder", {"du"}),
    # NL2Bash's own wording keeps NL2Bash's answer
    ("find all files named *.txt in the current directory tree and delete them", {"find"}),
])
def test_what_comes_first(shipped, prompt, tools):
    first = shipped.ranked(prompt, "bash")[0]
    assert tool_of(first.code) in tools, first


def test_a_row_past_the_tools_share_gives_way_to_another_tool_that_scores_nearly_as_well():
    from core.retrieval.ranker import MARGIN, SAME_TOOL, varied

    tools = ["find"] * 5 + ["tree", "rm", "find"]
    near = [-0.1 * j for j in range(8)]
    # at most two of a tool: the third and later `find` rows wait behind tree and rm, and come
    # back right after them
    assert varied(range(8), tools, near, most=2) == [0, 1, 5, 6, 2, 3, 4, 7]
    # at most one (the shipped setting): the second `find` row already waits
    assert SAME_TOOL == 1
    assert varied(range(8), tools, near) == [0, 5, 6, 1, 2, 3, 4, 7]
    far = near[:5] + [-0.4 - MARGIN - 0.1, -0.4 - MARGIN - 0.2, -0.7]  # below every find row's margin
    assert varied(range(8), tools, far, most=2) == list(range(8))  # the others score too low: the order stays
    assert varied(range(4), ["find"] * 4, near[:4]) == [0, 1, 2, 3]  # no other tool: the order stays


def test_remove_directory_tree_offers_rm_among_its_rows(shipped):
    """The first five were four `find ... -exec rm` rows and `tree -I`: no `rm -r` to pick."""
    first = [tool_of(e.code) for e in shipped.ranked("remove directory tree", "bash")[:5]]
    assert "rm" in first, first


def test_a_tool_known_only_from_its_docs_is_reached_through_them(shipped, tmp_path):
    """Without a held-out page's examples (as `cf eval --bench tldr` sees the store), its tool's
    documentation row stands in; where examples exist, no docs row enters the pool."""
    from core.confidence import origin
    from core.data.tldr import held_out
    from core.retrieval.holdout import without_tldr_held_out

    sizes = {"curated": 5, "tldr": 5, "docs": 5}
    assert not [e for e in shipped.pool("Archiving utility", "bash", sizes) if e.source == "docs"]
    store, _ = without_tldr_held_out(shipped, tmp_path / "held-out.sqlite")
    docs = store._con.execute(
        "SELECT nl, code, ref FROM examples WHERE source = 'docs' AND tool NOT IN "
        "(SELECT tool FROM examples WHERE source IN ('train', 'tldr'))").fetchall()
    nl, code, _ = next(r for r in docs if held_out(r[2].removeprefix("docs:")))
    found = [e for e in store.pool(nl, "bash", sizes) if e.source == "docs"]
    assert code in [e.code for e in found] and code == tool_of(code)
    assert "the page's description" in origin(found[0], found[0].code, "bash")
    store.close()


def test_docs_rows_and_mentions_from_a_small_tldr_folder(tmp_path):
    from core.retrieval.build import docs_rows, matcher_pairs
    from core.retrieval.store import tool_mentions

    pages = {"common/tar.md": "# tar\n\n> Archiving utility.\n> More information: <https://x>.\n\n"
                              "- Create an archive:\n\n`tar cf {{target.tar}} {{file}}`\n",
             "common/gdu.md": "# gdu\n\n> Disk usage analyzer, like `du` but faster.\n\n- Analyze a folder:\n\n`gdu {{path}}`\n",
             "linux/du.md": "# du\n\n> Disk usage.\n\n- Show the size of a folder:\n\n`du -sh {{path}}`\n"}
    for name, text in pages.items():
        (tmp_path / "pages" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pages" / name).write_text(text)
    rows = list(docs_rows(tmp_path))
    assert ("bash", "Archiving utility.", "tar", "docs", "docs:tldr/common/tar") in rows
    assert all(source == "docs" and code == code.split()[0] for _, _, code, source, _ in rows)
    assert ("Disk usage.", "du", 1.0) in matcher_pairs(rows)  # the matcher learns a page's description
    # A curated description tells of each tool its command runs; a tldr example of its page's tool.
    curated = ("bash", "Remove all CVS directories in the current directory tree",
               "find . -type d -name CVS -exec rm -r {} \\;", "train", "1")
    piped = ("bash", "Count the lines of a file", "cat path/to/file | wc -l", "tldr", "tldr:common/wc#9")
    assert matcher_pairs([curated, piped]) == [(curated[1], "find", 0.5), (curated[1], "rm", 0.5),
                                               (piped[1], "cat", 1.0)]
    examples = [("bash", "Show the size of a folder", "du -sh path", "tldr", "tldr:linux/du#1", "du"),
                ("bash", "Analyze a folder", "gdu path", "tldr", "tldr:common/gdu#1", "gdu")]
    counts = tool_mentions(examples + [(*r, r[2]) for r in rows])
    assert counts["du"] == 1 and counts["gdu"] == 0  # gdu's page names du; nothing else names gdu
