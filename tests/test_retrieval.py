"""Retrieval: tldr-pages parsing, the example store, leave-one-out in training, the user's own
examples changing a retrieval model's candidates, and cf eval's lookup row and copy rate."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

from conftest import CANDIDATES, ROOT, cf

# tldr-pages sit beside the published data (../shared/data/tldr, or beside $CODEFUSION_TEST_DATA).
TLDR = next((t for t in (Path(c).parent / "tldr" / "tldr-pages-common-linux.tar.gz" for c in CANDIDATES if c)
             if t.exists()), ROOT.parent / "shared" / "data" / "tldr" / "tldr-pages-common-linux.tar.gz")
needs_tldr = pytest.mark.skipif(not TLDR.exists(), reason=f"tldr-pages not found at {TLDR}")


# -- tldr-pages ------------------------------------------------------------------------------


def test_tldr_placeholders_become_what_a_user_types():
    from core.data.tldr import command, description

    assert command("rm {{[-r|--recursive]}} {{path/to/directory}}") == "rm -r path/to/directory"
    assert command("tar xf {{path/to/source.tar[.gz|.bz2|.xz]}}") == "tar xf path/to/source.tar.gz"
    assert command("rm {{path/to/file1 path/to/file2 ...}}") == "rm path/to/file1 path/to/file2"
    assert command("git {{[ls|list]}}") == "git ls"
    assert description("- E[x]tract a [f]ile `gzip`ped:") == "Extract a file gzipped"


@needs_tldr
def test_tldr_real_pages():
    from core.data.tldr import load_tldr

    pairs = load_tldr(TLDR)
    assert len(pairs) > 29000
    by_id = {p.id: p for p in pairs}
    rm = [p for p in pairs if p.id.startswith("tldr:common/rm#")]
    assert any(p.code == "rm -r path/to/file_or_directory1 path/to/file_or_directory2" for p in rm)
    assert all("{{" not in p.code for p in pairs if "\\{" not in p.code)
    assert all(p.id.split(":")[1].split("/")[0] in ("common", "linux") for p in pairs)
    assert by_id  # ids are unique enough to index


# -- the store -------------------------------------------------------------------------------

ROWS = [
    ("bash", "copy file a to b", "cp a b", "train", "1"),
    ("bash", "remove the directory tree build", "rm -r build", "train", "2"),
    ("bash", "delete the directory tree", "rm -rf path/to/directory", "tldr", "3"),
    ("bash", "list files by size", "ls -S", "train", "4"),
    ("python", "remove a key from a dict", "d.pop(k)", "train", "5"),
]


def test_store_round_trip_and_search(tmp_path):
    from core.retrieval.store import ExampleStore, create

    path = tmp_path / "s.sqlite"
    assert create(path, ROWS + [ROWS[0]]) == len(ROWS)  # duplicates go
    store = ExampleStore(path)
    found = store.search("remove directory tree", "bash", 5)
    assert [e.code for e in found][:2] == ["rm -r build", "rm -rf path/to/directory"]
    assert all(e.lang == "bash" for e in found)
    assert [e.code for e in store.search("remove directory tree", "bash", 5, sources=["tldr"])] == \
        ["rm -rf path/to/directory"]
    assert store.search("remove", "python", 5)[0].code == "d.pop(k)"
    assert store.search("zzz qqq", "bash", 5) == []
    assert store.search('"; DROP TABLE examples; --', "bash", 5) == []  # no FTS or SQL syntax gets through
    assert store.count() == len(ROWS)


def test_a_stores_postings_give_fts5s_rows_until_its_rows_change(tmp_path):
    """bm25 from the postings a store keeps (core/retrieval/bm25.py): FTS5's rows and scores to the
    bit; rows deleted afterwards make the store answer from FTS5 until its postings are kept anew."""
    from core.retrieval.store import ExampleStore, create, keep_postings

    path = tmp_path / "s.sqlite"
    create(path, ROWS)
    store = ExampleStore(path)
    assert store._postings() is not None
    queries = [("remove directory tree", "bash", None), ("copy file a to b", "bash", "copy file a to b"),
               ("remove a key", "python", None), ("Remove the directories!", "bash", None)]
    found = [store.search(q, lang, 5, exclude_nl=ex) for q, lang, ex in queries]
    con = sqlite3.connect(path)
    fts = [[(r[0], r[1]) for r in con.execute(
        "SELECT e.code, bm25(examples_fts) AS s FROM examples_fts JOIN examples e ON e.id = examples_fts.rowid "
        "WHERE examples_fts MATCH ? AND e.lang = ? AND e.nl IS NOT ? ORDER BY s, e.id",
        [" OR ".join(f'"{w}"' for w in q.lower().replace("!", "").split()), lang, ex])] for q, lang, ex in queries]
    assert [[(e.code, e.score) for e in f] for f in found] == [list(dict.fromkeys(r))[:5] for r in fts]
    con.execute("DELETE FROM examples WHERE code = 'rm -r build'")
    con.commit()
    store = ExampleStore(path)
    assert store._postings() is None  # stale: FTS5 answers, without the deleted row
    assert "rm -r build" not in [e.code for e in store.search("remove directory tree", "bash", 5)]
    keep_postings(con)
    con.commit()
    con.close()
    again = ExampleStore(path)
    assert again._postings() is not None
    assert again.search("remove directory tree", "bash", 5) == store.search("remove directory tree", "bash", 5)


def test_leave_one_out_never_finds_the_items_own_row(tmp_path):
    from core.retrieval.store import ExampleStore, LeaveOut, create
    from core.train.trainer import retrieved_examples
    from core.data import Pair

    path = tmp_path / "s.sqlite"
    create(path, ROWS)
    store = ExampleStore(path)
    item = Pair("copy file a to b", "cp a b")
    assert store.search(item.nl, "bash", 5)[0].code == "cp a b"  # without leave-one-out it is found first
    (found,) = retrieved_examples([item], "bash", store, literal_slots=False)
    assert found and ("copy file a to b", "cp a b") not in found
    assert all(e.code != "cp a b" for e in LeaveOut(store).retrieve(item.nl, "bash", 5))


def test_training_on_tldr_rows_leaves_out_the_held_out_and_development_pages(tmp_path):
    """`cf train --sources train,tldr`: a held-out page's rows are neither trained on nor read as
    an example; a development page's are not trained on (the ranking is tuned on them)."""
    from core.data.dev import dev_example
    from core.data.tldr import held_out
    from core.retrieval.store import ExampleStore, create
    from core.train.trainer import retrieved_examples, store_pairs

    def ref(name):
        return f"tldr:common/{name}#1"

    names = [f"tool{i}" for i in range(300)]
    held = next(n for n in names if held_out(n))
    dev = next(n for n in names if dev_example(ref(n)))
    kept = [n for n in names if not held_out(n) and not dev_example(ref(n))][:2]
    rows = [("bash", f"remove the directory tree with {n}", f"{n} -r path/to/directory", "tldr", ref(n))
            for n in (held, dev, *kept)] + [("bash", "remove the directory tree build", "rm -r build", "train", "2")]
    create(tmp_path / "s.sqlite", rows)
    store = ExampleStore(tmp_path / "s.sqlite")
    pairs = store_pairs(store, "bash", ["tldr"])
    assert sorted(p.code for p in pairs) == sorted(f"{n} -r path/to/directory" for n in kept)
    for pair, examples in zip(pairs, retrieved_examples(pairs, "bash", store, False, every_source=True)):
        codes = [code for _, code in examples]
        assert pair.code not in codes  # never its own answer
        assert f"{held} -r path/to/directory" not in codes
        assert {"rm -r build", f"{dev} -r path/to/directory"} <= set(codes)


def test_a_resumed_run_trains_on_the_rows_it_started_with(tmp_path, bash64):
    """The pairs and their neighbours are kept in the run: a resumed run needs neither the store
    nor the time to retrieve them again."""
    from dataclasses import replace

    from core.data.dev import dev_example
    from core.data.tldr import held_out
    from core.retrieval.store import create
    from core.train.trainer import TrainArgs, train

    names = [n for n in (f"tool{i}" for i in range(100)) if not held_out(n) and not dev_example(f"tldr:common/{n}#1")]
    rows = [("bash", f"show the {n} of a file", f"{n} path/to/file", "tldr", f"tldr:common/{n}#1") for n in names[:8]]
    store = tmp_path / "s.sqlite"
    create(store, rows + [("bash", "list files by size", "ls -S", "train", "1")])
    run = TrainArgs(preset="tiny", train_file=str(bash64), out=str(tmp_path / "run"), device="cpu", progress=False,
                    batch_size=16, warmup=1, save_every=2, max_steps=4, stop_at=2, retrieval=True, store=str(store),
                    sources="train,tldr")
    train(run, log=lambda *_: None)
    kept = json.loads((tmp_path / "run" / "examples-finetune.json").read_text())
    assert {f"{n} path/to/file" for n in names[:8]} <= set(kept["codes"]) and len(kept["codes"]) == 64 + 8
    store.unlink()
    summary = train(replace(run, resume=True, stop_at=None, sources="train"), log=lambda *_: None)
    assert summary["stages"]["finetune"]["steps"] == 2  # steps 3 and 4, on the rows kept
    assert json.loads((tmp_path / "run" / "examples-finetune.json").read_text()) == kept


def test_leave_one_out_on_the_real_train_split(data_dir, tmp_path):
    from core.data import load_pairs
    from core.retrieval.build import build_store
    from core.retrieval.store import ExampleStore
    from core.train.trainer import retrieved_examples

    path = tmp_path / "store.sqlite"
    counts = build_store(path, data_dir, lexicon=False)
    assert counts["train"] == len({(p.nl, p.code) for lang in ("bash", "python", "cf")
                                   for p in load_pairs(lang, "train", data_dir)})
    pairs = random.Random(0).sample(load_pairs("bash", "train", data_dir), 200)
    examples = retrieved_examples(pairs, "bash", ExampleStore(path), literal_slots=False)
    for pair, found in zip(pairs, examples):
        assert found and all(nl != pair.nl for nl, _ in found)


def test_the_shipped_store_is_read_only_and_holds_no_test_pair(data_dir):
    from core.data import load_pairs
    from core.retrieval.store import SHIPPED_STORE, ExampleStore

    store = ExampleStore(SHIPPED_STORE)
    with pytest.raises(sqlite3.OperationalError):
        store._con.execute("INSERT INTO examples(lang, nl, code, source) VALUES ('bash', 'x', 'y', 'user')")
    rows = {(e.lang, e.nl, e.code) for e in store.all_rows() if e.source == "train"}
    train = {(lang, p.nl, p.code) for lang in ("bash", "python", "cf") for p in load_pairs(lang, "train", data_dir)}
    assert rows == train
    assert store.count(source="tldr") > 29000
    license_file = SHIPPED_STORE.parent / "examples-NOTICE.md"
    assert "CC BY 4.0" in license_file.read_text() and "CC BY-SA 4.0" in license_file.read_text()


def test_user_examples_add_list_remove(tmp_path):
    env = {"CODEFUSION_HOME": str(tmp_path / "home")}
    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps({"lang": "bash", "nl": "show my disk quota", "code": "quota -s"}) + "\n")
    assert cf("examples", "add", str(mine), env=env).returncode == 0
    assert cf("examples", "add", str(mine), env=env).stderr.decode().startswith("added 0")
    listed = cf("examples", "list", "--json", env=env).stdout.decode().splitlines()
    assert [json.loads(line)["code"] for line in listed] == ["quota -s"]
    assert cf("examples", "list", env=env).stdout.decode().split("\t")[1:] == ["bash", "show my disk quota", "quota -s\n"]
    counts = [json.loads(line) for line in cf("examples", "list", "--counts", "--json", env=env).stdout.decode().splitlines()]
    assert {"source": "user", "lang": "bash", "rows": 1} in counts and {r["source"] for r in counts} > {"user"}
    assert cf("examples", "remove", str(mine), env=env).stderr.decode() == "removed 1 example\n"
    empty = cf("examples", "list", env=env)
    assert empty.returncode == 0 and empty.stdout == b"" and b"cf examples add" in empty.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"lang": "bash", "nl": "x"}\n')
    r = cf("examples", "add", str(bad), env=env)
    assert r.returncode == 2 and b"bad.jsonl:1" in r.stderr and b"Traceback" not in r.stderr


def test_remove_counts_the_rows_it_removed_and_the_store_is_private(tmp_path):
    import stat

    home = tmp_path / "home"
    env = {"CODEFUSION_HOME": str(home)}
    four = tmp_path / "four.jsonl"
    four.write_text("".join(json.dumps({"lang": "bash", "nl": f"task number {i}", "code": f"echo {i}"}) + "\n"
                            for i in range(4)))
    assert cf("examples", "add", str(four), env=env).returncode == 0
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)
    assert mode(home / "user-examples.sqlite") == 0o600 and mode(home) == 0o700
    cf("examples", "list", "--counts", env=env)  # builds the combined index, which holds the user's rows too
    assert mode(home / "cache" / "examples-index.sqlite") == 0o600
    first = json.loads(cf("examples", "list", "--json", env=env).stdout.decode().splitlines()[0])["id"]
    assert cf("examples", "remove", str(first), env=env).stderr.decode() == "removed 1 example\n"
    assert cf("examples", "remove", str(four), env=env).stderr.decode() == "removed 3 examples\n"
    r = cf("examples", "add", str(tmp_path), env=env)
    assert r.returncode == 2 and r.stderr.decode() == (
        f'cf: error: {tmp_path} is a directory; give a JSONL file, one {{"lang", "nl", "code"}} object a line\n')


def test_history_is_private(tmp_path, monkeypatch):
    import stat

    from cfcli.history import append_history, read_history

    monkeypatch.setenv("CODEFUSION_HOME", str(tmp_path / "home"))
    append_history("say hi", "echo hi", "bash", "tiny")
    assert [e["code"] for e in read_history()] == ["echo hi"]
    assert stat.S_IMODE((tmp_path / "home" / "history.jsonl").stat().st_mode) == 0o600


# -- re-ranking (core/retrieval/rerank.py) ---------------------------------------------------


def test_ibm1_learns_which_word_brings_which_flag():
    from core.retrieval.rerank import ibm1

    pairs = [(["list", "directories"], ["find", "-type", "d"]), (["list", "files"], ["find", "-type", "f"]),
             (["count", "files"], ["find", "-type", "f", "wc"]),
             (["count", "directories"], ["find", "-type", "d", "wc"])]
    p = ibm1(pairs)
    assert p[("d", "directories")] > 0.3 > p.get(("d", "files"), 0.0)
    assert p[("f", "files")] > p.get(("f", "directories"), 0.0)
    assert p[("wc", "count")] > p.get(("wc", "list"), 0.0)


def test_reordering_the_bm25_pool_beats_bm25s_order_on_test_prompts(tiny_store, data_dir):
    """Tables learned on the train split; the lookup's first code, before and after, on 200 test
    prompts (whole split: docs/results.md "Retrieval")."""
    from cfcli.evaluate import load_items
    from core.metrics.bash import template_match
    from core.retrieval.rerank import POOL
    from core.retrieval.store import ExampleStore

    store = ExampleStore(tiny_store)
    lexicon = store.lexicon("bash")
    assert lexicon is not None and store.lexicon("python") is not None and store.lexicon("cf") is not None
    before = after = 0.0
    for item in load_items("bash", "test", data_dir)[:200]:
        pool = [e.code for e in store.search(item.nl, "bash", POOL, sources=["train"])]
        before += template_match(pool[0], item.reference)
        after += template_match(pool[lexicon.order(item.nl, pool)[0]], item.reference)
    assert after > before + 4  # template match points summed over 200 items: +2 points of the mean


@pytest.mark.parametrize("lang, items, gain", [("python", 200, 2.0), ("cf", 177, 1.5)])
def test_word_tables_put_a_better_first_row_on_test_prompts(tiny_store, data_dir, lang, items, gain):
    """Python's and CF's tables (words only, no templates) and weights: the lookup's first code's
    BLEU on test prompts, before and after (Python's whole split: 17.9 -> 20.3; CF's: 24.2 -> 25.8)."""
    from cfcli.evaluate import load_items
    from core.metrics.python import sentence_bleu
    from core.retrieval.rerank import POOL
    from core.retrieval.store import ExampleStore

    store = ExampleStore(tiny_store)
    lexicon = store.lexicon(lang)
    assert lexicon is not None and lexicon.tables("sort a list", ["sorted(a)"])[:2] == ({}, {})  # no templates
    before = after = 0.0
    for item in load_items(lang, "test", data_dir)[:items]:
        pool = [e.code for e in store.search(item.nl, lang, POOL, sources=["train"])]
        before += sentence_bleu(pool[0], item.reference)
        after += sentence_bleu(pool[lexicon.order(item.nl, pool)[0]], item.reference)
    assert after > before + gain  # BLEU summed over the items (0..1 each)


def test_the_commands_words_tell_apart_neighbours_with_one_template(tiny_store):
    """The template tables cannot tell `*.py` from `*.pl` or `~` from `/`: the written-word tables can."""
    from core.retrieval.store import ExampleStore

    lexicon = ExampleStore(tiny_store).lexicon("bash")
    pairs = {"find . -name '*.py'": "find all the python files in the current folder",
             "find . -name '*.pl'": "find all the perl files in the current folder",
             "find / -mmin -10": "list the files modified in the last 10 minutes in the file system",
             "find ~ -mmin -10": "list the files modified in the last 10 minutes in my home directory"}
    codes = list(pairs)
    for first, other in ((0, 1), (2, 3)):
        for want in (first, other):
            order = lexicon.order(pairs[codes[want]], [codes[first], codes[other]])
            assert [codes[first], codes[other]][order[0]] == codes[want]


def test_the_users_combined_index_keeps_the_tables(tmp_path, monkeypatch, tiny_store):
    from core.retrieval.user import UserExamples, searchable_store

    monkeypatch.setenv("CODEFUSION_HOME", str(tmp_path))
    monkeypatch.setenv("CODEFUSION_EXAMPLES", str(tiny_store))
    UserExamples().add([("bash", "show my disk quota", "quota -s")])
    store = searchable_store()
    assert store.path != tiny_store and store.count(source="user") == 1
    assert store.lexicon("bash") is not None


# -- a retrieval model -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory, data_dir) -> Path:
    from core.retrieval.build import build_store

    path = tmp_path_factory.mktemp("store") / "examples.sqlite"
    build_store(path, data_dir)
    return path


@pytest.fixture(scope="session")
def tiny_retrieval_model(tmp_path_factory, bash64, tiny_store) -> Path:
    out = tmp_path_factory.mktemp("tiny-retrieval") / "model"
    r = cf("train", "--preset", "tiny", "--train-file", str(bash64), "--retrieval", "--store", str(tiny_store),
           "--out", str(out), "--max-steps", "20", "--lr", "3e-3", "--warmup", "5", "--device", "cpu",
           "--no-progress")
    assert r.returncode == 0, r.stderr.decode()
    return out


def test_a_user_example_changes_the_candidates_and_goes_with_removal(tiny_retrieval_model, tiny_store, tmp_path):
    env = {"CODEFUSION_HOME": str(tmp_path / "home"), "CODEFUSION_EXAMPLES": str(tiny_store)}
    prompt = "wipe out my scratch folder completely"  # a paraphrase of the example below

    def generate():
        # seed 0, the best set (a seed n > 0 is the n-th re-roll, which edits further examples)
        r = cf("generate", prompt, "--model", str(tiny_retrieval_model), "--seed", "0", "--json", env=env)
        assert r.returncode == 0, r.stderr.decode()
        return json.loads(r.stdout)

    before = generate()
    assert before["examples"] and all(e["source"] == "train" for e in before["examples"])
    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps({"lang": "bash", "nl": "wipe out the scratch folder", "code": "rm -rf ~/scratch"}) + "\n")
    assert cf("examples", "add", str(mine), env=env).returncode == 0
    with_mine = generate()
    assert with_mine["examples"][0] == {"nl": "wipe out the scratch folder", "code": "rm -rf ~/scratch", "source": "user"}
    assert [c["code"] for c in with_mine["candidates"]] != [c["code"] for c in before["candidates"]]
    assert cf("examples", "remove", "--all-user", env=env).returncode == 0
    after = generate()
    assert after["examples"] == before["examples"] and after["candidates"] == before["candidates"]


def test_eval_reports_the_lookup_row_and_the_copy_rate(tiny_retrieval_model, tiny_store, data_dir):
    env = {"CODEFUSION_EXAMPLES": str(tiny_store)}
    r = cf("eval", "--baseline", "lookup", "--lang", "bash", "--limit", "20", "--data", str(data_dir), "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    lookup = json.loads(r.stdout)
    assert lookup["baseline"] == "lookup" and lookup["items"] == 20
    assert lookup["metrics"]["template_match"]["top1"] > 30  # real neighbours, not noise
    r = cf("eval", "--model", str(tiny_retrieval_model), "--lang", "bash", "--limit", "8", "--data", str(data_dir),
           "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    report = json.loads(r.stdout)
    assert 0.0 <= report["retrieval"]["copy_rate"] <= 100.0
    assert report["retrieval"]["reordered"] is True  # the store has Bash tables
    r = cf("eval", "--baseline", "nothing", "--lang", "bash", "--data", str(data_dir), env=env)
    assert r.returncode == 2 and b"unknown baseline" in r.stderr


def test_copy_rate_counts_unedited_top1s():
    from cfcli.evaluate import copy_rate

    assert copy_rate([["ls -l", "ls"], ["cp a  b"], []], [["ls -l"], ["cp a b"], ["x"]]) == 100.0
    assert copy_rate([["ls -la"], ["cp a b"]], [["ls -l"], ["cp a b"]]) == 50.0
    assert copy_rate([], []) is None


def test_sampling_starts_from_the_noised_example():
    from core.diffusion import make_scheduler

    s = make_scheduler("dpm++", 1200)
    s.set_timesteps(3, start=359)
    assert s.timesteps.tolist() == [359, 180, 0]
    with pytest.raises(ValueError):
        s.set_timesteps(3, start=1200)


def test_an_examples_literals_become_its_own_slots():
    from core.retrieval.condition import example_input, masked_example

    assert masked_example('find files named "a.txt"', "find . -name a.txt", True) == \
        ("find files named <str_0>", "find . -name <str_0>")
    assert masked_example('find files named "a.txt"', "find . -name a.txt", False)[1] == "find . -name a.txt"
    # the prompt keeps at most half of the input; the example fills the rest
    assert example_input(list(range(100)), [7, 7], [8], 2, 64) == list(range(32)) + [2, 7, 7, 2, 8]


def test_the_copy_bias_keeps_the_examples_token_unless_the_model_is_sure():
    import torch

    from core.generate import Pipeline

    logits = torch.tensor([[[0.0, 2.0, 0.0], [0.0, 9.0, 0.0]]])  # the model prefers token 1 at both positions
    example = torch.tensor([[2, 2]])
    assert Pipeline._copy_biased(logits, example, 0.0).argmax(-1).tolist() == [[1, 1]]
    # 3 nats outweigh a 2-logit preference, not a 9-logit one
    assert Pipeline._copy_biased(logits, example, 3.0).argmax(-1).tolist() == [[2, 1]]


def test_an_examples_slots_take_the_prompts_placeholders_by_value():
    from core.data.literals import mask_prompt
    from core.retrieval.condition import aligned_example

    prompt = mask_prompt('all "foo.cpp" files except under ".svn"')
    nl, code, lits = aligned_example('skip ".svn", list "foo.cpp"', "find . -name 'foo.cpp' '!' -path '.svn'",
                                     prompt.slots)
    assert code == "find . -name '<str_0>' '!' -path '<str_1>'"  # the prompt's order, not the example's
    assert dict(lits.slots) == {"<str_1>": ".svn", "<str_0>": "foo.cpp"}
    _, code, lits = aligned_example('older than 14 days, named "a.txt"', "find . -mtime +14 -name a.txt",
                                    mask_prompt('named "b.c"').slots)
    assert code == "find . -mtime +<num_0> -name <str_0>" and dict(lits.slots)["<num_0>"] == "14"
