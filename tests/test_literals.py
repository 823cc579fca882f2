"""Literal slots (core/data/literals.py): prompt values become placeholders the model copies."""

import json

import pytest

from core.checkpoint import load_model
from core.data import load_pairs
from core.data.literals import PER_KIND, SLOT_TOKENS, mask_code, mask_prompt, unmask
from core.generate import Pipeline
from tests.conftest import cf


def test_quoted_strings_and_numbers_become_numbered_placeholders():
    m = mask_prompt("replace `old` with \"new\" in 'notes.txt' 3 times, then wait 0.5 s.")
    assert m.prompt == "replace <str_0> with <str_1> in <str_2> <num_0> times, then wait <num_1> s."
    assert [v for _, v in m.slots] == ["old", "new", "notes.txt", "3", "0.5"]
    assert mask_code("sed -i 's/old/new/g' notes.txt", m) == "sed -i 's/<str_0>/<str_1>/g' <str_2>"


def test_what_is_not_a_literal_stays_in_the_prompt():
    # apostrophes are not quotes; digits inside words and versions are not numbers; a quoted
    # full stop would take every '.' of the code
    for text in ("it's the user's file", "convert utf8 to latin1", "python3.11 -m venv", "split on '.'"):
        m = mask_prompt(text)
        assert m.prompt == text and m.slots == ()
    assert [v for _, v in mask_prompt("between -5 and 5").slots] == ["-5", "5"]
    # past PER_KIND placeholders of a kind, values stay as they are
    many = mask_prompt(" ".join(f"'v{i}'" for i in range(PER_KIND + 2)))
    assert len(many.slots) == PER_KIND and many.prompt.endswith(f"'v{PER_KIND + 1}'")


def test_placeholders_round_trip_on_the_published_splits(data_dir):
    masked_any = 0
    for lang in ("bash", "python", "cf"):
        for split in ("train", "test"):
            for p in load_pairs(lang, split, data_dir):
                m = mask_prompt(p.nl)
                code = mask_code(p.code, m)
                assert unmask(code, m) == p.code, (lang, p.nl, p.code, code)
                masked_any += code != p.code
    assert masked_any > 8000  # most pairs copy a value from their prompt


def test_unmask_leaves_a_placeholder_the_prompt_has_no_value_for():
    m = mask_prompt("greater than 85")
    assert unmask("Between(<num_0>,<num_1>)", m) == "Between(85,<num_1>)"
    assert unmask("TextContains(<str_0>)", m) == "TextContains(<str_0>)"


WORDS = ["alpha", "bravo", "delta", "kilo", "lima", "oscar", "papa", "romeo", "tango", "victor"]
TEMPLATES = [("make a directory named '{}'", "mkdir {}"), ("delete the file '{}'", "rm {}"),
             ("print the word '{}'", "echo {}")]


@pytest.fixture(scope="module")
def copier(tmp_path_factory):
    """A tiny model trained with literal slots on three templates and ten values."""
    d = tmp_path_factory.mktemp("literals")
    rows = [{"nl": nl.format(w), "code": code.format(w)} for nl, code in TEMPLATES for w in WORDS]
    (d / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cf("train", "--preset", "tiny", "--train-file", str(d / "pairs.jsonl"), "--out", str(d / "model"),
           "--literal-slots", "--max-steps", "90", "--lr", "3e-3", "--warmup", "10", "--batch-size", "30",
           "--device", "cpu", "--save-every", "1000", "--no-progress")
    assert r.returncode == 0, r.stderr.decode()
    return d / "model"


def test_a_slot_model_copies_a_value_it_never_saw(copier):
    model, tok, _ = load_model(copier)
    assert model.cfg.literal_slots and "options    literal slots" in cf("model", "info", str(copier)).stdout.decode()
    # "zebra" is not in the model's vocabulary at all: only the slot can put it in the code
    assert tok.encode("zebra") != tok.encode("alpha") and tok.unk_id in tok.encode(" zebra")
    pipe = Pipeline(model, tok, precision="fp32")
    results = pipe.generate_batch(["make a directory named 'zebra'", "print the word 'yak shaving'"],
                                  seed=0, k=3)
    assert results[0].candidates[0].code == "mkdir zebra"
    assert results[1].candidates[0].code == "echo yak shaving"
    # the TUI's previews show the values too, never the placeholders
    steps = [e for e in pipe.stream(["delete the file 'zebra'"], k=2, seed=0, preview_every=1)
             if getattr(e, "texts", None)]
    assert steps and all("<str_" not in t for s in steps for t in s.texts[0])
    assert steps[-1].texts[0][0].strip() == "rm zebra"


def test_training_masks_pairs_and_a_resumed_run_keeps_slots(tmp_path, data_dir):
    from core.train.trainer import TrainArgs, stage_examples

    ex = stage_examples("finetune", TrainArgs(lang="cf", data=str(data_dir), literal_slots=True), ["cf"])
    plain = stage_examples("finetune", TrainArgs(lang="cf", data=str(data_dir)), ["cf"])
    i = plain.prompts.index("Format cells that are greater than or equal to 25 and less than 50")
    assert ex.prompts[i] == "Format cells that are greater than or equal to <num_0> and less than <num_1>"
    assert ex.codes[i] == "AND(GreaterThanEqual(<num_0>),LessThan(<num_1>))"

    out = tmp_path / "run"
    args = ("train", "--lang", "cf", "--preset", "tiny", "--data", str(data_dir), "--out", str(out),
            "--max-steps", "2", "--device", "cpu", "--no-progress")
    r = cf(*args, "--literal-slots", "--stop-at", "1")
    assert r.returncode == 0, r.stderr.decode()
    r = cf(*args, "--resume")  # without the flag: the run keeps what it was started with
    assert r.returncode == 0, r.stderr.decode()
    model, tok, _ = load_model(out)
    assert model.cfg.literal_slots
    # each placeholder is one token of the run's vocabulary, also after a resume
    assert len(tok.encode("<num_0>")) == 1 and tok.unk_id not in tok.encode("GreaterThan(<num_0>)")
    assert tok.added == SLOT_TOKENS
