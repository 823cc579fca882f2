"""Time from a textDocument/codeAction request to its answer, through the real server over stdio.

    python benchmarks/lsp_latency.py [--model NAME|DIR] [--steps S] [--prompts 5] [--lang bash] [--also python]

Without --model the server uses its default (the shipped model), as an editor with no settings does.

cold: the first request (model load + generation); warm: a prompt not seen before (generation);
cached: the same prompt again. Prompts: Bash test descriptions, or Python tasks with --lang python,
or a file of {"nl"} lines via --prompts-file. --also LANGS: after the timing, one request in a
document of each of these languages too, so that the server's peak RSS (reported last) covers a
server serving them all. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

DEFAULT_PROMPTS = [
    "Abort the shell or script on the first failed command",
    'Add a line number to every line in "infile"',
    'Add executable permission to "java_ee_sdk-6u2-jdk-linux-x64.sh"',
    "(GNU specific) Display info on most CPU-intensive processes once and exit.",
    'Add cron lists from "filename" to list of cron jobs, giving errors for any lines that cannot be parsed by crontab.',
    "remove directory tree",
    "find all python files modified in the last day",
    "count the lines of every csv file in this folder",
]


PYTHON_PROMPTS = [
    "read a json file into a dict",
    "sort a list of tuples by the second element",
    "remove all whitespace from a string s",
    "convert a list of strings to integers",
    "get the current working directory",
    "merge two dictionaries a and b",
    "check if a file exists",
    "reverse a list x",
]


LANGUAGE_IDS = {"bash": "shellscript", "python": "python"}  # the languages the server serves
# One request each in the --also languages: they load that language's pipeline.
ALSO_PROMPTS = {"bash": "remove directory tree", "python": "read a json file into a dict"}


async def measure(args) -> dict:
    prompts = PYTHON_PROMPTS if args.lang == "python" else DEFAULT_PROMPTS
    if args.prompts_file:
        prompts = [json.loads(line)["nl"] for line in Path(args.prompts_file).read_text().splitlines() if line.strip()]
    prompts = prompts[: args.prompts + 1]
    also = [lang for lang in (args.also or "").split(",") if lang]
    if unknown := set(also) - set(LANGUAGE_IDS):
        raise SystemExit(f"--also: unknown language {sorted(unknown)[0]!r}; use {', '.join(LANGUAGE_IDS)}")
    client = LanguageClient("lsp-latency", "0")
    await client.start_io(sys.executable, "-m", "lsp")
    options = {"steps": args.steps, "device": args.device}
    if args.model:
        options.update(model=args.model, models={lang: args.model for lang in [args.lang, *also]})
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         initialization_options=options))
    client.initialized(types.InitializedParams())

    def open_document(lang: str, lines: list[str]) -> str:
        uri = f"file:///tmp/lsp-latency/doc.{lang}"
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
            uri=uri, language_id=LANGUAGE_IDS[lang], version=1, text="".join(f"# {p}\n\n" for p in lines))))
        return uri

    uri = open_document(args.lang, prompts)

    async def code_action(line: int, uri: str = uri) -> tuple[float, list]:
        params = types.CodeActionParams(types.TextDocumentIdentifier(uri),
                                        types.Range(types.Position(line, 0), types.Position(line, 0)),
                                        types.CodeActionContext(diagnostics=[]))
        started = time.perf_counter()
        actions = await client.text_document_code_action_async(params)
        return 1000 * (time.perf_counter() - started), actions or []

    cold, first = await code_action(0)
    warm = [(await code_action(2 * i))[0] for i in range(1, len(prompts))]
    cached = [(await code_action(2 * i))[0] for i in range(len(prompts))]
    also_answers = {lang: len((await code_action(0, open_document(lang, [ALSO_PROMPTS[lang]])))[1]) for lang in also}
    with open(f"/proc/{client._server.pid}/status") as status:  # Linux; the server is our child
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {
        "model": args.model or "default", "steps": args.steps or "default", "device": args.device,
        "prompts": len(prompts), "date": time.strftime("%Y-%m-%d"),
        "cold_ms": round(cold, 1),
        "warm_ms_median": round(statistics.median(warm), 1) if warm else None,
        "warm_ms": [round(x, 1) for x in warm],
        "cached_ms_median": round(statistics.median(cached), 2),
        "first_answer": [a.title for a in first],
        "also": also_answers,  # code actions answered in each --also language
        "server_peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name or directory (default: the server's default)")
    parser.add_argument("--lang", default="bash", choices=list(LANGUAGE_IDS))
    parser.add_argument("--also", default="", help="comma-separated: languages served too before peak RSS is read")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--prompts", type=int, default=5, help="warm (cache-miss) requests to time")
    parser.add_argument("--prompts-file", help="JSONL with an nl field per line")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    print(json.dumps(asyncio.run(measure(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
