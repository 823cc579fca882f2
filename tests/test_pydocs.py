"""The Python standard library's docstrings as example rows (core/retrieval/pydocs.py)."""

from __future__ import annotations

from core.confidence import origin
from core.retrieval.pydocs import python_docs_rows, summary, with_values
from core.retrieval.store import Example
from core.retrieval.user import shipped_store


def test_a_docstring_becomes_its_first_sentence_in_a_users_words():
    assert summary("Return the square root of x.") == "Get the square root of x."
    assert summary("Return True if S starts with the specified prefix, False otherwise.") == \
        "Check if S starts with the specified prefix, False otherwise."
    assert summary("Test whether a path exists.  Returns False for broken symbolic links") == "Check if a path exists."
    # A signature line first is no description.
    assert summary("makedirs(name [, mode=0o777][, exist_ok=False])\n\nSuper-mkdir; create a leaf directory "
                   "and all intermediate ones.  Works like mkdir.") == \
        "Super-mkdir; create a leaf directory and all intermediate ones."
    assert summary(None) == ""
    # Signature lines with an arrow, their continuations and doctest examples are no description either.
    assert summary("zip(*iterables, strict=False) --> Yield tuples until an input is exhausted.\n\n"
                   "   >>> list(zip('ab', range(3)))\n   [('a', 0), ('b', 1)]\n\n"
                   "The zip object yields n-length tuples.") == "The zip object yields n-length tuples."
    assert summary("time.gmtime([seconds]) -> (tm_year, tm_mon, tm_mday,\n                          tm_sec)\n\n"
                   "Convert seconds since the Epoch to a time tuple.") == "Convert seconds since the Epoch to a time tuple."
    # Signature lines alone: what the arrow says it gives, where that is words.
    assert summary("dict() -> new empty dictionary\ndict(mapping) -> new dictionary initialized from a\n"
                   "    (key, value) pairs") == "new empty dictionary"
    assert summary("D.clear() -> None.  Remove all items from D.") == "Remove all items from D."
    assert summary("random() -> x in the interval [0, 1).") == ""


def test_the_running_pythons_calls_with_their_required_parameters():
    rows = {code: nl for _, nl, code, source, _ in python_docs_rows() if source == "docs"}
    assert "current working directory" in rows["os.getcwd()"]
    assert rows["math.sqrt(x)"] == "Get the square root of x."
    assert "s.startswith(prefix)" in rows and "os.path.exists(path)" in rows
    assert "os.makedirs(name)" in rows  # exist_ok has a default: not required
    # A class is called to convert a value: its first parameter, though none is required.
    assert {"int(x)", "str(object)", "float(x)", "set(iterable)", "list(iterable)", "dict(mapping)"} <= set(rows)
    assert "zip()" in rows and "filter(function, iterable)" in rows  # zip(*iterables, ...); "function or None"
    assert len(set(rows.values())) == len(rows)  # one row per description (lexists says what exists says)


def test_a_documentation_row_takes_the_prompts_values_for_its_parameters():
    def filled(code, prompt, source="docs"):
        return with_values(Example(0, "python", "", code, source), prompt).code

    assert filled("time.sleep(seconds)", "sleep for 2 seconds") == "time.sleep(2)"
    assert filled("os.path.isabs(s)", "check if path `my_path` is an absolute path") == "os.path.isabs(my_path)"
    assert filled("os.path.abspath(path)", "absolute path of 'mydir/a.txt'") == "os.path.abspath('mydir/a.txt')"
    assert filled("s.replace(old, new)", 'replace "a"') == 's.replace("a", new)'  # unfilled: its name stays
    assert filled("os.getcwd()", "get the working directory of 2 shells") == "os.getcwd()"
    assert filled("time.sleep(5)", "sleep for 2 seconds", source="train") == "time.sleep(5)"  # a curated row's own
    # A curated row that names its parameters too takes them; one with any value of its own keeps them all.
    assert filled("random.randint(a, b)", "a random integer between 1 and 10", source="train") == "random.randint(1, 10)"
    assert filled("random.randint(0, n)", "a random integer between 1 and 10", source="train") == "random.randint(0, n)"
    assert filled("img.resize(width)", "resize to 800", source="user") == "img.resize(width)"  # the user's as written


def test_python_prompts_find_the_standard_librarys_calls_and_conala_keeps_its_own():
    store = shipped_store()
    first = store.retrieve("get the current working directory", "python", 5)[0]
    assert (first.source, first.code) == ("docs", "os.getcwd()")
    assert origin(first, "os.getcwd()", "python") == "Python's docs: os.getcwd"
    assert store.retrieve("get the square root of a number", "python", 5)[0].code == "math.sqrt(x)"
    # A CoNaLa prompt still finds its own pair first.
    own = store.search("convert a list of integers into a single integer", "python", 1, sources=["train"])[0]
    assert store.retrieve(own.nl, "python", 5)[0].code == own.code
    # Bash and CF rank no Python documentation row.
    assert all(e.lang == "bash" for e in store.retrieve("remove directory tree", "bash", 40))
