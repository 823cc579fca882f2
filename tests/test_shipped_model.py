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


@pytest.fixture(scope="module")
def shipped_pipe():
    from core.generate import Pipeline

    return Pipeline.from_pretrained(SHIPPED_MODELS / "codefusion-small")


def test_a_reroll_gives_new_candidates(shipped_pipe, data_dir):
    """Seeds 0, 1, 2 (rolls 0, 1, 2: the picker's first two re-rolls) of 10 Bash test prompts: each
    re-roll brings at least 2 candidates on average that the set before it did not have (issue 32:
    the same 5 came back for 6 of 10 everyday prompts). Ten, not twenty: the suite's longest call."""
    from cfcli.evaluate import load_items
    from core.events import seed_roll

    new = []
    for item in load_items("bash", "test", str(data_dir))[:10]:
        sets = [{c.code for c in shipped_pipe.generate(item.nl, seed=s, roll=seed_roll(s), lang="bash").candidates}
                for s in (0, 1, 2)]
        new += [len(after - before) for before, after in zip(sets, sets[1:])]
    assert sum(new) / len(new) >= 2, new


def test_cf_gives_five_distinct_candidates_for_the_first_50_test_prompts(shipped_pipe, data_dir):
    from cfcli.evaluate import load_items

    items = load_items("cf", "test", str(data_dir))[:50]
    counts = [len(r.candidates) for start in range(0, 50, 16)
              for r in shipped_pipe.generate_batch([it.nl for it in items[start:start + 16]], k=5, seed=start,
                                                   lang="cf")]
    assert sum(n == 5 for n in counts) >= 48, counts  # 45 before the per-template fill round


def test_a_prompt_that_asks_to_show_gets_a_candidate_that_only_shows_first():
    """"show which process is using port 3000" answered five `kill -9`s, unflagged (issue 32)."""
    r = cf("show which process is using port 3000", "--json", env=SHIPPED)
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["model"] == "codefusion-small"  # its name, not this machine's path to it
    candidates = json.loads(r.stdout)["candidates"]
    assert candidates[0]["effects"] == [] and "lsof" in candidates[0]["code"]
    assert any(e.startswith("kills ") for c in candidates for e in c["effects"])
    destructive = [any(e.split()[0] in ("deletes", "kills", "overwrites", "formats") for e in c["effects"])
                   for c in candidates]
    assert destructive == sorted(destructive)  # every reading candidate before every killing one
    assert all(c["origin"] for c in candidates) and "read-only part" in candidates[0]["origin"]


@pytest.mark.parametrize("prompt, value", [("kill process 1234", "1234"),
                                           ("show the last 20 lines of app.log", "20"),
                                           ('Dump "/system/text1.txt" as ASCII characters', "/system/text1.txt")])
def test_a_candidate_that_holds_the_prompts_values_comes_first(shipped_pipe, prompt, value):
    """Each of these had a candidate with the prompt's value among its five, and one without it
    first (`kill $(ps aux | grep '[p]ython csp_build.py' ...)` for "kill process 1234")."""
    from core.retrieval.values import missing_values

    codes = [c.code for c in shipped_pipe.generate(prompt, seed=0, lang="bash").candidates]
    assert value in codes[0], codes
    missing = [missing_values(prompt, c) for c in codes]
    assert missing == sorted(missing), codes


def test_a_find_test_that_points_the_prompts_way_comes_first(shipped_pipe):
    """`find . -size -100M` came first for "find files larger than 100MB", `+100M` among the five."""
    from core.retrieval.values import contradictions

    prompt = "find files larger than 100MB"
    codes = [c.code for c in shipped_pipe.generate(prompt, seed=0, lang="bash").candidates]
    assert "-size +100M" in codes[0] and any(contradictions(prompt, c) for c in codes), codes


def test_remove_directory_tree_puts_rm_r_first(shipped_pipe):
    """Its five were four `find ... -exec rm` variants and `tree -I` (core/retrieval/ranker.py, varied);
    then `find . -type d -name pattern -exec rm -r {} \\;` first, whose `-name` the prompt never
    asked for (core/retrieval/options.py)."""
    import re

    codes = [c.code for c in shipped_pipe.generate("remove directory tree", seed=0, lang="bash").candidates]
    assert re.match(r"(sudo )?rm -[a-z]*r", codes[0]), codes
    assert any(c.startswith("find ") for c in codes[1:]), codes
