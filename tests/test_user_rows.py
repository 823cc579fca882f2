"""The user's own rows: copied as they stand (words the model cannot write included), a value the
prompt changes swapped in, and pinned first only when the prompt matches closely (picks less)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SHIPPED_MODELS

FIXTURES = Path(__file__).parent / "fixtures"
COMPRESS = "compress the logs folder into a tar.gz archive"
EXTRACT = ("extract a tar.gz archive into /opt", "tar -xzf archive.tar.gz -C /opt")


def _row(nl, code, ref=""):
    from core.retrieval.store import Example

    return Example(0, "bash", nl, code, "user", 0.0, ref)


def test_a_row_for_another_task_is_not_pinned_and_picks_weigh_below_added_rows():
    from core.retrieval.own import closeness, pinned

    rows = [_row(*EXTRACT), _row(COMPRESS, "tar -czf logs.tar.gz logs", ref="pick"),
            _row("compress the logs folder into a tar.gz", "tar -czvf logs.tar.gz logs/")]
    assert closeness(COMPRESS, EXTRACT[0]) < 0.5
    assert pinned(COMPRESS, rows) == [2, 1]  # the added row before the pick, the extraction not at all
    # A pick is pinned for a near repeat only; a row added on purpose also for another value.
    same = [_row(COMPRESS, "tar -czf logs.tar.gz logs", ref="pick"), _row(COMPRESS, "tar -czvf logs.tar.gz logs/")]
    assert pinned("compress the cache folder into a tar.gz archive", same) == [1]
    assert pinned("stop the dev database", [_row("start the dev database", "pg_ctl start")]) == []


def test_value_swaps_only_where_the_prompts_differ_in_values_the_code_holds():
    from core.retrieval.own import value_swaps

    nl, code = "deploy the staging environment", "shipit deploy --env staging --wait"
    assert value_swaps(nl, nl, code) == []
    assert value_swaps("deploy the production environment", nl, code) == [("staging", "production")]
    assert value_swaps("deploy the staging environment and wait", nl, code) is None  # more than a value
    assert value_swaps("tear down the staging environment", nl, code) is None
    assert value_swaps("compress a tar.gz archive into /opt", *EXTRACT) is None  # "extract" is not in the code


def test_words_the_model_cannot_write_become_slots_and_come_back():
    from core.data.literals import Literals, unmask
    from core.retrieval.copying import copy_slots, unwritable_spans
    from core.tokenizer import CodeTokenizer

    tok = CodeTokenizer(SHIPPED_MODELS / "codefusion-small" / "tokenizer")  # the train splits' tokens only
    code = "shipit deploy --env staging --wait"
    assert [code[a:b] for a, b in unwritable_spans(code, tok)] == ["staging"]
    code = "shipit deploy --env staging --wait -o ß.txt"
    spans = unwritable_spans(code, tok)
    assert [code[a:b] for a, b in spans] == ["staging", "ß.txt"]
    masked, lits = copy_slots(code, Literals("p"), {"<str_0>"}, tok)
    assert "staging" not in masked and "ß" not in masked and "<str_0>" not in masked
    assert tok.unk_id not in tok.encode(masked)
    assert unmask(masked, lits) == code
    swapped, lits = copy_slots(code, Literals("p"), set(), tok, [("staging", "production")])
    assert unmask(swapped, lits) == "shipit deploy --env production --wait -o ß.txt"


@pytest.fixture(scope="module")
def shipped_pipeline(tmp_path_factory):
    from core.generate import Pipeline
    from core.retrieval.user import UserExamples, searchable_store

    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("CODEFUSION_HOME", str(home))
    pipe = Pipeline.from_pretrained(SHIPPED_MODELS / "codefusion-small", lang="bash")
    yield pipe, UserExamples(home / "user-examples.sqlite"), searchable_store
    mp.undo()


def test_user_examples_come_back_verbatim_first_for_their_own_prompts(shipped_pipeline):
    """All 50 of the fixture are the done-means figure (python benchmarks/user_rows.py: 50/50);
    here one in five of them, for the suite's time."""
    from core.retrieval.user import read_examples_file

    pipe, user, searchable_store = shipped_pipeline
    rows = read_examples_file(FIXTURES / "user_examples_oov.jsonl")
    assert len(rows) == 50
    user.add(rows)
    pipe.examples = searchable_store(user)
    # Commands with words the train splits never write (the model could not spell them).
    assert sum(pipe.tok.unk_id in pipe.tok.encode(code) for _, _, code in rows) >= 25
    some = [r for r in rows[::5] if pipe.tok.unk_id in pipe.tok.encode(r[2])] + rows[:2]
    got = pipe.generate_batch([nl for _, nl, _ in some], seed=0)
    assert [r.candidates[0].code for r in got] == [code for _, _, code in some]
    (r,) = pipe.generate_batch(["deploy the production environment"], seed=0)
    assert r.candidates[0].code == "shipit deploy --env production --wait"
    (r,) = pipe.generate_batch(["sync the site to the backup server"], seed=0)
    assert r.candidates[0].code == "rsync -az public/ backup:/srv/site"
    user.remove(everything=True)


def test_one_accepted_extraction_pick_does_not_take_the_compress_prompt(shipped_pipeline):
    from core.retrieval.store import ExampleStore
    from core.retrieval.user import shipped_store_path

    pipe, user, searchable_store = shipped_pipeline
    user.remove(everything=True)
    pipe.examples = ExampleStore(shipped_store_path())
    (fresh,) = pipe.generate_batch([COMPRESS], seed=0)
    assert fresh.candidates[0].code.startswith("tar -c")
    for ref in ("pick", ""):  # an accepted pick, then the same row added on purpose
        user.add([("bash", *EXTRACT)], ref=ref)
        pipe.examples = searchable_store(user)
        (after,) = pipe.generate_batch([COMPRESS], seed=0)
        assert after.candidates[0].code == fresh.candidates[0].code, ref
        assert "-x" not in after.candidates[0].code
        (own,) = pipe.generate_batch([EXTRACT[0]], seed=0)  # its own prompt still gets it, first
        assert own.candidates[0].code == EXTRACT[1]
        user.remove(everything=True)


def test_a_value_the_prompt_does_not_give_becomes_a_placeholder():
    from core.retrieval.placeholders import leftover_placeholders

    nl, code = "Remove all CVS directories in the current directory tree", "find . -type d -name CVS -exec rm -r {} \\;"
    assert leftover_placeholders(code, "remove directory tree", nl, code) == \
        "find . -type d -name pattern -exec rm -r {} \\;"
    assert leftover_placeholders(code, "remove CVS directories", nl, code) == code  # the prompt gives it
    nl, code = "list all jsp files in /srv/app", "find /srv/app -name '*jsp'"
    assert leftover_placeholders(code, "find jsp files", nl, code) == "find path/to/directory -name '*jsp'"
    code = "find $APP -name '*jsp'"  # a shell variable is no value
    assert leftover_placeholders(code, "find files", "list all jsp files in $APP", code) == "find $APP -name 'pattern'"
    nl, code = "Copy /srv/site to /backup", "cp -r /srv/site /backup"
    assert leftover_placeholders(code, "copy the site to /backup", nl, code) == "cp -r path/to/file /backup"
    # A value the example's prompt never named (a default), and numbers, stay.
    nl, code = "show the last lines of the system log", "tail -n 50 /var/log/syslog"
    assert leftover_placeholders(code, "show the last lines of the kernel log", nl, code) == code
