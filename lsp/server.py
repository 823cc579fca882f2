"""The CodeFusion language server: thin pygls handlers over lsp.prompts, lsp.edits and lsp.engine.

Run it with ``cf lsp`` (stdio; ``--tcp HOST:PORT``) or ``python -m lsp``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import uuid
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification, RPCRequest

from core import __version__, threads
from core.errors import CFError
from lsp.edits import (
    CODE_ACTION_KIND,
    Text,
    code_actions,
    completion_items,
    completion_site,
    inline_completion_items,
    wants_our_kind,
)
from lsp.engine import SUPERSEDED, Engine, GenerationRequest, Newest, model_languages
from lsp.framing import FramedStdin
from lsp.prompts import language_for, prompt_near
from lsp.settings import MAX_TOP_K, Settings, parse_settings, resolve_path

log = logging.getLogger("codefusion.lsp")

# structure_message's answer for a request it has already answered with an error:
# handle_message drops it (pygls would otherwise log the bad request and never answer it).
_ANSWERED = JsonRPCNotification(method="", jsonrpc="answered", params=None)


def error_message(msg_id, code: int, message: str) -> dict:
    # A plain dict: lsprotocol's converter drops ``"id": null``, which JSON-RPC requires here.
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def request_id(data: dict):
    """The id of a message that is not a valid request, as JSON-RPC wants it echoed (else null)."""
    msg_id = data.get("id")
    return msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) else None


class CodeFusionProtocol(LanguageServerProtocol):
    """pygls' protocol, stricter where the LSP spec asks for an answer pygls does not give."""

    exit_code: int | None = None  # set by `exit`: 0 after `shutdown`, else 1 (the spec's rule)

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" in data and "method" in data:  # a request with bad params: answer it
                self._send_response(data["id"], error=error.to_response_error())
                return _ANSWERED
            raise

    def handle_message(self, message):
        if message is _ANSWERED:
            return
        if isinstance(message, dict) or getattr(message, "jsonrpc", None) != "2.0":
            # Valid JSON, but no JSON-RPC 2.0 message (pygls would log it and answer nothing).
            data = message if isinstance(message, dict) else \
                {k: getattr(message, k) for k in ("id", "result", "error") if hasattr(message, k)}
            if not ("result" in data or "error" in data):  # a bad response is not answered
                self._send_data(error_message(request_id(data), -32600, "Invalid Request: not a JSON-RPC 2.0 message"))
            return
        method = getattr(message, "method", None)
        if method == types.EXIT:
            self.exit_code = 0 if self._shutdown else 1
        is_request = isinstance(message, RPCRequest)
        if method is not None and self._workspace is None and method not in (types.INITIALIZE, types.EXIT):
            # Before initialize: requests get ServerNotInitialized, notifications are dropped.
            if is_request:
                self._send_response(message.id, error=JsonRpcServerNotInitialized().to_response_error())
            return
        if is_request and method == types.INITIALIZE and self._workspace is not None:
            self._send_response(message.id, error=JsonRpcInvalidRequest("already initialized").to_response_error())
            return
        if is_request and self._shutdown and method != types.EXIT:
            self._send_response(message.id, error=JsonRpcInvalidRequest("the server is shutting down").to_response_error())
            return
        super().handle_message(message)


class CodeFusionServer(LanguageServer):
    def __init__(self, default_model: str | None = None):
        super().__init__("codefusion", __version__, protocol_cls=CodeFusionProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.default_model = default_model  # `cf lsp --model DIR`: used when the settings name none
        self.settings = Settings()
        self.engine = Engine()
        self.engine.on_cancelled = self.log_cancelled
        self._told: set[str] = set()
        self._model_langs: dict[str, list[str]] = {}
        self._load_lock = asyncio.Lock()
        self.newest = Newest()

    def report_server_error(self, error: Exception, source) -> None:
        if isinstance(error, json.JSONDecodeError):  # pygls could not parse a body
            log.warning("framing: a body that is not JSON: %s", error)
            self.protocol._send_data(error_message(None, -32700, f"Parse error: {error}"))
            return
        super().report_server_error(error, source)

    # -- settings and messages -------------------------------------------------------------

    def apply_settings(self, raw: Any, source: str) -> None:
        self.settings, problems = parse_settings(raw, self.settings)
        for problem in problems:
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Warning,
                                                           message=f"CodeFusion {source}: {problem}"))
        self._model_langs.clear()
        self._told.clear()  # a new configuration deserves new explanations
        named = [m for _, m in self.settings.models] + [self.options().model]
        keep = set()
        for name in named:
            try:
                keep.add(self.model_path(name))
            except CFError:
                pass  # told when a request needs it
        self.engine.keep_only(keep)

    def log_cancelled(self, request: GenerationRequest, steps_done: int) -> None:
        steps = request.steps or "the default"
        self.window_log_message(types.LogMessageParams(
            type=types.MessageType.Log,
            message=f"CodeFusion: generation cancelled after {steps_done} of {steps} steps ({request.prompt[:60]!r})"))

    def tell_once(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """Show a message the first time only: requests repeat as the user moves around."""
        if message not in self._told:
            log.warning(message)
            self._told.add(message)
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def client_applies_versioned_edits(self) -> bool:
        workspace = self.client_capabilities.workspace
        edits = workspace.workspace_edit if workspace else None
        return bool(edits and edits.document_changes)

    def client_reads_markdown(self) -> bool:
        doc = self.client_capabilities.text_document
        item = doc.completion.completion_item if doc and doc.completion else None
        return bool(item and item.documentation_format and types.MarkupKind.Markdown in item.documentation_format)

    # -- documents -------------------------------------------------------------------------

    def open_document(self, uri: str):
        """(document, its Text, language) of an open document in an enabled language, else None."""
        doc = self.workspace.text_documents.get(unquote(uri))
        if doc is None:
            return None
        lang = language_for(doc.language_id)
        if lang is None or lang not in self.settings.languages:
            return None
        return doc, Text.of(doc.source, doc.position_codec.client_num_units), lang

    def model_path(self, path: str | None) -> str:
        """A model name (None: the default model) from core.registry, else a path: ~ expanded,
        a relative one taken from the workspace root (editors start us anywhere)."""
        from core.registry import looks_like_path, resolve_model

        root = self.workspace.root_path if self.protocol._workspace is not None else None
        if path and (looks_like_path(path) or (root and os.path.exists(os.path.join(root, path)))):
            return resolve_path(path, root)
        return str(resolve_model(path))

    def model_for(self, lang: str) -> str | None:
        explicit = self.settings.explicit_model_for(lang)
        if explicit:
            try:
                return self.model_path(explicit)  # the user said so, whatever the checkpoint was trained on
            except CFError as e:
                self.tell_once(f"CodeFusion: models.{lang}: {e}", types.MessageType.Error)
                return None
        try:
            default = self.model_path(self.options().model)
        except CFError as e:  # no such name, or no default model installed
            self.tell_once(f"CodeFusion: {e}; set `model` (a model name from `cf model list`, or a "
                           "directory) in the server's settings or start it with `cf lsp --model NAME|DIR`")
            return None
        if default not in self._model_langs:
            try:
                self._model_langs[default] = model_languages(default)
            except CFError as e:
                self.tell_once(f"CodeFusion: {e}", types.MessageType.Error)
                return None
        if lang not in self._model_langs[default]:
            trained = ", ".join(self._model_langs[default])
            self.tell_once(f"CodeFusion: {default} was trained for {trained}, not {lang}; "
                           f"set `models.{lang}` to a {lang} model")
            return None
        return default

    def options(self):
        """The editor's settings, else `cf lsp --model`, else the config file, else the defaults:
        resolved where the CLI resolves its flags (cfcli.userconfig.resolve_options)."""
        from cfcli.userconfig import UserConfig, load_config, resolve_options

        try:
            config = load_config()
        except CFError as e:  # a broken config file must not silence the editor
            self.tell_once(f"CodeFusion: {e}", types.MessageType.Warning)
            config = UserConfig()
        s = self.settings
        return resolve_options(model=s.model or self.default_model, top_k=s.top_k, steps=s.steps, config=config)

    def generation_request(self, prompt: str, lang: str) -> GenerationRequest | None:
        model = self.model_for(lang)
        if model is None:
            return None
        s, chosen = self.settings, self.options()
        return GenerationRequest(prompt, lang, model, chosen.steps, min(chosen.top_k, MAX_TOP_K), s.seed, s.device)

    def completion_request(self, uri: str, position: types.Position):
        """(site, its text, request) for a completion-like request at a position, else None."""
        found = self.open_document(uri)
        if found is None:
            return None
        _, text, lang = found
        site = completion_site(text, position.line, position.character, lang)
        request = self.generation_request(site.prompt.text, lang) if site else None
        return None if request is None else (site, text, request)

    # -- the model -------------------------------------------------------------------------

    @asynccontextmanager
    async def work_done(self, title: str, message: str, token: types.ProgressToken | None):
        """$/progress around a slow step: the client's token if it sent one, else one we create."""
        window = self.client_capabilities.window
        if token is None and window is not None and window.work_done_progress:
            token = f"codefusion-{uuid.uuid4()}"
            try:
                # shield: if our request is cancelled meanwhile, the client's reply must still find
                # a live future (pygls raises on a reply to a cancelled one).
                await asyncio.wait_for(asyncio.shield(self.work_done_progress.create_async(token)), timeout=5)
            except (asyncio.TimeoutError, JsonRpcException):
                token = None
        if token is not None:
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message))
        try:
            yield
        finally:
            if token is not None:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))

    async def candidates(self, request: GenerationRequest, token: types.ProgressToken | None = None,
                         key: tuple | None = None) -> list:
        """Ranked candidates, or [] after telling the user why (bad model, bad steps, …). With a
        key (request kind, document, prompt), a newer request with that key makes this one [] now."""
        if (hit := self.engine.cached(request)) is not None:
            return hit
        if key is None:
            return await self._generate(request, token)
        found = await self.newest.run(key, self._generate(request, token))
        return [] if found is SUPERSEDED else found

    async def _generate(self, request: GenerationRequest, token: types.ProgressToken | None) -> list:
        try:
            if not self.engine.is_loaded(request.model, request.device):
                async with self._load_lock:  # one load (and one progress bar) at a time
                    if not self.engine.is_loaded(request.model, request.device):
                        async with self.work_done("CodeFusion", f"loading {request.model}", token):
                            await self.engine.load(request.model, request.device)
            return await self.engine.generate(request)
        except CFError as e:
            self.tell_once(f"CodeFusion: {e}", types.MessageType.Error)
        except Exception as e:  # noqa: BLE001 -- never let one request take the server down
            log.exception("generation failed")
            self.tell_once(f"CodeFusion: generation failed: {type(e).__name__}: {e}", types.MessageType.Error)
        return []


SERVER = CodeFusionServer()


@SERVER.feature(types.INITIALIZE)
def on_initialize(ls: CodeFusionServer, params: types.InitializeParams) -> None:
    ls.apply_settings(params.initialization_options, "initializationOptions")


@SERVER.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def on_did_change_configuration(ls: CodeFusionServer, params: types.DidChangeConfigurationParams) -> None:
    raw = params.settings
    workspace_caps = ls.client_capabilities.workspace
    if raw is None and workspace_caps is not None and workspace_caps.configuration:
        # Pull-style clients send null and expect us to ask for our section.
        try:
            raw = (await asyncio.wait_for(ls.workspace_configuration_async(types.ConfigurationParams(
                items=[types.ConfigurationItem(section="codefusion")])), timeout=5))[0]
        except (asyncio.TimeoutError, JsonRpcException, IndexError, TypeError):
            return
    ls.apply_settings(raw, "settings")


@SERVER.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[CODE_ACTION_KIND]))
async def on_code_action(ls: CodeFusionServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    if not wants_our_kind(params.context.only):
        return None  # e.g. source.organizeImports on save: not for us, and not worth a generation
    found = ls.open_document(params.text_document.uri)
    if found is None:
        return None
    doc, text, lang = found
    prompt = prompt_near(text.lines, params.range.start.line, lang)
    request = ls.generation_request(prompt.text, lang) if prompt else None
    if request is None:
        return None
    if params.context.trigger_kind == types.CodeActionTriggerKind.Automatic:
        # Editors ask on every cursor move (the light bulb): answer from the cache only.
        candidates = ls.engine.cached(request) or []
    else:
        key = (types.TEXT_DOCUMENT_CODE_ACTION, doc.uri, prompt.first_line)
        candidates = await ls.candidates(request, params.work_done_token, key)
    if not candidates:
        return None
    return code_actions(doc.uri, doc.version, prompt, candidates, text, versioned=ls.client_applies_versioned_edits())


@SERVER.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
async def on_completion(ls: CodeFusionServer, params: types.CompletionParams) -> types.CompletionList | None:
    found = ls.completion_request(params.text_document.uri, params.position)
    if found is None:
        return None
    site, text, request = found
    key = (types.TEXT_DOCUMENT_COMPLETION, params.text_document.uri, site.prompt.first_line)
    candidates = await ls.candidates(request, params.work_done_token, key)
    if not candidates:
        return None
    return types.CompletionList(is_incomplete=False, items=completion_items(
        site, candidates, text, markdown=ls.client_reads_markdown()))


@SERVER.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def on_inline_completion(ls: CodeFusionServer,
                               params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
    found = ls.completion_request(params.text_document.uri, params.position)
    if found is None:
        return None
    site, text, request = found
    if site.newline_first and params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic:
        # Still typing the comment: do not start a generation per keystroke.
        candidates = ls.engine.cached(request) or []
    else:
        key = (types.TEXT_DOCUMENT_INLINE_COMPLETION, params.text_document.uri, site.prompt.first_line)
        candidates = await ls.candidates(request, params.work_done_token, key)
    if not candidates:
        return None
    return types.InlineCompletionList(items=inline_completion_items(site, candidates, text))


@SERVER.feature(types.SHUTDOWN)
def on_shutdown(ls: CodeFusionServer, params: None) -> None:
    ls.engine.close()  # stop a running generation within one step


def parse_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--tcp wants HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class OneLinePerError(logging.Filter):
    """Without --verbose, pygls's protocol errors are one line each in the editor's log: a bad
    body or bad params wrote whole pygls/cattrs tracebacks (40 lines for one bad request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("pygls"):
            return True
        message = record.getMessage()
        # pygls logs some errors with exc_info, others with the traceback in the message, from
        # inside the except block: the exception is the one being handled.
        error = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
        if error is None or not (record.exc_info or "Traceback" in message):
            return True
        if isinstance(error, json.JSONDecodeError):
            return False  # report_server_error says it, in one line
        record.msg, record.args = f"{message.splitlines()[0]}: {error_summary(error)}", ()
        record.exc_info = record.exc_text = None
        return True


def error_summary(error: BaseException) -> str:
    """An exception in one line; cattrs's nested errors as the fields they are about."""
    try:
        from cattrs import transform_error

        details = transform_error(error)
    except Exception:  # not a cattrs error, or a cattrs without transform_error
        details = []
    text = "; ".join(details[:3]) + (f"; and {len(details) - 3} more" if len(details) > 3 else "")
    return " ".join(f"{type(error).__name__}: {text or error}".split())


def serve(tcp: str | None = None, model: str | None = None, log_file: str | None = None,
          verbose: bool = False) -> None:
    """Run the server until the client says exit (or closes the connection, or Ctrl-C)."""
    threads.configure("server")  # cf's thread policy (core/threads.py), before torch loads
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    if not verbose:
        handler.addFilter(OneLinePerError())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler],
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    SERVER.default_model = model
    interrupted = False
    try:
        if tcp:
            host, port = parse_host_port(tcp)
            SERVER.start_tcp(host, port)
        else:
            stdout = sys.stdout.buffer
            sys.stdout = sys.stderr  # a stray print() must never corrupt the protocol stream
            stdin = FramedStdin(sys.stdin.buffer)

            def on_ctrl_c(signum, frame):
                # One Ctrl-C ends it: pygls stopped its loop on the first, then waited for its
                # reader thread, blocked on stdin, until a second one. A second still ends it at once.
                nonlocal interrupted
                if interrupted:
                    raise KeyboardInterrupt
                interrupted = True
                stdin.close()

            signal.signal(signal.SIGINT, on_ctrl_c)
            SERVER.start_io(stdin=stdin, stdout=stdout)
    finally:
        SERVER.engine.close()
    if interrupted:
        sys.exit(130)
    if SERVER.protocol.exit_code:  # pygls swallows the SystemExit of `exit` without `shutdown`
        sys.exit(SERVER.protocol.exit_code)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lsp", description=__doc__.splitlines()[0])
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    parser.add_argument("--model", help="default model directory")
    parser.add_argument("--log-file", help="write the server's log here instead of stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every message")
    args = parser.parse_args(argv)
    try:
        serve(args.tcp, args.model, args.log_file, args.verbose)
    except ValueError as e:
        parser.error(str(e))
