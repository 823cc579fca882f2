"""The model that ships in the package: `cf "…"` works right after install, with no --model,
no download and no GPU, for each of the three languages; the shipped weights stay small."""

from __future__ import annotations

import json
import os

import pytest

from conftest import SHIPPED_MODELS, cf

SHIPPED = {"CODEFUSION_SHIPPED_MODELS": str(SHIPPED_MODELS)}


def test_shipped_models_are_listed_and_fit_the_size_budget():
    rows = [json.loads(line) for line in cf("model", "list", "--json", env=SHIPPED).stdout.decode().splitlines()]
    shipped = [r for r in rows if r["source"] == "shipped"]
    default = [r for r in shipped if r["default"]]
    assert default and default[0]["name"] == "codefusion-small"
    assert set(default[0]["langs"].split(",")) == {"bash", "python", "cf"}
    total = sum(os.path.getsize(os.path.join(r["path"], f)) for r in shipped
                for f in ("model.safetensors",)) / 1e6
    assert total <= 60, f"shipped weights are {total:.1f} MB; the budget is 60 MB"
    assert not any((SHIPPED_MODELS / r["name"] / "train_state").exists() for r in shipped)


@pytest.mark.parametrize("lang,prompt", [("bash", "remove directory tree"),
                                         ("python", "read a json file into a dict"),
                                         ("cf", "highlight cells greater than 10")])
def test_cf_answers_without_a_model_option(lang, prompt):
    r = cf(prompt, "--lang", lang, "--json", env=SHIPPED)
    assert r.returncode == 0, r.stderr.decode()
    result = json.loads(r.stdout)
    assert result["lang"] == lang and result["model"].endswith("codefusion-small")
    assert 1 <= len(result["candidates"]) <= 5


def test_the_shipped_model_edits_retrieved_examples_within_the_size_budget():
    from core.retrieval.store import SHIPPED_STORE

    weights = SHIPPED_MODELS / "codefusion-small" / "model.safetensors"
    total = (os.path.getsize(weights) + os.path.getsize(SHIPPED_STORE)) / 1e6
    assert total <= 80, f"model and example store are {total:.1f} MB; the budget is 80 MB"
    r = cf("find all txt files in the current directory", "--json", env=SHIPPED)
    assert r.returncode == 0, r.stderr.decode()
    result = json.loads(r.stdout)
    assert result["examples"] and all(e["source"] in ("train", "user", "tldr") for e in result["examples"])
    assert not any("<str_" in c["code"] or "<num_" in c["code"] for c in result["candidates"])
