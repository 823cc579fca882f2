"""The language server: its pure parts, then the real server over stdio (pytest-lsp) with the tiny
model, raw protocol abuse (bytes a library client would never send), and a real headless Neovim.

The tiny model knows 64 Bash pairs, so prompts below are their descriptions. Python documents are
served by the same model mapped to python through the ``models`` setting: the plumbing is what is
tested there, not Python quality (validity is still checked as Python).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import socket
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp", reason="pytest-lsp is in the test extra: pip install -e '.[test]'")

from lsprotocol import types  # noqa: E402 (pygls and lsprotocol come with pytest-lsp)
from pygls.exceptions import JsonRpcRequestCancelled  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from lsp.edits import (  # noqa: E402
    Text,
    code_actions,
    completion_items,
    completion_site,
    first_line,
    indent_code,
    utf16_width,
    wants_our_kind,
)
from lsp.prompts import CommentPrompt, language_for, prompt_at, prompt_near, split_lines  # noqa: E402
from lsp.settings import Settings, parse_settings, resolve_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVER = [sys.executable, "-m", "lsp"]
STEPS = 4  # the tiny model gets its training pairs right in a few steps; keeps the suite fast
TIMEOUT = 120  # generous: CI machines may be busy

# Descriptions of the tiny model's training pairs, and the code it learned for them.
SET_E = "Abort the shell or script on the first failed command"  # set -e
NL_BA = 'Add a line number to every line in "infile"'  # nl -ba infile
CRONTAB = ('Add cron lists from "filename" to list of cron jobs, giving errors for any lines that '
           'cannot be parsed by crontab.')  # crontab filename
CHMOD = 'Add executable permission to "java_ee_sdk-6u2-jdk-linux-x64.sh"'  # sudo chmod +x …
TOP = "(GNU specific) Display info on most CPU-intensive processes once and exit."  # top -n 1

on_server_loop = pytest.mark.asyncio(loop_scope="module")


# --------------------------------------------------------------------------------------------
# Pure functions
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, lang, text", [
    ("# read a json file into a dict", "python", "read a json file into a dict"),
    ("    # sort the users by age", "python", "sort the users by age"),
    ("## remove directory tree", "bash", "remove directory tree"),
    ('# Add "$HOME/Pictures" to the directory stack', "bash", 'Add "$HOME/Pictures" to the directory stack'),
    ("#!/usr/bin/env python", "python", None),
    ("#!/bin/bash", "bash", None),
    ("# -*- coding: utf-8 -*-", "python", None),
    ("# type: ignore", "python", None),
    ("# noqa: E501", "python", None),
    ("# pylint: disable=invalid-name", "python", None),
    ("# shellcheck disable=SC2086", "bash", None),
    ("# x = compute(y)", "python", None),  # commented-out code
    ("# import os", "python", None),
    ("# print('hi')", "python", None),
    ("# rm -rf build", "bash", None),
    ("# find . -name '*.txt' | xargs wc -l", "bash", None),
    ("# echo $HOME", "bash", None),
    ("# X=1", "bash", None),
    ("# ----------", "bash", None),
    ("# cleanup", "bash", None),  # one word is not an instruction
    ("echo hi  # trailing comments are not prompts", "bash", None),
])
def test_prompt_detection(line, lang, text):
    prompt = prompt_at(["", line, ""], 1, lang)
    assert (prompt.text if prompt else None) == text


def test_prompt_blocks_join_lines_and_stop_at_directives_and_code():
    lines = ["#!/bin/sh", "  # remove the", "  # directory tree", "  rm -rf x"]
    assert prompt_at(lines, 2, "bash") == CommentPrompt("remove the directory tree", 1, 2, "  ")
    assert prompt_at(lines, 0, "bash") is None
    assert prompt_at(["# a long block"] * 5, 2, "bash") is None  # documentation, not a prompt
    for line in (-1, 4, 10**9):
        assert prompt_at(lines, line, "bash") is None


def test_languages_and_line_splitting():
    assert [language_for(x) for x in ("python", "shellscript", "sh", "bash", "zsh", "rust", None)] == \
        ["python", "bash", "bash", "bash", "bash", None, None]
    # LSP has three line breaks; a form feed (legal in Python source) is not one of them.
    assert split_lines("a\r\nb\rc\nd\x0ce\n") == ["a", "b", "c", "d\x0ce", ""]


def test_edits_insert_below_at_the_comment_indentation_and_replace_it():
    lines = ["def f():", "    # read a json file into a dict", "    pass", ""]
    prompt = prompt_at(lines, 1, "python")
    cand = type("C", (), {"code": "with open(p) as f:\n    d = json.load(f)", "score": -0.1, "valid": True})
    insert, replace = code_actions("file:///a.py", 3, prompt, [cand], Text(lines))
    assert insert.title == "CodeFusion: with open(p) as f: …"
    assert insert.edit.changes["file:///a.py"][0] == types.TextEdit(
        range=types.Range(start=types.Position(2, 0), end=types.Position(2, 0)),
        new_text="    with open(p) as f:\n        d = json.load(f)\n")
    assert replace.edit.changes["file:///a.py"][0].range == types.Range(types.Position(1, 0), types.Position(1, len(lines[1])))
    # The comment on the last line, no newline after it: insert at its end (UTF-16 columns).
    lines = ["# remove the directory tree named ☃𝄞"]
    prompt = prompt_at(lines, 0, "bash")
    cand.code = "rm -r ☃𝄞"
    insert, _ = code_actions("file:///a.sh", 1, prompt, [cand], Text(lines, utf16_width), versioned=True)
    edit = insert.edit.document_changes[0].edits[0]
    assert edit.range.start == types.Position(0, len(lines[0]) + 1)  # 𝄞 is two UTF-16 units
    assert edit.new_text == "\nrm -r ☃𝄞"
    assert insert.edit.document_changes[0].text_document.version == 1
    # Windows line endings stay Windows line endings.
    crlf = Text.of("def f():\r\n    # read a json file into a dict\r\n    pass\r\n")
    cand.code = "with open(p) as f:\n    d = json.load(f)"
    insert, _ = code_actions("file:///a.py", 1, prompt_at(crlf.lines, 1, "python"), [cand], crlf)
    assert insert.edit.changes["file:///a.py"][0].new_text == "    with open(p) as f:\r\n        d = json.load(f)\r\n"


def test_completion_sites_and_items_keep_the_rank():
    text = Text.of("if true; then\n  # remove directory tree\n  \n  echo x\n")
    below = completion_site(text, 2, 2, "bash")  # the line is indented like the comment
    assert (below.line, below.start, below.end, below.newline_first) == (2, 2, 2, False)
    redo = completion_site(text, 2, 0, "bash")  # the cursor before the indentation: redo the line
    assert (redo.start, redo.end) == (0, 2)
    at_end = completion_site(text, 1, 25, "bash")
    assert at_end.newline_first and at_end.start == 25
    inside = completion_site(text, 1, 6, "bash")  # inside the comment text: it stays whole
    assert (inside.start, inside.end, inside.newline_first) == (6, 25, True)
    assert completion_site(text, 3, 0, "bash") is None  # code below code
    assert completion_site(text, 99, 0, "bash") is None
    cands = [type("C", (), {"code": c, "score": s, "valid": v, "warnings": w})
             for c, s, v, w in [("rm -r d", -0.1, True, []), ("rm -rf d", -0.2, True, ["deletes files"])]]
    items = completion_items(below, cands, text)
    assert [i.sort_text for i in items] == ["00", "01"]
    assert items[0].text_edit.new_text == "rm -r d" and items[0].preselect
    assert completion_items(redo, cands, text)[0].text_edit.new_text == "  rm -r d"
    assert items[1].detail == "CodeFusion #2 · score -0.200 · valid syntax · deletes files"
    assert items[0].insert_text_format == types.InsertTextFormat.PlainText  # `$` must survive
    assert items[0].kind == types.CompletionItemKind.Text  # plain text, not a snippet
    mid = completion_items(inside, cands, text)[0]
    assert mid.text_edit.new_text == "move directory tree\n  rm -r d" and mid.filter_text == "  rm -r d"
    # Warnings also reach code action titles, and a dangerous candidate is never "preferred".
    risky = code_actions("file:///r.sh", 1, below.prompt, cands[::-1], text)
    assert risky[0].title == "CodeFusion: rm -rf d (⚠ deletes files)" and not risky[0].is_preferred
    assert risky[1].is_preferred  # the best candidate that is safe and parses
    broken = type("C", (), {"code": "rm -r 'd", "score": -0.05, "valid": False, "warnings": []})
    assert [bool(a.is_preferred) for a in code_actions("file:///r.sh", 1, below.prompt, [broken, *cands], text)] == \
        [False, True, False, False]
    assert not any(a.is_preferred for a in code_actions("file:///r.sh", 1, below.prompt, [broken], text))


def test_completion_detail_says_the_confidence_the_origin_and_what_a_candidate_deletes():
    from core.events import Candidate
    from lsp.edits import describe, warning_suffix

    kill = Candidate("kill -9 $(lsof -t -i:3000)", 2.994, True, [], ["kills the processes lsof finds"],
                     confidence=0.41, origin="edited from NL2Bash")
    assert describe(kill, 1) == ("CodeFusion #1 · 41% likely right · edited from NL2Bash · valid syntax · "
                                 "kills the processes lsof finds")
    assert warning_suffix(kill) == " (⚠ kills the processes lsof finds)"
    raw = Candidate("ls", -0.25, True)  # a model without a calibration: its raw score, as before
    assert describe(raw, 2) == "CodeFusion #2 · score -0.250 · valid syntax" and warning_suffix(raw) == ""


def test_settings_parse_validate_and_keep_previous_values():
    s, problems = parse_settings({"codefusion": {"model": "/m", "models": {"shellscript": "/b"}, "topK": 3,
                                                 "steps": 10, "languages": ["python", "zsh"]}})
    assert problems == []
    assert (s.model, s.explicit_model_for("bash"), s.top_k, s.steps, s.languages) == \
        ("/m", "/b", 3, 10, ("python", "bash"))
    s2, problems = parse_settings({"steps": "many", "top_k": 99, "languages": "python", "device": "tpu"}, s)
    assert len(problems) == 4 and s2 == s
    assert parse_settings(None, s) == (s, [])
    assert parse_settings([1, 2], s)[1]
    # Neovim sends `init_options = {}` and `models = {}` as [].
    assert parse_settings([], s) == (s, [])
    assert parse_settings({"models": []}, s) == (replace(s, models=()), [])
    # Model paths: ~ expanded, relative ones from the workspace root.
    assert resolve_path("runs/m", "/ws") == "/ws/runs/m"
    assert resolve_path("~/m", "/ws") == os.path.expanduser("~/m")
    assert resolve_path("/abs/m/", None) == "/abs/m"


def test_prompt_near_takes_the_blank_line_below_a_prompt():
    lines = ["echo a", "# remove directory tree", "", "  ", "echo b", "", "# x = 1", ""]
    assert prompt_near(lines, 1, "bash").text == "remove directory tree"
    assert prompt_near(lines, 2, "bash") == prompt_at(lines, 1, "bash")  # the blank line below
    for line in (0, 3, 4, 5, 7, 8, -1):  # two lines below, code, a blank line below code or not-a-prompt
        assert prompt_near(lines, line, "bash") is None


def test_small_helpers():
    assert first_line("a\nb") == "a …" and first_line("x" * 100).endswith("…")
    assert indent_code("a\n\n  b\n", "\t") == "\ta\n\n\t  b"
    assert wants_our_kind(None) and wants_our_kind(["refactor"]) and not wants_our_kind(["source.organizeImports"])


def test_vscode_extension_forwards_every_server_setting_and_packages_cleanly():
    vscode = ROOT / "editors" / "vscode"
    manifest = json.loads((vscode / "package.json").read_text())
    settings = {k.split(".", 1)[1]: v for k, v in manifest["contributes"]["configuration"]["properties"].items()}
    server_side = {k: v["default"] for k, v in settings.items() if k != "command"}
    assert set(server_side) == {"model", "models", "steps", "topK", "languages", "device", "seed"}
    # Forwarded as they are named, and the server's own defaults.
    forwarded = re.findall(r'(\w+): config\.get\("(\w+)"\)', (vscode / "src" / "extension.ts").read_text())
    assert sorted(forwarded) == sorted((k, k) for k in server_side)
    assert parse_settings(server_side) == (Settings(), [])
    # What `vsce package` asks for, and no sources in the package.
    assert manifest["repository"]["url"] and manifest["license"] == "MIT" and (vscode / "LICENSE").is_file()
    assert "src/**" in (vscode / ".vscodeignore").read_text().split()
    docs = (ROOT / "docs" / "editors.md").read_text()
    assert all(f"`codefusion.{k}`" in docs for k in settings)


def test_engine_quantises_a_model_once_for_all_its_languages(tiny_model):
    from torch import nn

    from core.generate import Pipeline
    from lsp.engine import Engine, GenerationRequest

    engine = Engine()
    try:
        ask = dict(prompt="remove directory tree", model=str(tiny_model), steps=STEPS, top_k=5, seed=0, device="cpu")
        answers = {lang: engine._generate_blocking(GenerationRequest(lang=lang, **ask), threading.Event(), [0])
                   for lang in ("bash", "python")}
        bash, python = (engine._pipeline(str(tiny_model), "cpu", lang) for lang in ("bash", "python"))
        assert (bash.lang, python.lang) == ("bash", "python") and bash.model is python.model
        assert bash.precision == "int8" and not any(type(m) is nn.Linear for m in bash.model.modules())
        # Each language against a fresh pipeline for that same language: a pipeline with no language
        # answers for the model's first (Bash), which a tiny model may or may not answer alike.
        fresh = Pipeline.from_pretrained(tiny_model, "cpu")
        for lang in ("bash", "python"):
            expected = fresh.with_lang(lang).generate(ask["prompt"], k=5, steps=STEPS, seed=0)
            assert [c.code for c in answers[lang]] == [c.code for c in expected.candidates], lang
    finally:
        engine.close()


# --------------------------------------------------------------------------------------------
# The real server over stdio, with the tiny model (one server for the module)
# --------------------------------------------------------------------------------------------

def initialization_options(model: Path) -> dict:
    # Python documents get the (Bash) tiny model through `models`: see the module docstring.
    return {"model": str(model), "models": {"python": str(model)}, "steps": STEPS}


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, tiny_model):
    lsp_client.init_result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options=initialization_options(tiny_model)))
    yield
    await lsp_client.shutdown_session()


def open_doc(client: LanguageClient, name: str, text: str, language_id: str) -> str:
    uri = f"file:///tmp/codefusion-lsp-test/{name}"
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))
    return uri


async def actions_at(client: LanguageClient, uri: str, line: int, **context) -> list | None:
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=types.Range(types.Position(line, 0), types.Position(line, 0)),
        context=types.CodeActionContext(diagnostics=[], **context))
    return await asyncio.wait_for(client.text_document_code_action_async(params), TIMEOUT)


async def complete_at(client: LanguageClient, uri: str, line: int, character: int):
    params = types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
    return await asyncio.wait_for(client.text_document_completion_async(params), TIMEOUT)


def only_edit(action: types.CodeAction) -> types.TextEdit:
    edit = action.edit
    if edit.document_changes:
        return edit.document_changes[0].edits[0]
    return next(iter(edit.changes.values()))[0]


def apply_edit(text: str, edit: types.TextEdit) -> str:
    """Apply one TextEdit to text (UTF-16 columns; the tests' text is ASCII)."""
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        return sum(len(x) + 1 for x in lines[: p.line]) + p.character

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]


SHELL_DOC = textwrap.dedent(f"""\
    #!/bin/bash
    main() {{
        # {SET_E}
        echo start
    }}
    """)


@on_server_loop
async def test_initialize_advertises_actions_and_completions(client: LanguageClient):
    caps = client.init_result.capabilities
    assert list(caps.code_action_provider.code_action_kinds) == [types.CodeActionKind.RefactorRewrite]
    assert caps.completion_provider is not None and caps.inline_completion_provider is not None
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert client.init_result.server_info.name == "codefusion"


@on_server_loop
async def test_code_action_loads_the_model_with_progress_and_inserts_below(client: LanguageClient):
    uri = open_doc(client, "a.sh", SHELL_DOC, "shellscript")
    started = time.perf_counter()
    actions = await actions_at(client, uri, 2)
    print(f"cold codeAction (model load + generation): {time.perf_counter() - started:.2f} s")
    assert 2 <= len(actions) <= 6
    assert actions[0].title == "CodeFusion: set -e" and actions[0].is_preferred
    assert actions[-1].title == "CodeFusion: replace the comment with set -e"
    assert apply_edit(SHELL_DOC, only_edit(actions[0])) == SHELL_DOC.replace("echo start", "set -e\n    echo start")
    assert apply_edit(SHELL_DOC, only_edit(actions[-1])) == SHELL_DOC.replace(f"# {SET_E}", "set -e")
    assert only_edit(actions[0]).range.start == types.Position(3, 0)
    # The model was loaded under a work-done progress the server created.
    reports = [r for rs in client.progress_reports.values() for r in rs]
    assert [type(r).__name__ for r in reports] == ["WorkDoneProgressBegin", "WorkDoneProgressEnd"]
    assert "loading" in reports[0].message


@on_server_loop
async def test_cached_answers_and_automatic_requests_never_generate(client: LanguageClient):
    uri = open_doc(client, "cached.sh", f"# {SET_E}\n\n# {TOP}\necho\n", "shellscript")
    started = time.perf_counter()
    actions = await actions_at(client, uri, 0)  # same prompt as the previous test: from the cache
    cached_s = time.perf_counter() - started
    print(f"cached codeAction: {cached_s * 1000:.1f} ms")
    assert actions[0].title == "CodeFusion: set -e" and cached_s < 5
    # The light bulb asks on every cursor move: only cached answers for those.
    assert await actions_at(client, uri, 2, trigger_kind=types.CodeActionTriggerKind.Automatic) is None
    assert (await actions_at(client, uri, 0, trigger_kind=types.CodeActionTriggerKind.Automatic))[0].title == \
        "CodeFusion: set -e"
    # Source actions on save are not ours.
    assert await actions_at(client, uri, 0, only=[types.CodeActionKind.SourceOrganizeImports]) is None
    # Lines that are not prompts: code, and a blank line below code.
    assert await actions_at(client, uri, 3) is None and await actions_at(client, uri, 4) is None


@on_server_loop
async def test_incremental_edits_are_followed(client: LanguageClient):
    text = f"echo one\n# {SET_E}\necho two\n"
    uri = open_doc(client, "incremental.sh", text, "shellscript")
    # Replace the comment's text, then insert a line above it: both as incremental changes.
    line1_end = 2 + len(SET_E)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [types.TextDocumentContentChangePartial(range=types.Range(types.Position(1, 2), types.Position(1, line1_end)),
                                                text=NL_BA),
         types.TextDocumentContentChangePartial(range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                                                text="set -u\n")]))
    started = time.perf_counter()
    actions = await actions_at(client, uri, 2)
    print(f"warm codeAction (cache miss): {time.perf_counter() - started:.2f} s")
    assert actions[0].title == "CodeFusion: nl -ba infile"
    assert only_edit(actions[0]).range.start == types.Position(3, 0)
    assert actions[0].edit.document_changes[0].text_document.version == 2


@on_server_loop
async def test_completion_below_a_prompt_and_at_its_end(client: LanguageClient):
    uri = open_doc(client, "complete.sh", f"if true; then\n  # {SET_E}\n  \n  echo x\nfi\n", "shellscript")
    result = await complete_at(client, uri, 2, 2)
    assert 1 <= len(result.items) <= 5
    first = result.items[0]
    assert first.label == "set -e" and first.sort_text == "00"
    assert first.kind == types.CompletionItemKind.Text
    assert first.text_edit.new_text == "set -e"  # after the indentation the editor put there
    assert first.text_edit.range == types.Range(types.Position(2, 2), types.Position(2, 2))
    assert "score" in first.detail and "valid syntax" in first.detail
    at_end = await complete_at(client, uri, 1, 4 + len(SET_E))
    assert at_end.items[0].text_edit.new_text == "\n  set -e"
    assert await complete_at(client, uri, 3, 8) is None  # ordinary code: not ours


@on_server_loop
async def test_the_prompt_is_found_from_the_blank_line_below_and_inside_the_comment(client: LanguageClient):
    text = f"echo start\n# {SET_E}\n\necho end\n"
    with_code = text.replace(f"# {SET_E}\n", f"# {SET_E}\nset -e\n")
    uri = open_doc(client, "near.sh", text, "shellscript")
    # A code action on the blank line just below the comment: the comment's actions.
    actions = await actions_at(client, uri, 2)
    assert actions[0].title == "CodeFusion: set -e"
    assert apply_edit(text, only_edit(actions[0])) == with_code
    # Completion with the cursor inside the comment: the comment stays whole, the code goes below.
    item = (await complete_at(client, uri, 1, 7)).items[0]
    assert item.label == "set -e"
    assert item.text_edit.range == types.Range(types.Position(1, 7), types.Position(1, 2 + len(SET_E)))
    assert apply_edit(text, item.text_edit) == with_code
    # Two lines below, or below code: still nothing.
    assert await actions_at(client, uri, 3) is None and await actions_at(client, uri, 4) is None


@on_server_loop
async def test_inline_completion_below_a_prompt(client: LanguageClient):
    uri = open_doc(client, "inline.sh", f"# {SET_E}\n\n", "shellscript")
    result = await asyncio.wait_for(client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(1, 0))), TIMEOUT)
    assert result.items[0].insert_text == "set -e"


@on_server_loop
async def test_python_documents_use_the_model_set_for_python(client: LanguageClient):
    text = f"import os\n\n\ndef main():\n    # {NL_BA}\n    pass\n"
    uri = open_doc(client, "a.py", text, "python")
    actions = await actions_at(client, uri, 4)
    assert actions[0].title == "CodeFusion: nl -ba infile"
    assert only_edit(actions[0]).new_text == "    nl -ba infile\n"
    assert not actions[0].is_preferred  # it does not parse as Python: never applied without a look
    items = (await complete_at(client, uri, 5, 4))
    assert items is None  # `pass` follows the cursor: not a completion site
    uri2 = open_doc(client, "b.py", f"# {NL_BA}\n", "python")
    items = await complete_at(client, uri2, 1, 0)
    assert "invalid syntax" in items.items[0].detail  # checked as Python, not as Bash


@on_server_loop
async def test_settings_changes_and_bad_settings_keep_the_server_serving(client: LanguageClient, tiny_model):
    uri = open_doc(client, "settings.py", f"# {NL_BA}\n", "python")
    # Without a python model the (bash) default model is not used for Python: empty, and told once.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"codefusion": {"models": {}}}))
    assert await actions_at(client, uri, 0) is None
    assert any("not python" in m.message for m in client.messages)
    # Bad values are reported in the log and the previous ones kept.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        {"steps": "many", "topK": 99, "models": {"python": str(tiny_model)}}))
    assert (await actions_at(client, uri, 0))[0].title == "CodeFusion: nl -ba infile"
    logged = " ".join(m.message for m in client.log_messages)
    assert "steps must be a positive integer" in logged and "topK must be" in logged
    # More steps than the model has: the pipeline's own error, shown, and an empty answer.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"steps": 5000}))
    assert await actions_at(client, uri, 0) is None
    assert any("between 1 and 1200" in m.message for m in client.messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"steps": STEPS}))
    # A model directory that does not exist: an error message, an empty answer, still serving.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"models": {"python": "/nonexistent"}}))
    assert await actions_at(client, uri, 0) is None
    assert any("/nonexistent" in m.message for m in client.messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(initialization_options(tiny_model)))


@on_server_loop
async def test_cancel_request_stops_the_sampler_within_a_step(client: LanguageClient, tiny_model):
    uri = open_doc(client, "cancel.sh", f"# {CRONTAB}\n\n# {CHMOD}\n\n# {SET_E}\n", "shellscript")
    assert await actions_at(client, uri, 4)  # the model is loaded (cached when the whole module runs)
    # The full 1200-step schedule: minutes on a CPU for the tiny model.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"steps": 1200}))
    params = types.CodeActionParams(types.TextDocumentIdentifier(uri), types.Range(types.Position(0, 0), types.Position(0, 0)),
                                    types.CodeActionContext(diagnostics=[]))
    slow = asyncio.ensure_future(client.protocol.send_request_async(types.TEXT_DOCUMENT_CODE_ACTION, params,
                                                                    msg_id="slow-code-action"))
    await asyncio.sleep(1.5)  # let the sampler start
    assert not slow.done()
    started = time.perf_counter()
    client.cancel_request(types.CancelParams(id="slow-code-action"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(slow, 10)
    print(f"cancel answered in {1000 * (time.perf_counter() - started):.0f} ms")
    assert time.perf_counter() - started < 5
    # The sampler itself stops at its next step, and the server says after how many.
    stopped = None
    while stopped is None and time.perf_counter() - started < 30:
        await asyncio.sleep(0.05)
        stopped = next((m.message for m in client.log_messages if "generation cancelled after" in m.message), None)
    print(f"{stopped} ({1000 * (time.perf_counter() - started):.0f} ms after the cancel)")
    assert stopped is not None and int(stopped.split("after ")[1].split(" of")[0]) < 1200
    # And the one worker is free again: a fresh request is quick.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"steps": STEPS}))
    started = time.perf_counter()
    actions = await actions_at(client, uri, 2)
    assert actions[0].title.startswith("CodeFusion: sudo chmod +x")
    assert time.perf_counter() - started < 60  # vs minutes had the 1200 steps kept running


@on_server_loop
async def test_a_newer_request_for_the_same_comment_supersedes_older_ones(client: LanguageClient):
    # 20 steps: long enough that no generation ends before the next request is read.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"steps": 20}))
    uri = open_doc(client, "burst.sh", "echo start\n", "shellscript")
    # The comment being typed, three characters at a time, with a code action after each change:
    # 20 requests sent at once, none awaited before the last is sent.
    typed = [TOP[:n] for n in range(len(TOP) - 57, len(TOP) + 1, 3)]
    assert len(typed) == 20 and typed[-1] == TOP
    pending = []
    for version, prompt in enumerate(typed, start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangeWholeDocument(text=f"# {prompt}\necho start\n")]))
        pending.append(client.text_document_code_action_async(types.CodeActionParams(
            types.TextDocumentIdentifier(uri), types.Range(types.Position(0, 0), types.Position(0, 0)),
            types.CodeActionContext(diagnostics=[]))))
    started = time.perf_counter()
    answers = await asyncio.wait_for(asyncio.gather(*pending), TIMEOUT)
    print(f"20 queued code actions: the last answered after {time.perf_counter() - started:.2f} s")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"steps": STEPS}))
    # The older ones were answered at once, empty; only the newest generated.
    assert answers[:-1] == [None] * 19
    assert answers[-1][0].title.startswith("CodeFusion: ")


@on_server_loop
async def test_bad_inputs_get_empty_answers(client: LanguageClient):
    rust = open_doc(client, "a.rs", f"# {SET_E}\n", "rust")
    assert await actions_at(client, rust, 0) is None
    assert await complete_at(client, rust, 1, 0) is None
    never_opened = "file:///tmp/codefusion-lsp-test/never-opened.sh"
    assert await actions_at(client, never_opened, 0) is None
    uri = open_doc(client, "range.sh", f"# {SET_E}\n", "shellscript")
    for line, character in [(10**6, 10**6), (2**31 - 1, 0), (2, 0)]:
        assert await actions_at(client, uri, line) is None
        assert await complete_at(client, uri, line, character) is None
    # A column past the end of the line is clamped to its end: completion at the end of the comment.
    assert (await complete_at(client, uri, 0, 10**6)).items[0].text_edit.new_text == "\nset -e"
    # Incremental edits with ranges past the end are clamped, not fatal.
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [types.TextDocumentContentChangePartial(range=types.Range(types.Position(50, 3), types.Position(99, 0)),
                                                text="\necho tail\n")]))
    assert (await actions_at(client, uri, 0))[0].title == "CodeFusion: set -e"


@on_server_loop
async def test_huge_documents_are_served(client: LanguageClient):
    body = "echo line\n" * 200_000  # 2 MB
    uri = open_doc(client, "huge.sh", body + f"# {SET_E}\n", "shellscript")
    started = time.perf_counter()
    actions = await actions_at(client, uri, 200_000)
    print(f"codeAction on a 2 MB document (cached prompt): {time.perf_counter() - started:.2f} s")
    assert actions[0].title == "CodeFusion: set -e"
    assert only_edit(actions[0]).range.start == types.Position(200_001, 0)
    # One 4 MB comment line is not a prompt, and finding that out is quick.
    long_line = open_doc(client, "long-line.py", "# " + "do it " * 700_000 + "\n", "python")
    started = time.perf_counter()
    assert await actions_at(client, long_line, 0) is None
    assert await complete_at(client, long_line, 0, 4_200_002) is None
    assert time.perf_counter() - started < 10


# --------------------------------------------------------------------------------------------
# Raw protocol: what a well-behaved client library will not send
# --------------------------------------------------------------------------------------------

class RawServer:
    """The server in a subprocess, spoken to in framed bytes."""

    def __init__(self, command: list[str] = SERVER, stderr=subprocess.DEVNULL):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, cwd=ROOT)
        self.inbox: queue.Queue = queue.Queue()
        self.seen: list[dict] = []  # every message, notifications too, in order
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line == b"\r\n":
                    break
            message = json.loads(out.read(length))
            self.seen.append(message)
            self.inbox.put(message)

    def send_bytes(self, body: bytes):
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj: dict):
        self.send_bytes(json.dumps(obj).encode())

    def request(self, id_, method: str, params) -> dict:
        self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params})
        return self.answer(id_)

    def answer(self, id_, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.inbox.get(timeout=max(0.01, deadline - time.monotonic()))
            if msg.get("id") == id_ and "method" not in msg:
                return msg

    def notify(self, method: str, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def raw():
    server = RawServer()
    yield server
    server.close()


INIT = {"processId": None, "rootUri": None, "capabilities": {}}


def code_action_params(uri: str, line: int = 0) -> dict:
    pos = {"line": line, "character": 0}
    return {"textDocument": {"uri": uri}, "range": {"start": pos, "end": pos}, "context": {"diagnostics": []}}


def test_requests_before_initialize_are_refused_and_initialize_still_works(raw):
    assert raw.request(1, "textDocument/codeAction", code_action_params("file:///x.sh"))["error"]["code"] == -32002
    raw.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///x.sh", "languageId": "sh", "version": 1,
                                                         "text": "# remove directory tree\n"}})
    assert "capabilities" in raw.request(2, "initialize", INIT)["result"]
    assert raw.request(3, "initialize", INIT)["error"]["code"] == -32600  # only once
    raw.notify("initialized", {})
    # The didOpen sent before initialize was dropped, as the spec asks: the document is unknown.
    assert raw.request(4, "textDocument/codeAction", code_action_params("file:///x.sh")) == \
        {"jsonrpc": "2.0", "id": 4, "result": None}


def test_invalid_utf8_bad_params_bad_json_and_unknown_methods(raw):
    raw.request(1, "initialize", INIT)
    raw.notify("initialized", {})
    # Invalid UTF-8 inside a document: decoded with U+FFFD, the document is served.
    text = b"# remove the directory tree \xff\xfe caf\xe9\n\n"
    raw.send_bytes(b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": '
                   b'{"uri": "file:///u.sh", "languageId": "sh", "version": 1, "text": "' +
                   text.replace(b"\n", b"\\n") + b'"}}}')
    # ... and a request with invalid UTF-8 still gets its answer (no model is set: empty).
    raw.send_bytes(b'{"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion", "params": '
                   b'{"textDocument": {"uri": "file:///u\xff.sh"}, "position": {"line": 1, "character": 0}}}')
    assert raw.answer(2)["result"] is None
    assert raw.request(3, "textDocument/completion", {"textDocument": {"uri": "file:///u.sh"},
                                                      "position": {"line": 1, "character": 0}})["result"] is None
    # Params of the wrong shape: InvalidParams, for that very request.
    bad = raw.request(4, "textDocument/codeAction", {"textDocument": {"uri": 5}, "range": "everything"})
    assert bad["error"]["code"] == -32602
    raw.send_bytes(b'{"jsonrpc": "2.0", "id": 5, "method": ')  # not JSON: ParseError, keep going
    assert raw.answer(None)["error"]["code"] == -32700
    assert raw.request(6, "codefusion/unknown", {})["error"]["code"] == -32601
    assert raw.request(7, "textDocument/codeAction", code_action_params("file:///u.sh"))["result"] is None
    assert raw.proc.poll() is None


def test_cf_lsp_shutdown_refuses_further_requests_and_exit_ends_the_process():
    raw = RawServer([sys.executable, "-m", "cfcli", "lsp"])  # the `cf lsp` entry point this time
    try:
        raw.request(1, "initialize", INIT)
        raw.notify("initialized", {})
        assert raw.request(2, "shutdown", None) == {"jsonrpc": "2.0", "id": 2, "result": None}
        assert raw.request(3, "textDocument/codeAction", code_action_params("file:///x.sh"))["error"]["code"] == -32600
        raw.notify("exit", None)
        assert raw.proc.wait(timeout=30) == 0
    finally:
        raw.close()


def framed(body: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


def unknown(id_: int) -> bytes:
    """A request the server answers MethodNotFound: its answer shows the message was read whole."""
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": "codefusion/unknown", "params": {}}).encode()


def test_framing_errors_are_answered_and_the_next_message_is_found(raw):
    raw.request(1, "initialize", INIT)
    raw.notify("initialized", {})

    def answered(*ids) -> bool:
        return all(raw.answer(i, timeout=10)["error"]["code"] == -32601 for i in ids)

    # Not JSON: ParseError with id null. JSON, but not a JSON-RPC message: InvalidRequest.
    raw.send_raw(framed(b'{"jsonrpc": "2.0", "id": 2, "method": '))
    assert raw.answer(None, timeout=10)["error"]["code"] == -32700
    raw.send_raw(framed(b"[1, 2]"))
    assert raw.answer(None, timeout=10)["error"]["code"] == -32600
    raw.send_raw(framed(b'{"id": 3, "method": "shutdown"}'))  # no "jsonrpc"
    assert raw.answer(3, timeout=10)["error"]["code"] == -32600
    # Content-Length too small (e.g. characters counted, not bytes), the next message right behind.
    raw.send_raw(framed(unknown(4), len(unknown(4)) - 9) + framed(unknown(5)))
    assert answered(4, 5)
    # Too large, and the client waits for its answer.
    raw.send_raw(framed(unknown(6), len(unknown(6)) + 40))
    assert answered(6)
    # Too large, the next message right behind.
    raw.send_raw(framed(unknown(7), len(unknown(7)) + 12) + framed(unknown(8)))
    assert answered(7, 8)
    # Not a number, then the next message.
    raw.send_raw(b"Content-Length: many\r\n\r\n" + unknown(9) + framed(unknown(10)))
    assert answered(9, 10)
    # Lowercase with bare line feeds; junk between messages.
    raw.send_raw(b"content-length:%d\n\n" % len(unknown(11)) + unknown(11))
    raw.send_raw(b"garbage\r\n" + framed(unknown(12)))
    assert answered(11, 12)
    # Too small and no JSON even whole: ParseError, and the next message is still found.
    raw.send_raw(framed(b"{oops}", 3) + framed(unknown(13)))
    assert raw.answer(None, timeout=10)["error"]["code"] == -32700 and answered(13)
    # Everything came back well framed (the reader above would have choked), and the server serves.
    assert raw.request(14, "shutdown", None) == {"jsonrpc": "2.0", "id": 14, "result": None}
    raw.notify("exit", None)
    assert raw.proc.wait(timeout=30) == 0


def test_exit_without_shutdown_exits_with_code_1(raw):
    raw.request(1, "initialize", INIT)
    raw.notify("initialized", {})
    raw.notify("exit", None)
    assert raw.proc.wait(timeout=30) == 1


def test_empty_list_settings_from_neovim_mean_no_settings(raw):
    # Neovim 0.7 encodes `init_options = {}` (and `models = {}`) as [].
    raw.request(1, "initialize", {**INIT, "initializationOptions": []})
    raw.notify("initialized", {})
    raw.notify("workspace/didChangeConfiguration", {"settings": {"models": [], "steps": 3}})
    raw.notify("workspace/didChangeConfiguration", {"settings": {"topK": 99}})  # a real mistake, still told
    raw.request(2, "codefusion/unknown", {})  # answered after the notifications before it
    logged = [m["params"]["message"] for m in raw.seen if m.get("method") == "window/logMessage"]
    assert logged == ["CodeFusion settings: topK must be an integer from 1 to 5"]


def test_tcp_transport():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([*SERVER, "--tcp", f"127.0.0.1:{port}"], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not listen"
                time.sleep(0.1)
        with conn, conn.makefile("rb") as replies:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT}).encode()
            conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            length = int(replies.readline().split(b":")[1])
            while replies.readline() != b"\r\n":
                pass
            assert "codeActionProvider" in json.loads(replies.read(length))["result"]["capabilities"]
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("verbose", [False, True])
def test_protocol_errors_are_one_log_line_each_with_tracebacks_only_when_verbose(tmp_path, verbose):
    log = tmp_path / "stderr.log"
    with open(log, "wb") as stderr:
        raw = RawServer([sys.executable, "-m", "cfcli", "lsp", *(["--verbose"] if verbose else [])], stderr=stderr)
    try:
        raw.request(1, "initialize", INIT)
        raw.notify("initialized", {})
        bad = raw.request(2, "textDocument/codeAction", {"textDocument": {"uri": 5}, "range": "everything"})
        assert bad["error"]["code"] == -32602
        raw.send_bytes(b'{"jsonrpc": "2.0", "id": 3, "method": ')
        assert raw.answer(None)["error"]["code"] == -32700
        assert raw.request(4, "shutdown", None)["result"] is None
        raw.notify("exit", None)
        assert raw.proc.wait(timeout=30) == 0
    finally:
        raw.close()
    text = log.read_text()
    if verbose:
        assert text.count("Traceback") >= 2
    else:
        lines = text.splitlines()
        assert "Traceback" not in text and len(lines) == 2, text
        assert "Unable to deserialize message: ClassValidationError: " in lines[0] and "@ $.params." in lines[0]
        assert "not JSON" in lines[1]


def test_one_ctrl_c_ends_cf_lsp():
    raw = RawServer([sys.executable, "-m", "cfcli", "lsp"])
    try:
        raw.request(1, "initialize", INIT)  # serving, and waiting on an open stdin
        started = time.monotonic()
        raw.proc.send_signal(signal.SIGINT)
        assert raw.proc.wait(timeout=15) == 130  # pygls used to wait for a second Ctrl-C
        assert time.monotonic() - started < 15
    finally:
        raw.close()


def test_closing_stdin_without_exit_ends_the_process(raw):
    raw.request(1, "initialize", INIT)
    raw.proc.stdin.close()
    raw.proc.wait(timeout=30)


# --------------------------------------------------------------------------------------------
# A real editor: headless Neovim (Debian's 0.7: start_client + buf_attach_client)
# --------------------------------------------------------------------------------------------

# How both Neovim drivers end: stop the client, and write any error where the test reads it.
LUA_STOP_AND_REPORT = r"""  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
end
local ok, err = pcall(run)
if not ok then
  local f = io.open(os.getenv("CF_OUT") .. ".err", "w")
  f:write(tostring(err))
  f:close()
end
vim.cmd("qa!")
"""

NVIM_SCRIPT = r"""
local function run()
  local file, out = os.getenv("CF_FILE"), os.getenv("CF_OUT")
  vim.cmd("edit " .. file)
  vim.bo.filetype = "python"
  local bufnr = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    name = "codefusion",
    cmd = { os.getenv("CF_PYTHON"), "-m", "lsp" },
    cmd_cwd = os.getenv("CF_ROOT"),
    root_dir = vim.fn.fnamemodify(file, ":h"),
    init_options = { models = { python = os.getenv("CF_MODEL") }, steps = tonumber(os.getenv("CF_STEPS")) },
  })
  vim.lsp.buf_attach_client(bufnr, client_id)
  assert(vim.wait(30000, function()
    local c = vim.lsp.get_client_by_id(client_id)
    return c ~= nil and c.initialized
  end, 50), "the server did not initialize")
  -- Apply the first action, as a user picking the first entry of the menu would.
  vim.ui.select = function(items, _, on_choice) on_choice(items[1], 1) end
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  local before = vim.api.nvim_buf_line_count(bufnr)
  vim.lsp.buf.code_action()
  assert(vim.wait(100000, function() return vim.api.nvim_buf_line_count(bufnr) > before end, 100),
         "no code action was applied")
  local f = io.open(out, "w")
  f:write(table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n"))
  f:close()
""" + LUA_STOP_AND_REPORT


@pytest.mark.skipif(shutil.which("nvim") is None, reason="nvim is not installed (apt-get install neovim)")
def test_neovim_applies_the_first_code_action(tmp_path, tiny_model):
    source = tmp_path / "main.py"
    source.write_text(f"import os\n\n# {SET_E}\nprint('done')\n")
    script, out = tmp_path / "test.lua", tmp_path / "buffer.txt"
    script.write_text(NVIM_SCRIPT)
    env = {**os.environ, "CF_FILE": str(source), "CF_OUT": str(out), "CF_PYTHON": sys.executable,
           "CF_ROOT": str(ROOT), "CF_MODEL": str(tiny_model), "CF_STEPS": str(STEPS),
           "XDG_STATE_HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    subprocess.run(["nvim", "--headless", "--clean", "-c", f"luafile {script}"], env=env, timeout=150,
                   stdin=subprocess.DEVNULL, capture_output=True)
    err = Path(f"{out}.err")
    assert not err.exists(), err.read_text()
    assert out.read_text().split("\n") == ["import os", "", f"# {SET_E}", "set -e", "print('done')"]


# The driver run after docs/editors.md's Neovim 0.7 snippet (the snippet itself starts the server):
# open a shell script, apply the first code action on its comment, write out the buffer.
SNIPPET_DRIVER = r"""
local function run()
  local file, out = os.getenv("CF_FILE"), os.getenv("CF_OUT")
  local messages = {}
  for _, method in ipairs({ "window/logMessage", "window/showMessage" }) do
    vim.lsp.handlers[method] = function(_, result) table.insert(messages, result.message) end
  end
  for path in string.gmatch(os.getenv("CF_OTHER_SNIPPETS"), "[^;]+") do
    assert(loadfile(path))  -- the other snippets need a newer Neovim: they must at least compile
  end
  vim.cmd("edit " .. file)  -- FileType sh: the snippet starts the server and attaches it
  local bufnr = vim.api.nvim_get_current_buf()
  assert(client_id, "the snippet started no client")
  assert(vim.wait(30000, function()
    local c = vim.lsp.get_client_by_id(client_id)
    return c ~= nil and c.initialized
  end, 50), "the server did not initialize")
  vim.ui.select = function(items, _, on_choice) on_choice(items[1], 1) end
  vim.api.nvim_win_set_cursor(0, { 2, 0 })
  local before = vim.api.nvim_buf_line_count(bufnr)
  vim.lsp.buf.code_action()
  assert(vim.wait(100000, function() return vim.api.nvim_buf_line_count(bufnr) > before end, 100),
         "no code action was applied: " .. table.concat(messages, " | "))
  local f = io.open(out, "w")
  f:write(table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n"))
  f:close()
  f = io.open(out .. ".messages", "w")
  f:write(table.concat(messages, "\n"))
  f:close()
""" + LUA_STOP_AND_REPORT


def doc_code_blocks(path: Path) -> list[tuple[str, str, str]]:
    """(the paragraph before, language, code) of each fenced block of a markdown file."""
    blocks = []
    pieces = re.split(r"^```(\w*)\n(.*?)^```$", path.read_text(), flags=re.S | re.M)
    for i in range(1, len(pieces) - 1, 3):
        before = pieces[i - 1].strip().split("\n\n")[-1]
        blocks.append((before, pieces[i], pieces[i + 1]))
    return blocks


def test_editor_snippets_name_no_model_of_one_machine():
    blocks = doc_code_blocks(ROOT / "docs" / "editors.md")
    assert [lang for _, lang, _ in blocks].count("lua") == 3
    for _, _, code in blocks:
        assert "~/" not in code and "bash-small" not in code, code  # the shipped model is enough


@pytest.mark.skipif(shutil.which("nvim") is None, reason="nvim is not installed (apt-get install neovim)")
def test_neovim_runs_the_docs_snippet_with_the_shipped_model(tmp_path):
    from conftest import SHIPPED_MODELS

    cf = Path(sys.executable).with_name("cf")
    if not cf.exists():
        pytest.skip("the `cf` entry point is not installed next to this Python (pip install -e .)")
    lua = [(before, code) for before, lang, code in doc_code_blocks(ROOT / "docs" / "editors.md") if lang == "lua"]
    snippet = next(code for before, code in lua if before.startswith("0.7"))
    others = []
    for i, (_, code) in enumerate(lua):
        if code != snippet:
            others.append(tmp_path / f"other{i}.lua")
            others[-1].write_text(code)
    source = tmp_path / "main.sh"
    source.write_text("#!/bin/sh\n# remove directory tree\necho done\n")
    script, out = tmp_path / "test.lua", tmp_path / "buffer.txt"
    script.write_text(snippet + SNIPPET_DRIVER)
    env = {**os.environ, "PATH": f"{cf.parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "CODEFUSION_SHIPPED_MODELS": str(SHIPPED_MODELS),  # conftest hides it from the other tests
           "CF_FILE": str(source), "CF_OUT": str(out), "CF_OTHER_SNIPPETS": ";".join(map(str, others)),
           "XDG_STATE_HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    subprocess.run(["nvim", "--headless", "--clean", "-c", f"luafile {script}"], env=env, cwd=tmp_path,
                   timeout=150, stdin=subprocess.DEVNULL, capture_output=True)
    err = Path(f"{out}.err")
    assert not err.exists(), err.read_text()
    lines = out.read_text().split("\n")
    assert lines[:2] == ["#!/bin/sh", "# remove directory tree"] and lines[-1] == "echo done"
    assert len(lines) >= 4 and lines[2].strip()  # the code, below the comment
    # `init_options = {}` arrives as []: no warning about it.
    assert "initializationOptions" not in Path(f"{out}.messages").read_text()


def test_the_server_takes_what_the_editor_leaves_unset_from_the_config_file(tmp_path, monkeypatch):
    from lsp.server import CodeFusionServer

    monkeypatch.setenv("CODEFUSION_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text('top_k = 3\nsteps = 4\nmodel = "my-model"\n')
    server = CodeFusionServer()
    chosen = server.options()
    assert (chosen.top_k, chosen.steps, chosen.model) == (3, 4, "my-model")
    server.default_model = "started-with"  # cf lsp --model comes before the config file
    assert server.options().model == "started-with"
    server.settings, problems = parse_settings({"codefusion": {"topK": 2, "model": "from-editor"}})
    assert not problems and (server.options().top_k, server.options().model) == (2, "from-editor")
    (tmp_path / "config.toml").write_text("top_k = 9\n")
    server.settings = parse_settings({})[0]
    assert server.options().top_k == 9  # capped to MAX_TOP_K only when a request is made
