"""The quality table in the README, docs/results.md and the model card is made from the reports
in docs/results/ (benchmarks/headline.py): it fails here as soon as one of them is edited by hand
or a report changes without the table being remade."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


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
