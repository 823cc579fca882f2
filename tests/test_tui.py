"""The picker (cfcli/tui) driven by Textual's Pilot, on the real tiny model: keys, accept, cancel,
re-roll, edit, copy, help, and the final picker's screen."""

from __future__ import annotations

import asyncio
import fcntl
import html
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

pytest.importorskip("textual")

from cfcli.tui.app import PickerApp, PickRequest  # noqa: E402
from cfcli.tui.help import HelpScreen  # noqa: E402
from cfcli.tui.messages import Finished  # noqa: E402
from core.generate import Cancelled, Candidate, Result, Step  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

PROMPT = "(GNU specific) Display info on most CPU-intensive processes once and exit."
UNSEEN = "list files"  # not a training prompt: the tiny model has several candidates for it
SLOW = 1000  # steps: far more than any test waits for, so the run is still denoising


class RecordedPipeline:
    """The real pipeline, noting the steps each stream produced and how it ended."""

    def __init__(self, pipe):
        self.pipe, self.steps, self.ends = pipe, [], []
        self.gate = threading.Event()  # a stream starts once it is set (run_picker's gated=True)
        self.gate.set()

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def stream(self, *args, **kwargs):
        steps = []
        self.steps.append(steps)
        assert self.gate.wait(60), "the test never let the stream start"
        try:
            for event in self.pipe.stream(*args, **kwargs):
                if isinstance(event, Step):
                    steps.append(event.index)
                yield event
        except Cancelled:
            self.ends.append("cancelled")
            raise
        self.ends.append("finished")


@pytest.fixture(scope="module")
def pipe(tiny_model):
    from core.generate import Pipeline

    return Pipeline.from_pretrained(tiny_model)


def run_picker(pipe, scenario, size=(110, 32), load=None, notifications=False, prompt=PROMPT, gated=False,
               **request):
    """Run the app headless under Pilot; ``scenario(app, pilot)`` drives it. Returns the app.
    ``gated``: the sampler waits until the scenario sets ``app.recorded.gate``."""
    recorded = RecordedPipeline(pipe)
    if gated:
        recorded.gate.clear()
    app = PickerApp(PickRequest(prompt, model="/models/tiny", **{"steps": 5, "seed": 1, **request}),
                    load or (lambda: recorded))
    app.recorded = recorded

    async def main():
        async with app.run_test(size=size, notifications=notifications) as pilot:
            await scenario(app, pilot)
            await pilot.pause(0.05)

    asyncio.run(main())  # returns once the worker thread has finished too
    return app


async def until(pilot, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the picker"
        await pilot.pause(0.05)


def done(app):
    return lambda: app.result is not None


def denoising(app):
    return lambda: app.run_id and any(row.text for row in app.rows) and app.result is None


def screen_lines(app) -> list[str]:
    """The screen as text, from Textual's SVG export (one <text> per run of cells)."""
    svg = app.export_screenshot()
    cell = 12.2  # Textual's SVG cell width
    lines: dict[int, dict[int, str]] = {}
    for x, line, text in re.findall(r'<text[^>]* x="([\d.]+)" [^>]*clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)', svg):
        lines.setdefault(int(line), {})[round(float(x) / cell)] = html.unescape(text).replace("\xa0", " ")
    out = []
    for n in range(max(lines) + 1 if lines else 0):
        row = ""
        for col, text in sorted(lines.get(n, {}).items()):
            row = row.ljust(col) + text
        out.append(row.rstrip())
    return out


# -- the final picker ------------------------------------------------------------------------


def test_final_picker_shows_ranked_candidates_with_score_validity_and_warnings(pipe, tmp_path):
    screens = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        await pilot.pause(0.1)
        screens["final"], screens["candidates"] = screen_lines(app), app.result.candidates
        (tmp_path / "picker.svg").write_text(app.export_screenshot())
        danger = Result(PROMPT, "bash", "tiny", [Candidate("rm -rf /", -0.25, True, ["recursively deletes /"]),
                                                 Candidate("ls -l", -0.5, True, [])])
        app.post_message(Finished(app.run_id, danger))  # how a dangerous candidate is shown
        await pilot.pause(0.2)
        screens["danger"] = screen_lines(app)
        await pilot.press("escape")

    app = run_picker(pipe, scenario)
    final = "\n".join(screens["final"])
    candidates = screens["candidates"]
    assert screens["final"][0].startswith(" ❯ " + PROMPT[:40]) and "bash · tiny" in screens["final"][0]
    for rank, candidate in enumerate(candidates, 1):
        code_line = next(i for i, line in enumerate(screens["final"]) if line.startswith(f" {rank}  "))
        assert screens["final"][code_line][4:].startswith(candidate.code[:60])
        mark = "✓ valid" if candidate.valid else "✗ does not parse"
        # The tiny model has no calibration (core/confidence.py): its raw score, and where it came from.
        assert screens["final"][code_line + 1].strip() == f"score {candidate.score:.2f} · the model  {mark}"
    assert re.search(rf"{len(candidates)} candidates? in [\d.]+ s  ·  seed 1  ·  done", final)
    assert "Accept" in final and "Re-roll" in final  # the key footer
    danger = "\n".join(screens["danger"])
    assert "rm -rf /" in danger and "score -0.25  ✓ valid  ⚠ recursively deletes /" in danger
    assert " 3  " not in danger  # rows past the candidates are hidden


def test_rows_rain_while_denoising_then_settle(pipe):
    frames = []

    async def scenario(app, pilot):
        await until(pilot, denoising(app))
        for _ in range(3):
            frames.append(screen_lines(app)[2])
            await pilot.pause(0.2)
        await pilot.press("escape")

    run_picker(pipe, scenario, steps=SLOW)
    assert len(set(frames)) > 1, "the rain does not move"
    assert any(ch in "".join(frames) for ch in "ｱｲｳｴｵｶｷｸｹｺ0123456789")


# -- keys ---------------------------------------------------------------------------------


def test_arrows_and_digits_select_and_enter_prints_the_selection(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        last = len(app.result.candidates) - 1
        await pilot.press("down", "down", "up")
        seen["after_arrows"] = app.selected
        await pilot.press("up", "up")  # wraps around
        seen["wrapped"] = app.selected
        await pilot.press(str(min(3, last + 1)))
        seen["digit"] = app.selected
        await pilot.press("9")  # no 9th candidate: ignored
        seen["code"] = app.result.candidates[app.selected].code
        await pilot.press("enter")

    app = run_picker(pipe, scenario)
    last = len(app.result.candidates) - 1
    assert seen["after_arrows"] == min(1, last) and seen["wrapped"] == (last if last else 0)
    assert seen["digit"] == min(2, last)
    assert app.return_code == 0 and app.return_value == seen["code"]


def test_enter_while_denoising_accepts_the_row_as_it_is_and_stops_the_sampler(pipe):
    async def scenario(app, pilot):
        await until(pilot, denoising(app))
        await pilot.press("enter")

    app = run_picker(pipe, scenario, steps=SLOW)
    assert app.return_code == 0 and app.return_value and app.result is None
    assert app.recorded.ends == ["cancelled"] and len(app.recorded.steps[0]) < SLOW


def test_enter_at_the_first_frame_accepts_the_first_code_to_form(pipe):
    async def scenario(app, pilot):
        assert app.result is None and not any(row.text for row in app.rows)  # nothing formed yet
        await pilot.press("enter")
        app.recorded.gate.set()  # the sampler starts only now, however busy the machine
        await until(pilot, lambda: app.return_code is not None)

    app = run_picker(pipe, scenario, steps=SLOW, notifications=True, gated=True)
    assert app.return_code == 0 and app.return_value and app.return_value == app.return_value.strip()
    assert app.recorded.ends == ["cancelled"] and 0 < len(app.recorded.steps[0]) < SLOW
    assert not app._notifications, [n.message for n in app._notifications]  # no "Nothing to accept yet"


@pytest.mark.parametrize("key", ["escape", "q", "ctrl+c"])
def test_cancel_keys_exit_1_with_nothing_and_stop_within_a_step(pipe, key):
    timing = {}

    async def scenario(app, pilot):
        await until(pilot, denoising(app))
        await pilot.press(key)
        timing["pressed"] = time.monotonic()

    app = run_picker(pipe, scenario, steps=SLOW)
    assert app.return_code == 1 and app.return_value is None
    # asyncio.run waited for the worker thread: it saw the cancel before its next step
    assert app.recorded.ends == ["cancelled"] and len(app.recorded.steps[0]) < SLOW
    assert time.monotonic() - timing["pressed"] < 10


def test_reroll_denoises_again_from_a_new_seed(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        await pilot.press("r")
        seen["rerolled"] = (app.run_id, app.seed)
        await until(pilot, done(app))
        await pilot.press("escape")

    app = run_picker(pipe, scenario)
    assert seen["rerolled"][0] == 2 and seen["rerolled"][1] != 1
    assert app.recorded.ends == ["finished", "finished"] and app.result.candidates


def test_reroll_asks_for_the_next_set_says_when_it_is_the_same_and_m_shows_more(pipe):
    seen, calls, results = {}, [], []

    class Recording(RecordedPipeline):
        def stream(self, *args, **kwargs):
            calls.append(kwargs)
            for event in super().stream(*args, **kwargs):
                if isinstance(event, Result):
                    results.append([c.code for c in event.candidates])
                yield event

    recording = Recording(pipe)

    async def scenario(app, pilot):
        await until(pilot, done(app))
        await pilot.press("r")
        await until(pilot, done(app))
        seen["rolled"] = "\n".join(screen_lines(app))
        # Whatever the model does for this prompt, a re-roll whose set is the one shown says so.
        app.post_message(Finished(app.run_id, Result(PROMPT, "bash", "tiny", list(app.result.candidates))))
        await pilot.pause(0.2)
        seen["same"] = "\n".join(screen_lines(app))
        await pilot.press("m")
        await until(pilot, done(app))
        await pilot.pause(0.1)
        seen["more"] = ([c.code for c in app.result.candidates], "\n".join(screen_lines(app)))
        await pilot.press("escape")

    run_picker(pipe, scenario, load=lambda: recording, prompt=UNSEEN, seed=None)
    assert [c["roll"] for c in calls] == [0, 1, 1] and [c["k"] for c in calls] == [5, 5, 10]
    assert "the same" not in seen["rolled"]
    assert "the same" in seen["same"] and "m shows more (6–10)" in seen["same"]
    shown, screen = seen["more"]
    assert shown == results[-1][5:10]
    assert not shown or ("candidates 6–" in screen and f" 1  {shown[0][:30]}" in screen)


def test_a_row_reads_its_confidence_origin_and_what_it_kills(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        rows = [Candidate("lsof -t -i:3000", 2.99, True, [], [], confidence=0.38, origin="the read-only part of NL2Bash"),
                Candidate("kill -9 $(lsof -t -i:3000)", 2.99, True, [], ["kills the processes lsof finds"],
                          confidence=0.38, origin="edited from NL2Bash")]
        app.post_message(Finished(app.run_id, Result(PROMPT, "bash", "tiny", rows)))
        await until(pilot, lambda: app.rows[1].candidate is rows[1], timeout=10)
        seen["lines"] = [meta_text(row.candidate).plain for row in app.rows[:2]]
        await pilot.press("escape")

    from cfcli.tui.widgets import meta_text

    run_picker(pipe, scenario)
    assert seen["lines"] == ["38% likely right · the read-only part of NL2Bash  ✓ valid",
                             "38% likely right · edited from NL2Bash  ✓ valid  ⚠ kills the processes lsof finds"]


def test_reroll_while_denoising_cancels_the_older_run(pipe):
    async def scenario(app, pilot):
        await until(pilot, denoising(app))
        await pilot.press("r")
        await until(pilot, lambda: len(app.recorded.steps) == 2 and app.recorded.steps[1])
        await pilot.press("escape")

    app = run_picker(pipe, scenario, steps=SLOW)
    assert app.recorded.ends == ["cancelled", "cancelled"] and app.run_id == 2


def test_edit_in_place_then_enter_accepts_the_edited_code(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        row = app.rows[app.selected]
        await pilot.press("e")
        seen["prefilled"] = row.query_one("Input").value
        await pilot.press("escape")  # stops editing, does not cancel
        seen["after_escape"] = (row.editing, app.return_code)
        await pilot.press("e", "end", "space", "x")
        await pilot.press("down", "r", "q")  # typing: none of these act on the picker
        seen["code"] = row.text
        await pilot.press("enter")

    app = run_picker(pipe, scenario)
    assert seen["prefilled"] == seen["code"] and seen["after_escape"] == (False, None)
    assert app.return_code == 0 and app.return_value == seen["code"] + " xrq"


def test_edit_mode_shows_its_keys_and_says_that_esc_discards_the_edit(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        row = app.rows[app.selected]
        seen["code"] = row.text
        await pilot.press("e", "end", "space", "x")
        await pilot.pause(0.1)
        seen["editing"] = screen_lines(app)
        await pilot.press("escape")
        await pilot.pause(0.2)
        seen["discarded"] = (row.editing, row.text, app.return_code, "\n".join(screen_lines(app)))
        await pilot.press("escape")  # with nothing being edited, Esc cancels

    app = run_picker(pipe, scenario, size=(40, 10), notifications=True)
    footer = seen["editing"][-1]
    assert "⏎ Accept" in footer and "esc Discard edit" in footer, seen["editing"]
    assert any(seen["code"] + " x" in line for line in seen["editing"])  # the edit is on screen
    editing, text, return_code, screen = seen["discarded"]
    assert not editing and text == seen["code"] and return_code is None
    assert "Edit discarded" in screen and "? Help" in screen.splitlines()[-1]
    assert app.return_code == 1


def test_copy_and_help(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        await pilot.press("2" if len(app.result.candidates) > 1 else "1", "c")
        seen["clipboard"], seen["code"] = app.clipboard, app.rows[app.selected].text
        await pilot.press("question_mark")
        seen["help"] = isinstance(app.screen, HelpScreen) and "re-roll" in "\n".join(screen_lines(app))
        await pilot.press("escape")
        seen["back"] = not isinstance(app.screen, HelpScreen) and app.return_code is None
        await pilot.press("escape")

    app = run_picker(pipe, scenario)
    assert seen["clipboard"] == seen["code"] and seen["help"] and seen["back"]
    assert app.return_code == 1


def test_a_model_that_fails_to_load_ends_the_app_with_its_one_line_error(pipe):
    from core.errors import CFError

    def broken():
        raise CFError("/models/x/model.safetensors is corrupt: header too large")

    async def scenario(app, pilot):
        await until(pilot, lambda: app.return_code is not None, timeout=10)

    app = run_picker(pipe, scenario, load=broken)
    assert app.return_code == 2 and app.error == "/models/x/model.safetensors is corrupt: header too large"


def test_prompt_cut_note(pipe):
    assert pipe.cut_note("list files") == ""
    assert "cut to the model's first 32" in pipe.cut_note("find all the files " * 20)


# -- small terminals --------------------------------------------------------------------------


def selected_line(app, screen: list[str]) -> str | None:
    """The code on screen in the selected row's first line (the row's number starts the line)."""
    for line in screen:
        if line.startswith(f" {app.selected + 1}  "):
            return line[4:38].rstrip()  # the row's cells, before its padding and the scrollbar
    return None


def test_a_small_terminal_scrolls_to_the_selection_and_keeps_help_and_cancel_in_view(pipe):
    seen, first = [], {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        await pilot.pause(0.1)
        first["screen"], first["last"] = screen_lines(app), len(app.result.candidates)
        for n in range(len(app.result.candidates)):
            if n:
                await pilot.press("down")
            await pilot.pause(0.1)
            seen.append((app.result.candidates[app.selected].code, selected_line(app, screen_lines(app)),
                         screen_lines(app)[-1]))
        await pilot.press("enter")

    app = run_picker(pipe, scenario, size=(40, 10), prompt=UNSEEN)
    assert first["last"] > 2, "too few candidates to need scrolling"
    assert not any(line.startswith(f" {first['last']}  ") for line in first["screen"]), "all fit: nothing to scroll"
    for code, line, footer in seen:
        assert line and code.startswith(line), (code, line)  # the selection is on screen
        assert "Accept" in footer and "Help" in footer and "Cancel" in footer, footer
    assert app.return_code == 0 and app.return_value == seen[-1][0]  # the one the user saw


def test_a_terminal_too_small_for_a_candidate_says_so_until_it_grows(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        await pilot.press("2")
        await pilot.resize_terminal(24, 4)
        await pilot.pause(0.1)
        seen["small"] = " ".join(" ".join(screen_lines(app)).split())  # the message wraps
        await pilot.press("enter", "e", "r")  # the candidates are hidden: none of these act
        seen["after_keys"] = (app.return_code, app.run_id, app.rows[app.selected].editing)
        await pilot.resize_terminal(40, 10)
        await pilot.pause(0.1)
        screen = screen_lines(app)
        seen["grown"] = (app.result.candidates[app.selected].code, selected_line(app, screen), screen[-1])
        await pilot.press("e")  # an edit survives the picker being hidden and keeps the keys
        await pilot.resize_terminal(24, 4)
        await pilot.pause(0.1)
        await pilot.resize_terminal(40, 10)
        await pilot.pause(0.1)
        seen["editing"] = (app.focused is app.rows[app.selected].query_one("CodeEditor"), screen_lines(app)[-1])
        await pilot.press("enter")

    app = run_picker(pipe, scenario, size=(40, 10), prompt=UNSEEN)
    assert "too small" in seen["small"] and "Esc cancels" in seen["small"]
    assert " 1  " not in seen["small"] and "Accept" not in seen["small"]
    assert seen["after_keys"] == (None, 1, False)
    code, line, footer = seen["grown"]
    assert line and code.startswith(line) and "Accept" in footer
    assert seen["editing"][0] and "Discard edit" in seen["editing"][1]
    assert app.return_code == 0 and app.return_value == code


def test_in_a_small_terminal_the_help_scrolls_to_every_key(pipe):
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        seen["top"] = "\n".join(screen_lines(app))
        await pilot.press("end")  # the narrow footer leaves e, r and c to this screen
        await pilot.pause(0.1)
        seen["end"] = "\n".join(screen_lines(app))
        await pilot.press("escape")
        seen["closed"] = not isinstance(app.screen, HelpScreen)
        await pilot.press("escape")

    app = run_picker(pipe, scenario, size=(40, 10))
    assert "Esc closes" in seen["top"] and "Ctrl-C" not in seen["top"]
    assert "Esc closes" in seen["end"] and "Ctrl-C" in seen["end"] and "copy the" in seen["end"]
    assert seen["closed"] and app.return_code == 1


# -- NO_COLOR ---------------------------------------------------------------------------------

COLOUR_SGR = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}  # 38/48: 256 and 24-bit


def terminal_output(args: list[str], env: dict[str, str], until: bytes, size=(80, 24), timeout=90.0) -> bytes:
    """Run the real `cf` on a new pseudo-terminal (stdin and stderr; stdout a pipe, as in
    x=$(cf …)) and return every byte it wrote to the terminal; ``q`` once ``until`` was drawn."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "cfcli", *args], stdin=slave, stdout=subprocess.PIPE,
                            stderr=slave, env={**os.environ, **env}, cwd=ROOT, start_new_session=True)
    os.close(slave)
    out, sent, deadline = bytearray(), False, time.monotonic() + timeout
    try:
        while True:
            assert time.monotonic() < deadline, f"timed out; the terminal got: {bytes(out[-2000:])!r}"
            if select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the program closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
            if not sent and until in out:
                os.write(master, b"q")
                sent = True
        assert sent, f"never drew {until!r}: {bytes(out[-2000:])!r}"
        assert proc.wait(timeout=30) == 1 and proc.stdout.read() == b""  # q cancels, printing nothing
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        os.close(master)
    return bytes(out)


def test_no_color_draws_the_picker_and_the_rain_without_any_colour_code(tiny_model):
    out = terminal_output([PROMPT, "--model", str(tiny_model), "--steps", "10", "--seed", "1"],
                          {"NO_COLOR": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor"}, until=b"done")
    text = out.decode("utf-8", "replace")
    assert any(glyph in text for glyph in "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿ"), "no rain frame was drawn"
    params = [[int(p.split(":")[0] or 0) for p in sgr.split(";")] for sgr in re.findall(r"\x1b\[([\d;:]*)m", text)]
    colours = [sgr for sgr in params if COLOUR_SGR & set(sgr)]
    assert not colours, f"colour codes under NO_COLOR, e.g. {colours[:3]}"
    assert any({1, 7} & set(sgr) for sgr in params), "bold and reverse should still be drawn"


def test_no_color_marks_the_selection_and_the_edit_cursor_by_reverse_video(pipe, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    seen = {}

    async def scenario(app, pilot):
        await until(pilot, done(app))
        seen["number"] = app.rows[app.selected].query_one(".number").rich_style
        await pilot.press("e")
        await pilot.pause(0.1)
        seen["cursor"] = app.rows[app.selected].query_one("CodeEditor").get_component_rich_style("input--cursor")
        await pilot.press("ctrl+c")

    app = run_picker(pipe, scenario, size=(40, 10))
    assert app.no_color and app.return_code == 1
    # the colours are stripped on output (the test above); these are what stays visible
    assert seen["number"].reverse and seen["cursor"].reverse
