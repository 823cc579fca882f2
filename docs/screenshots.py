"""Regenerate the README's screenshots of the picker: python docs/screenshots.py MODEL_DIR

Runs the real picker headless (Textual's Pilot) on a model and saves SVGs in docs/img/."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cfcli.tui.app import PickerApp, PickRequest
from core.generate import Pipeline

PROMPT = 'Add "Line of text here" on top of each *.py files under current directory'  # a training prompt
OUT = Path(__file__).parent / "img"


async def shoot(pipe: Pipeline, model: str) -> None:
    app = PickerApp(PickRequest(PROMPT, steps=300, seed=7, model=model), lambda: pipe)
    async with app.run_test(size=(100, 24)) as pilot:
        while not app._progress or int(app._progress.split()[1].split("/")[0]) < 30:
            await pilot.pause(0.05)
        app.save_screenshot("cf-rain.svg", str(OUT))
        while app.result is None:
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        app.save_screenshot("cf-picker.svg", str(OUT))
        await pilot.press("escape")


if __name__ == "__main__":
    model = sys.argv[1]
    OUT.mkdir(exist_ok=True)
    asyncio.run(shoot(Pipeline.from_pretrained(model), model))
    print(f"wrote {OUT / 'cf-rain.svg'} and {OUT / 'cf-picker.svg'}")
