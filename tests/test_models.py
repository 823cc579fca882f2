"""Model plumbing: the data-sized vocabulary, multi-language models, warm starts, fp16 export,
and picking models by name (shipped, the user's, or a directory)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from conftest import cf
from core.errors import CFError
from core.tokenizer import CodeTokenizer

TEXTS = ["find . -name '*.py' -delete", "rm -rf build", "remove directory tree"]


def test_subset_tokenizer_round_trips_its_texts_and_maps_the_rest_to_unk(tmp_path):
    full = CodeTokenizer()
    small = full.restricted_to(TEXTS)
    assert small.vocab_size < 60 and small.subset[:5] == [0, 1, 2, 3, 4]
    for text in TEXTS:
        ids = small.encode(text)
        assert max(ids) < small.vocab_size
        assert small.decode(ids) == text
        assert small.to_full(ids) == full.encode(text)
    unseen = small.encode("import json")
    assert set(unseen) == {small.unk_id}
    small.save(tmp_path / "tok")
    again = CodeTokenizer(tmp_path / "tok")
    assert again.subset == small.subset and again.encode(TEXTS[0]) == small.encode(TEXTS[0])
    # A full tokenizer saved over it drops the subset file.
    full.save(tmp_path / "tok")
    assert CodeTokenizer(tmp_path / "tok").vocab_size == full.vocab_size


@pytest.fixture(scope="module")
def multi_model(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("multi") / "model"
    r = cf("train", "--lang", "bash,cf", "--preset", "tiny", "--data", str(data_dir), "--out", str(out),
           "--limit", "40", "--max-steps", "3", "--batch-size", "8", "--device", "cpu", "--no-progress")
    assert r.returncode == 0, r.stderr.decode()
    return out


def test_multi_language_model_has_the_data_vocabulary_and_tags_prompts(multi_model, data_dir):
    from core.checkpoint import load_model
    from core.data import load_pairs
    from core.generate import Pipeline

    model, tok, meta = load_model(multi_model)
    assert model.cfg.langs == ["bash", "cf"]
    texts = [t for lang in ("bash", "cf") for p in load_pairs(lang, "train", data_dir)[:40]
             for t in (f"[{lang}] {p.nl}", p.code)]
    assert tok.vocab_size == model.cfg.vocab_size == CodeTokenizer().restricted_to(texts).vocab_size
    pipe = Pipeline(model, tok)
    bash_ids, _ = pipe._encode_prompts(pipe._literals(["delete empty files"]), "bash")
    cf_ids, _ = pipe._encode_prompts(pipe._literals(["delete empty files"]), "cf")
    assert not torch.equal(bash_ids, cf_ids)  # the language is part of what the encoder reads
    result = pipe.generate("highlight values above 10", lang="cf", k=2, steps=2, seed=0)
    assert result.lang == "cf"
    # The CLI refuses a language the model was not trained for, before loading weights.
    r = cf("generate", "x", "--lang", "python", "--model", str(multi_model))
    assert r.returncode != 0 and "trained for bash, cf, not python" in r.stderr.decode()


def test_init_from_copies_rows_by_token_across_vocabularies(tmp_path, multi_model, data_dir):
    from core.checkpoint import load_model

    out = tmp_path / "warm"
    r = cf("train", "--lang", "bash", "--preset", "tiny", "--data", str(data_dir), "--out", str(out),
           "--limit", "20", "--max-steps", "1", "--lr", "1e-12", "--warmup", "0", "--batch-size", "4",
           "--device", "cpu", "--no-progress", "--init-from", str(multi_model))
    assert r.returncode == 0, r.stderr.decode()
    src, src_tok, _ = load_model(multi_model)
    dst, dst_tok, _ = load_model(out)
    assert dst_tok.vocab_size < src_tok.vocab_size  # 20 Bash pairs use fewer tokens
    from core.data import load_pairs

    word = dst_tok.encode(load_pairs("bash", "train", data_dir)[0].code)[0]  # in both vocabularies
    assert word != dst_tok.unk_id
    src_row = src_tok.from_full(dst_tok.to_full([word]))[0]
    assert src_row != src_tok.unk_id
    # lr 1e-12: one step moves nothing measurable, so the copied rows are still equal.
    assert torch.allclose(dst.embed.weight[word], src.embed.weight[src_row], atol=1e-6)
    assert torch.allclose(dst.head.weight[word], src.head.weight[src_row], atol=1e-6)
    assert torch.allclose(dst.denoiser.pos, src.denoiser.pos, atol=1e-6)
    # The warm start is the model's provenance: its config and `cf model info` name the source run.
    src_meta = json.loads((multi_model / "config.json").read_text())
    (earlier,) = json.loads((out / "config.json").read_text())["trained_from"]
    assert earlier == {"model": str(multi_model), "lang": src_meta["lang"], "stage": src_meta["stage"],
                       "step": src_meta["step"], "examples_seen": src_meta["examples_seen"]}
    info = cf("model", "info", str(out)).stdout.decode()
    assert f"from       {multi_model}: {src_meta['stage']} step {src_meta['step']}" in info
    # A different architecture is refused with a one-line reason.
    r = cf("train", "--lang", "bash", "--preset", "small", "--data", str(data_dir), "--out", str(tmp_path / "x"),
           "--limit", "4", "--max-steps", "1", "--init-from", str(multi_model), "--no-progress")
    assert r.returncode != 0 and "same --preset" in r.stderr.decode() and "Traceback" not in r.stderr.decode()
    # --init-from takes a model's name too; an unknown one is named in one line.
    r = cf("train", "--lang", "bash", "--preset", "tiny", "--data", str(data_dir), "--out", str(tmp_path / "y"),
           "--init-from", "no-such-model", "--no-progress")
    assert r.returncode == 2 and "no model directory or model named 'no-such-model'" in r.stderr.decode()


def test_a_warm_start_from_the_shipped_model_names_it_not_its_path(monkeypatch):
    """A model warm-started from the shipped one records "codefusion-small", not where this machine
    keeps it (a model goes to other machines; core/registry.py display_name)."""
    from conftest import SHIPPED_MODELS
    from core.checkpoint import lineage

    monkeypatch.setenv("CODEFUSION_SHIPPED_MODELS", str(SHIPPED_MODELS))
    (own, *earlier) = lineage(SHIPPED_MODELS / "codefusion-small")
    assert own["model"] == "codefusion-small" and own["stage"] == "finetune"
    assert all(not str(e["model"]).startswith("/") for e in earlier)


def test_model_add_list_and_pick_by_name(tmp_path, multi_model):
    env = {"CODEFUSION_HOME": str(tmp_path / "home")}
    r = cf("model", "add", str(multi_model), "--name", "mine", "--dtype", "fp16", env=env)
    assert r.returncode == 0, r.stderr.decode()
    stored = tmp_path / "home" / "models" / "mine"
    assert not (stored / "train_state").exists()
    full_size = (multi_model / "model.safetensors").stat().st_size
    assert (stored / "model.safetensors").stat().st_size < 0.55 * full_size
    rows = [json.loads(line) for line in cf("model", "list", "--json", env=env).stdout.decode().splitlines()]
    mine = [row for row in rows if row["name"] == "mine"]
    assert mine and mine[0]["source"] == "user" and mine[0]["langs"] == "bash,cf"
    # Picked by name, it answers; in memory it is the fp32 original up to fp16 rounding (exact
    # candidates are not compared: int8, cf's CPU default, quantises the rounded weights differently).
    r = cf("generate", "count lines", "--lang", "bash", "--steps", "3", "--json", "--model", "mine", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["model"] == "mine", r.stderr.decode()  # by name, not path
    from core.checkpoint import load_model

    original, half = load_model(multi_model)[0].state_dict(), load_model(stored)[0].state_dict()
    assert original.keys() == half.keys()
    for name, tensor in original.items():
        assert torch.allclose(half[name], tensor, rtol=1e-3, atol=1e-4), name
    r = cf("generate", "x", "--model", "nosuchmodel", env=env)
    assert r.returncode != 0 and "no model directory or model named 'nosuchmodel'" in r.stderr.decode()
    r = cf("model", "add", str(multi_model), "--name", "mine", env=env)
    assert r.returncode != 0 and "not an empty directory" in r.stderr.decode()


def test_a_model_is_never_trained_over_and_a_lost_vocabulary_is_named(tmp_path, multi_model):
    import shutil

    exported = tmp_path / "exported"
    assert cf("model", "add", str(multi_model), "--name", "x", "--into", str(exported)).returncode == 0
    r = cf("train", "--lang", "bash", "--preset", "tiny", "--out", str(exported / "x"), "--init-from", str(exported / "x"))
    assert r.returncode == 2 and "same directory" in r.stderr.decode()
    before = (exported / "x" / "model.safetensors").read_bytes()
    r = cf("train", "--lang", "bash", "--preset", "tiny", "--out", str(exported / "x"), "--max-steps", "1")
    assert r.returncode == 2 and "holds a model" in r.stderr.decode()
    assert (exported / "x" / "model.safetensors").read_bytes() == before
    broken = tmp_path / "broken"
    shutil.copytree(exported / "x", broken)
    (broken / "tokenizer" / "subset.json").unlink()
    r = cf("generate", "list files", "--model", str(broken), "--lang", "bash")
    err = r.stderr.decode()
    assert r.returncode == 2 and "subset.json missing" in err and "Traceback" not in err


def test_registry_user_models_shadow_shipped_and_paths_stay_paths(tmp_path, monkeypatch, multi_model):
    from core import registry

    shipped, user = tmp_path / "shipped", tmp_path / "user"
    for root in (shipped, user):
        (root / "m").mkdir(parents=True)
        (root / "m" / "config.json").write_text("{}")
    (shipped / "codefusion-small").mkdir()
    (shipped / "codefusion-small" / "config.json").write_text("{}")
    monkeypatch.setenv("CODEFUSION_SHIPPED_MODELS", str(shipped))
    assert registry.resolve_model("m", user) == user / "m"
    assert registry.resolve_model(None, user) == shipped / "codefusion-small"
    assert registry.resolve_model("./m", user) == Path("./m")  # a path, even if missing
    assert [e.source for e in registry.list_models(user)] == ["user", "shipped"]
    (shipped / "codefusion-small" / "config.json").unlink()
    with pytest.raises(CFError, match="default model codefusion-small is not installed"):
        registry.resolve_model(None, user)


def test_autoregressive_baseline_trains_and_beam_searches(tmp_path, tiny_ar_model, bash64, data_dir):
    """The T5 baseline: same trainer, same rows; top-k by beam search through the same Pipeline,
    so `cf eval` and `cf bench` score it like CodeFusion."""
    from core.generate import Pipeline

    out = tiny_ar_model
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["nll"] < 0.5 * rows[0]["nll"]
    pipe = Pipeline.from_pretrained(out)
    assert pipe.cfg.arch == "t5-ar"
    first = json.loads(bash64.read_text().splitlines()[0])
    result = pipe.generate(first["nl"], k=4)
    codes = [c.code for c in result.candidates]
    assert 1 <= len(codes) <= 4 and len(set(codes)) == len(codes)
    # Beam order (best score first) within each of cf's ranking groups: those that parse first, and
    # for a prompt that asks to show, those that delete or kill last (core.effects.reads_first).
    from core.effects import DEMOTED, asks_to_show, destructive

    def group(c):
        return (not c.valid, asks_to_show(first["nl"]) and destructive(c.effects, DEMOTED))

    assert [group(c) for c in result.candidates] == sorted(group(c) for c in result.candidates)
    for g in {group(c) for c in result.candidates}:
        scores = [c.score for c in result.candidates if group(c) == g]
        assert scores == sorted(scores, reverse=True)
    r = cf("eval", "--model", str(out), "--lang", "bash", "--limit", "3", "--data", str(data_dir), "--json")
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["metrics"]["template_match"]["items"] == 3
    r = cf("train", "--arch", "t5-ar", "--stage", "all", "--out", str(tmp_path / "x"), "--train-file", str(bash64))
    assert r.returncode == 2 and "pairs only" in r.stderr.decode()


def test_tied_weights_are_stored_once_and_old_files_with_both_names_still_load(tmp_path):
    """The T5 encoder's input embedding is one tensor under two names: files hold it once (its
    vocabulary rows are most of a small model), every loader fills the second name back in."""
    from safetensors.torch import load_file, save_file

    from core.checkpoint import export_model, load_model, save_model, tied_names
    from core.config import preset
    from core.model import CodeFusion

    torch.manual_seed(0)
    model = CodeFusion(preset("tiny")).eval()
    alias = "encoder.encoder.embed_tokens.weight"
    assert tied_names(model) == {alias: "encoder.shared.weight"}
    save_model(tmp_path / "new", model, CodeTokenizer())
    stored = load_file(str(tmp_path / "new" / "model.safetensors"))
    assert alias not in stored and "encoder.shared.weight" in stored
    loaded, _, _ = load_model(tmp_path / "new")
    for name, t in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], t), name
    assert loaded.encoder.encoder.embed_tokens.weight is loaded.encoder.shared.weight  # still tied

    # A file written before (both names) loads, and its fp16 export drops the alias.
    old = tmp_path / "old"
    save_model(old, model, CodeTokenizer())
    save_file({**stored, alias: stored["encoder.shared.weight"].clone()}, str(old / "model.safetensors"))
    assert torch.equal(load_model(old)[0].encoder.shared.weight, model.encoder.shared.weight)
    export_model(old, tmp_path / "fp16")
    exported = load_file(str(tmp_path / "fp16" / "model.safetensors"))
    assert alias not in exported and exported["encoder.shared.weight"].dtype == torch.float16
    # Installed with the modes of any other file and folder (temporary ones are 0600 / 0700).
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "fp16").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "fp16" / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~umask
