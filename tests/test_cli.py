import json

from tests.conftest import cf


def test_generate_json(tiny_model):
    r = cf("generate", "Display info on most CPU-intensive processes once and exit.", "--model", str(tiny_model),
           "--top-k", "3", "--steps", "5", "--seed", "1", "--json")
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    assert out["lang"] == "bash" and out["prompt"].startswith("Display")
    assert 1 <= len(out["candidates"]) <= 3 and {"code", "score"} <= out["candidates"][0].keys()
    assert out["timings"]["total_ms"] > 0


def test_generate_reads_prompts_from_stdin(tiny_model):
    r = cf("generate", "-", "--model", str(tiny_model), "--steps", "2", "--seed", "0", "--json",
           input=b"list files\n\nremove a directory\n")
    assert r.returncode == 0, r.stderr.decode()
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x["prompt"] for x in lines] == ["list files", "remove a directory"]


def test_a_bad_line_of_a_batch_is_said_by_number_and_the_rest_go_on(tiny_model):
    lines = b"list files\n" + b"x" * 2500 + b"\n\n\xff\xfe bad\nremove a directory\n"
    r = cf("generate", "-", "--model", str(tiny_model), "--steps", "2", "--seed", "0", "--json", input=lines)
    assert r.returncode == 1
    assert [json.loads(x)["prompt"] for x in r.stdout.decode().splitlines()] == ["list files", "remove a directory"]
    assert [line for line in r.stderr.decode().splitlines() if "error" in line] == [
        "cf: error: stdin line 2: the prompt is too long (2500 characters; at most 2000)",
        "cf: error: stdin line 4: not valid UTF-8 (byte 0)"]


def test_the_json_says_the_seed_that_gives_the_same_candidates_again(tiny_model):
    from cfcli.ask import text_block

    def generate(*args):
        r = cf("generate", "list files", "--model", str(tiny_model), "--steps", "3", *args)
        assert r.returncode == 0, r.stderr.decode()
        return r.stdout.decode()

    first = json.loads(generate("--json"))  # no --seed: seed 0, the best set (not a re-roll), said in the JSON
    assert first["seed"] == 0
    again = json.loads(generate("--json", "--seed", str(first["seed"])))
    assert again["seed"] == first["seed"] and again["candidates"] == first["candidates"]
    codes = [c["code"] for c in first["candidates"]]
    assert generate("--seed", str(first["seed"])) == text_block(codes) + "\n"


def test_text_output_heads_candidates_that_span_lines_and_keeps_one_line_ones_plain():
    from cfcli.ask import text_block

    assert text_block(["ls -l", "ls -la"]) == "ls -l\nls -la"  # `cf generate … | head -1` is a command
    assert text_block(["x = load(p)", "with open(p) as f:\n    x = json.load(f)"]) == \
        "# 1\nx = load(p)\n\n# 2\nwith open(p) as f:\n    x = json.load(f)"


def test_bad_input_is_one_line_and_nonzero(tmp_path, tiny_model):
    cases = [
        cf("generate", "x", "--model", str(tmp_path / "missing")),
        cf("generate", "-", "--model", str(tiny_model), input=b"\xff\xfe bad"),
        cf("generate", "", "--model", str(tiny_model)),
        cf("model", "info", str(tmp_path)),
        cf("train", "--out", str(tmp_path / "o"), "--data", str(tmp_path / "nodata")),
    ]
    for r in cases:
        err = r.stderr.decode().strip()
        assert r.returncode != 0
        assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "cf data fetch" in cases[-1].stderr.decode()


def test_model_info(tiny_model):
    r = cf("model", "info", str(tiny_model))
    assert r.returncode == 0
    assert "params" in r.stdout.decode() and "bash" in r.stdout.decode()
    assert "options    none" in r.stdout.decode()


def test_data_fetch_from_local_copy_verifies_checksums(tmp_path, source_data):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in source_data.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "CFRuleBenchmarks.json").write_bytes(b"{}")
    r = cf("data", "fetch", "--from", str(bad), "--dest", str(tmp_path / "d"))
    assert r.returncode == 2 and "checksum mismatch for CFRuleBenchmarks.json" in r.stderr.decode()
    assert not (tmp_path / "d" / "CFRuleBenchmarks.json").exists()
