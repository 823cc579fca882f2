"""Flags as whole tokens (core/data/flags.py, `cf train --flag-tokens`)."""

import json

from core.config import ModelConfig
from core.data import load_pairs
from core.data.flags import frequent_flags, is_flag_token
from core.tokenizer import CodeTokenizer
from tests.conftest import cf


def test_frequent_flags_are_counted_whole_and_ordered():
    codes = ["find . -name a -type f", "find . -name b", "ls --color=auto -l", "echo a-b -name", "cut -f1"]
    assert frequent_flags(codes, min_count=2) == ["-name"]
    assert frequent_flags(codes, min_count=1) == ["-name", "--color", "-f1", "-l", "-type"]
    assert is_flag_token("-name") and is_flag_token("--color") and not is_flag_token("<str_0>")


def test_a_flag_token_is_one_token_only_as_a_whole_word(tmp_path, data_dir):
    codes = [p.code for p in load_pairs("bash", "train", data_dir)]
    flags = frequent_flags(codes)
    assert {"-name", "-type", "-exec"} <= set(flags)
    tok = CodeTokenizer(added=flags)
    name = tok.encode("-name")
    assert len(name) == 1 and name[0] >= 32000
    assert name[0] in tok.encode("find . -name x") and name[0] not in tok.encode("find . -names x")
    # saved with a model and read back, the same ids; decoding gives every command back exactly
    tok.restricted_to(codes).save(tmp_path / "tok")
    again = CodeTokenizer(tmp_path / "tok")
    assert again.added == tuple(flags)
    for code in codes[:2000]:
        ids = again.encode(code)
        assert again.unk_id not in ids and again.decode(ids) == code


def test_a_pretrained_encoder_cannot_take_added_tokens(tmp_path, data_dir):
    for option in ("--literal-slots", "--flag-tokens"):
        r = cf("train", "--lang", "cf", "--data", str(data_dir), "--out", str(tmp_path / "r"), option,
               "--encoder", "Salesforce/codet5-small", "--no-progress")
        err = r.stderr.decode().strip()
        assert r.returncode != 0 and "--encoder" in err and len(err.splitlines()) == 1, err


def test_training_adds_the_bash_flags_after_the_slots(tmp_path, data_dir):
    from core.data.literals import SLOT_TOKENS
    from core.train.trainer import TrainArgs, pick_tokenizer, stage_examples

    args = TrainArgs(lang="bash,cf", data=str(data_dir), literal_slots=True, flag_tokens=True)
    tok = pick_tokenizer(args, [stage_examples("finetune", args, ["bash", "cf"])])
    assert tok.added[:len(SLOT_TOKENS)] == SLOT_TOKENS and tok.added[len(SLOT_TOKENS)] == "-name"
    assert all(is_flag_token(t) for t in tok.added[len(SLOT_TOKENS):])
    tok.save(tmp_path / "m" / "tokenizer")  # what `cf model info` reads
    (tmp_path / "m" / "config.json").write_text(json.dumps({"format": "codefusion-1", "model": ModelConfig().to_dict()}))
    info = cf("model", "info", str(tmp_path / "m"))
    assert f"options    {len(tok.added) - len(SLOT_TOKENS)} flag tokens" in info.stdout.decode(), info.stderr.decode()
    plain = TrainArgs(lang="bash", data=str(data_dir))
    assert pick_tokenizer(plain, [stage_examples("finetune", plain, ["bash"])]).added == ()
