"""The quality table in the README, docs/results.md and the model card is made from the reports
in docs/results/ (benchmarks/headline.py): it fails here as soon as one of them is edited by hand
or a report changes without the table being remade. And the docs stay what issue 22 made them:
docs/results/ keeps only the reports something cites (at most 44 files, each in its index), every
report the docs cite exists, the README fits in 15,000 characters, no text numbers sessions of
work, and every link to a section of a doc finds its heading."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

RESULTS = ROOT / "docs" / "results"
INDEX = RESULTS / "README.md"
MAX_RESULT_FILES = 48  # 40 (issue 22) + the tldr, everyday and InterCode-ALFA reports of the model and the lookup (2026-12-06)
README_MAX_CHARS = 15_000
# A path into docs/results/ as the docs write it (`docs/results/X`, `../docs/results/X`,
# `results/X`): not part of a longer path or URL, nor of `git show HASH:docs/results/X` (history).
CITED = re.compile(r"(?<![\w/.:-])(?:\.\./)*(?:docs/)?results/([\w.{},*\-]+)")
SESSION = re.compile(r"\bsession[\s-]*\d+", re.IGNORECASE)
LINK = re.compile(r"\]\(([^()#\s]*\.md)#([^()\s]+)\)")


def _docs() -> list[Path]:
    """The documents a reader opens: the README, docs/ and benchmarks/README.md."""
    return [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _scripts() -> list[Path]:
    return sorted([*(ROOT / "benchmarks").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.sh"),
                   *(ROOT / "tests").glob("*.py")])


def _expand(pattern: str) -> list[str]:
    """`a-{b,c}-*.json` -> [`a-b-*.json`, `a-c-*.json`] (brace expansion, as the shell's)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [x for alt in m.group(1).split(",") for x in _expand(pattern[:m.start()] + alt + pattern[m.end():])]


def _cited(text: str) -> list[tuple[str, bool]]:
    """(pattern, written by the command it ends) for every docs/results/ path in text; a path
    after `--out` is what a command writes, not a report the text rests on."""
    found = []
    for m in CITED.finditer(text):
        pattern = m.group(1)
        while pattern[-1] in ".," and pattern.count("{") == pattern.count("}"):
            pattern = pattern[:-1]
        output = re.search(r"--out[ =]$", text[max(0, m.start() - 6):m.start()]) is not None
        found += [(p, output) for p in _expand(pattern)]
    return found


def _result_files() -> list[str]:
    return sorted(p.relative_to(RESULTS).as_posix() for p in RESULTS.rglob("*") if p.is_file())


def test_docs_results_keeps_at_most_44_files():
    files = _result_files()
    assert len(files) <= MAX_RESULT_FILES, f"docs/results/ holds {len(files)} files (at most {MAX_RESULT_FILES})"


def test_every_report_is_in_the_index_and_cited():
    index = INDEX.read_text(encoding="utf-8")
    reports = [f for f in _result_files() if f != "README.md"]
    assert [f for f in reports if f"`{f}`" not in index] == [], "reports missing from docs/results/README.md"
    listed = re.findall(r"^- `([^`]+)`", index, flags=re.M)
    assert [f for f in listed if f not in reports] == [], "docs/results/README.md lists reports that are not there"
    patterns = [p for doc in _docs() if doc != INDEX for p, _ in _cited(doc.read_text(encoding="utf-8"))]
    scripts = "\n".join(s.read_text(encoding="utf-8") for s in _scripts())
    patterns += [p for p, _ in _cited(scripts)]
    uncited = [f for f in reports if f not in scripts and not any(fnmatch.fnmatchcase(f, p) for p in patterns)]
    assert uncited == [], "reports in docs/results/ that no doc or script cites (git history keeps old reports)"


def test_every_report_the_docs_cite_exists():
    files = _result_files()
    missing = [(doc.relative_to(ROOT).as_posix(), p) for doc in _docs()
               for p, output in _cited(doc.read_text(encoding="utf-8"))
               if not output and not fnmatch.filter(files, p)]
    assert missing == [], "cited reports that docs/results/ does not hold (cite a removed one as git show HASH:…)"


def test_the_readme_fits_in_15000_characters():
    n = len((ROOT / "README.md").read_text(encoding="utf-8"))
    assert n <= README_MAX_CHARS, f"README.md has {n} characters (at most {README_MAX_CHARS})"


def test_no_text_numbers_sessions_of_work():
    hits = [(doc.relative_to(ROOT).as_posix(), m.group(0)) for doc in _docs()
            for m in SESSION.finditer(doc.read_text(encoding="utf-8"))]
    assert hits == [], "say the date, not the session"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_to_a_section_find_its_heading():
    broken = []
    for doc in _docs():
        for target, anchor in LINK.findall(doc.read_text(encoding="utf-8")):
            path = (doc.parent / target).resolve()
            if not path.exists():
                broken.append((doc.relative_to(ROOT).as_posix(), target))
                continue
            heads = re.findall(r"^#+\s+(.+?)\s*$", path.read_text(encoding="utf-8"), flags=re.M)
            if anchor not in {_slug(h) for h in heads}:
                broken.append((doc.relative_to(ROOT).as_posix(), f"{target}#{anchor}"))
    assert broken == []


def test_the_citation_checks_catch_what_they_are_for():
    text = ("see [r](results/a-{b,c}.json), `docs/results/d-*.json`. `git show 1a2b3c4:docs/results/old.json`,"
            " `cf eval --out docs/results/new.json`, https://example.org/results/x.json")
    assert _cited(text) == [("a-b.json", False), ("a-c.json", False), ("d-*.json", False), ("new.json", True)]
    assert SESSION.search("as in Session 9") and SESSION.search("the session-8 run") and not SESSION.search("sessions")
    assert _slug("Training without retrieval: what was tried (2026-11-23 to 2026-12-02)") == \
        "training-without-retrieval-what-was-tried-2026-11-23-to-2026-12-02"


def test_the_quality_tables_match_their_reports():
    r = subprocess.run([sys.executable, "benchmarks/headline.py", "--check"], cwd=ROOT, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()


def test_a_hand_edited_table_is_caught(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import headline

    made = headline.table()
    edited = made.replace(made.split("|")[8], " 99.9 / 99.9 ", 1)
    assert edited != made
    text = f"x\n{headline.START}\n{edited}{headline.END}\n"
    assert headline.rewritten(text, made) != text
    assert headline.rewritten(headline.rewritten(text, made), made) == headline.rewritten(text, made)


def test_reports_name_models_without_a_machine_path():
    for report in sorted((ROOT / "docs" / "results").glob("*.json")):
        model = json.loads(report.read_text(encoding="utf-8")).get("model", "")
        assert not str(model).startswith("/"), f"{report.name}: model {model!r} is one machine's path"
