"""What the man pages say of a command's flags (core/retrieval/options.py)."""

import json
import shutil
import zlib

import pytest

from core.metrics.bash import bash_template
from core.retrieval.options import OptionIndex, build_blob, commands, parse_options, stems

PAGE = """\
LS(1)                            User Commands                           LS(1)

NAME
       ls - list directory contents

DESCRIPTION
       List information about the FILEs (the current directory by default).

       -a, --all
              do not ignore entries starting with .

       -C     list entries by columns

       -S     sort by file size, largest first

       --sort=WORD
              sort by WORD instead of name: none (-U), size (-S), time (-t)

              A second paragraph that is not part of the entry.

       -t     sort by time, newest first; see --time

EXIT STATUS
       0      if OK,
"""


def test_a_man_page_s_entries_are_read_flag_by_flag():
    entries = parse_options(PAGE)
    assert entries["-a"] == entries["--all"] == "all: do not ignore entries starting with ."
    assert entries["-C"] == "list entries by columns"
    assert entries["-S"] == "sort by file size, largest first"
    assert entries["--sort"].startswith("sort: sort by WORD") and "second paragraph" not in entries["--sort"]
    assert "-U" not in entries  # named inside another entry, not an entry of its own
    assert set(entries) == {"-a", "--all", "-C", "-S", "--sort", "-t"}


def test_each_command_of_a_template_keeps_its_own_flags():
    assert commands(bash_template("ls -lSR path/to/dir | head -n 5")) == [("ls", "", ["-l", "-S", "-R"]),
                                                                          ("head", "", ["-n"])]
    # find's -exec runs rm: -r is rm's; xargs runs rm after its own flags; git's subcommand has a page.
    assert commands(bash_template("find . -type d -name CVS -exec rm -r {} \\;")) == [
        ("find", "", ["-type", "-name"]), ("rm", "", ["-r"])]
    assert commands(bash_template("find . -print0 | xargs -0 rm -f")) == [
        ("find", "", ["-print0"]), ("xargs", "", ["-0"]), ("rm", "", ["-f"])]
    assert commands(bash_template("git log --oneline")) == [("git", "log", ["--oneline"])]


def _index(table: dict) -> OptionIndex:
    blob = {page: {flag: " ".join(sorted(stems(text))) for flag, text in entries.items()}
            for page, entries in table.items()}
    return OptionIndex(zlib.compress(json.dumps(blob).encode()))


def test_a_row_s_flags_that_say_nothing_of_the_prompt_are_counted():
    index = _index({"ls": parse_options(PAGE), "rm": {"-r": "remove directories and their contents recursively"},
                    "find": {"-type": "File is of type c: d directory", "-name": "Base of file name matches shell pattern"}})
    prompt = "list files sorted by size"
    assert index.unasked(prompt, bash_template("ls -S")) == 0  # "sort by file size"
    assert index.unasked(prompt, bash_template("ls -aS")) == 1  # -a: "all: do not ignore entries starting with ."
    assert index.unasked(prompt, bash_template("ls -aCS")) == 1  # -C: "list entries by columns"
    assert index.unasked("list all files", bash_template("ls -a")) == 0
    assert index.unasked(prompt, bash_template("sort -r file")) == 0  # no page for sort: nothing counted
    tree = "remove directory tree"
    assert index.unasked(tree, bash_template("rm -r path/to/directory")) == 0
    assert index.unasked(tree, bash_template("find . -type d -name CVS -exec rm -r {} \\;")) == 1  # -name
    # Only the first command's flags count: `| head -n 5` shapes the output.
    assert index.unasked(prompt, bash_template("ls -S | head -n 5")) == 0
    assert OptionIndex(None).unasked(prompt, bash_template("ls -aS")) == 0


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_the_index_is_built_from_this_machine_s_man_pages():
    index = OptionIndex(build_blob([bash_template("ls -S"), bash_template("git log --oneline")], {"ls", "git-log"}))
    if not index.entries("ls"):
        pytest.skip("man has no page for ls here")
    assert {"size", "sort"} <= index.entries("ls")["-S"]
    if index.entries("git-log"):  # git's pages come with git, which a machine may lack
        assert {"onelin", "abbrev", "commit"} <= index.entries("git-log")["--oneline"]  # stems


def test_the_shipped_store_knows_what_common_flags_do():
    from core.retrieval.user import shipped_store

    index = shipped_store().options()
    assert {"size", "sort"} <= index.entries("ls")["-S"]
    assert "case" in index.entries("grep")["-i"]
    prompt = "download a file with curl keeping its remote name"
    assert index.unasked(prompt, bash_template("curl -O https://example.com/a.zip")) == 0
    assert index.unasked(prompt, bash_template("curl -s https://example.com/a.zip")) == 1
