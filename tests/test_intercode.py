"""InterCode-ALFA's judge on real tasks, run in the real sandbox (core/intercode.py), and
`cf eval --bench intercode` end to end with the lookup table."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import cf, find_source_data
from core.intercode import Environments, changes, judge, load_tasks, score_task, snapshot, tfidf_cosine

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="bubblewrap is not installed (Debian: apt-get install bubblewrap)")


@pytest.fixture(scope="module")
def folder():
    return find_source_data().parent / "intercode-alfa"


@pytest.fixture(scope="module")
def tasks(folder):
    return load_tasks(folder)


@pytest.fixture(scope="module")
def envs(folder):
    with Environments(folder) as built:
        yield built


def test_tasks_load_in_the_benchmarks_order(tasks):
    assert len(tasks) == 300 and [t.index for t in tasks] == list(range(300))
    assert [sum(t.env == e for t in tasks) for e in (1, 2, 3, 4, 5)] == [153, 49, 57, 23, 18]
    assert tasks[3].gold == "cp /testbed/hello.php /testbed/hello-COPY.php"


def test_tfidf_cosine_is_sklearns_default_vectorizer():
    assert tfidf_cosine("Hello world", "hello WORLD") == pytest.approx(1.0)
    assert tfidf_cosine("hello there", "world peace") == 0.0
    # "cat" in both texts: idf 1; "dog" in one: ln(3/2) + 1; cosine = 1 / |(1, 1.405)|
    assert tfidf_cosine("cat dog", "cat") == pytest.approx(0.5797, abs=1e-4)
    assert tfidf_cosine("", "") == 1.0 and tfidf_cosine("a", "b") == 0.0  # no word of 2+ characters


def test_changes_see_additions_deletions_content_and_mode(tmp_path):
    (tmp_path / "a").write_text("1")
    (tmp_path / "b").write_text("2")
    (tmp_path / "c").write_text("3")
    (tmp_path / "usr").mkdir()  # a system folder: not tracked
    before = snapshot(tmp_path)
    (tmp_path / "a").write_text("changed")
    (tmp_path / "b").unlink()
    (tmp_path / "c").chmod(0o600)
    (tmp_path / "d").write_text("new")
    (tmp_path / "usr" / "x").write_text("ignored")
    assert changes(before, snapshot(tmp_path)) == {"/a": "M", "/b": "D", "/c": "M", "/d": "A"}


@needs_bwrap
def test_gold_passes_against_itself_and_wrong_commands_fail(envs, tasks):
    copy_task, list_task = tasks[3], tasks[0]  # `cp hello.php hello-COPY.php`; `ls`
    gold = envs.execute(copy_task.env, copy_task.gold)
    assert gold.changes == {"/testbed/hello-COPY.php": "A"}
    again = envs.execute(copy_task.env, copy_task.gold)  # another fresh copy
    assert judge(again, gold).passed
    same_effect = envs.execute(copy_task.env, "cat /testbed/hello.php > /testbed/hello-COPY.php")
    assert judge(same_effect, gold).passed
    empty_file = envs.execute(copy_task.env, "touch /testbed/hello-COPY.php")  # same path, wrong content
    verdict = judge(empty_file, gold)
    assert not verdict.passed and not verdict.same_files
    scored = score_task(envs, list_task, [list_task.gold, "echo hello", "rm -r /testbed/dir1"])
    assert [v["passed"] for v in scored.verdicts] == [True, False, False]
    assert scored.record()["scores"]["execution"] == {"top1": 1.0, "top5": 1.0}
    assert not scored.verdicts[2]["same_files"]  # `rm -r` changed the file system; `ls` did not


@needs_bwrap
def test_cf_eval_bench_intercode_lookup_report(folder, tmp_path):
    out = tmp_path / "lookup-intercode.json"
    got = cf("eval", "--bench", "intercode", "--baseline", "lookup", "--limit", "3", "--data", str(folder),
             "--out", str(out))
    assert got.returncode == 0, got.stderr.decode()[-2000:]
    printed = got.stdout.decode()
    assert "InterCode-ALFA: 3 tasks" in printed and "qwen2.5-coder-0.5b-instruct" in printed
    report = json.loads(out.read_text())
    assert report["command"].startswith("cf eval --bench intercode") and report["date"][:2] == "20"
    assert report["model"].startswith("lookup") and report["items"] == 3
    assert set(report["metrics"]["execution"]) == {"top1", "top5", "items"}
    items = [json.loads(line) for line in out.with_name("lookup-intercode.items.jsonl").read_text().splitlines()]
    assert [r["id"] for r in items] == [0, 1, 2] and all(len(r["verdicts"]) == len(r["candidates"]) for r in items)


def test_cf_eval_bench_errors_exit_2(folder, tmp_path):
    got = cf("eval", "--bench", "nope")
    assert got.returncode == 2 and b"choose one of: intercode" in got.stderr
    got = cf("eval", "--bench", "intercode", "--data", str(tmp_path))
    assert got.returncode == 2 and b"nl2bash_fs_1" in got.stderr and b"Traceback" not in got.stderr
    got = cf("eval", "--bench", "intercode", "--data", str(folder), env={"PATH": str(tmp_path)})
    assert got.returncode == 2 and b"apt-get install bubblewrap" in got.stderr
