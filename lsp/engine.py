"""The model side of the server: load once, generate off the event loop, cancel, cache.

One worker thread runs every load and generation: torch already spreads one generation over
the cores, and a queue of one makes a cancelled request that has not started cost nothing.
Identical requests share one generation, which stops only when nobody waits for it any more.
torch (through ``core.generate``) is imported on the first load, so the server starts fast.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that decides the candidates: also the cache key."""

    prompt: str
    lang: str
    model: str
    steps: int | None
    top_k: int
    seed: int
    device: str


@dataclass
class _Job:
    """One generation on the worker, and how many requests wait for it."""

    future: Future
    stop: threading.Event  # the sampler polls it before every step
    steps_done: list[int]
    waiters: int = 0


SUPERSEDED = object()  # Newest.run's answer for a request that a newer one replaced


class Newest:
    """Only the newest request per key (request kind, document, prompt) waits for candidates.

    One worker generates, so a burst (a comment being typed, an impatient user) would otherwise
    queue a generation per request, each answered after all the ones before it. An older request
    still waiting is answered at once instead; its generation stops unless the newer one shares it.
    """

    def __init__(self):
        self._waiting: dict[Any, asyncio.Task] = {}
        self._replaced: set[asyncio.Task] = set()

    async def run(self, key, awaitable):
        task = asyncio.ensure_future(awaitable)
        older, self._waiting[key] = self._waiting.get(key), task
        if older is not None and not older.done():
            self._replaced.add(older)
            older.cancel()
        try:
            return await task
        except asyncio.CancelledError:
            if task in self._replaced:
                return SUPERSEDED
            raise  # the request itself was cancelled ($/cancelRequest)
        finally:
            self._replaced.discard(task)
            if self._waiting.get(key) is task:
                del self._waiting[key]


class LruCache:
    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def model_languages(directory: str) -> list[str]:
    """The languages a model directory was trained for (reads config.json only)."""
    from core.checkpoint import read_config

    return list(read_config(directory)["model"]["langs"])


class Engine:
    def __init__(self, cache_size: int = 256):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codefusion-generate")
        self._loaded: dict[tuple[str, str], Any] = {}  # (directory, device setting) -> Pipeline
        self._pipelines: dict[tuple[str, str, str], Any] = {}  # (directory, device, lang) -> Pipeline
        self._cache = LruCache(cache_size)
        self._running: set[threading.Event] = set()
        self._jobs: dict[GenerationRequest, _Job] = {}  # generations queued or running (event loop only)
        self._closed = False
        # Called on the event loop with (request, steps done) when a cancelled sampler stops.
        self.on_cancelled: Callable[[GenerationRequest, int], None] | None = None

    # -- loading -------------------------------------------------------------------------

    def is_loaded(self, directory: str, device: str) -> bool:
        return (directory, device) in self._loaded

    async def load(self, directory: str, device: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load_blocking, directory, device)

    def _load_blocking(self, directory: str, device: str) -> None:
        if (directory, device) in self._loaded:
            return
        from core.generate import Pipeline

        # The engine owns these weights: int8 quantises them in place, with no fp32 copy kept.
        self._loaded[(directory, device)] = Pipeline.from_pretrained(directory, device)

    def keep_only(self, directories: set[str]) -> None:
        """Forget models no longer named in the settings (their memory goes back on the next GC).
        On the worker thread, like everything else that touches the models."""
        if not self._closed:
            self._executor.submit(self._keep_only_blocking, directories)

    def _keep_only_blocking(self, directories: set[str]) -> None:
        for key in [k for k in self._loaded if k[0] not in directories]:
            del self._loaded[key]
        for key in [k for k in self._pipelines if k[0] not in directories]:
            del self._pipelines[key]

    def _pipeline(self, directory: str, device: str, lang: str):
        # One Pipeline per language over the same weights (quantised once), so validity is checked
        # in the document's language even when settings map python to a model trained on bash.
        key = (directory, device, lang)
        if key not in self._pipelines:
            self._pipelines[key] = self._loaded[(directory, device)].with_lang(lang)
        return self._pipelines[key]

    # -- generation ----------------------------------------------------------------------

    def cached(self, request: GenerationRequest) -> list | None:
        return self._cache.get(request)

    async def generate(self, request: GenerationRequest) -> list:
        """Ranked candidates; once every task awaiting them is cancelled, the sampler stops
        within one step (or never starts)."""
        if (hit := self._cache.get(request)) is not None:
            return hit
        loop = asyncio.get_running_loop()
        job = self._jobs.get(request)
        if job is None:
            stop, steps_done = threading.Event(), [0]
            job = _Job(self._executor.submit(self._generate_blocking, request, stop, steps_done), stop, steps_done)
            self._jobs[request] = job
            job.future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._forget, request, job))
        job.waiters += 1
        try:
            # shield: one waiter's cancellation must not cancel the others' generation
            return await asyncio.shield(asyncio.wrap_future(job.future))
        except asyncio.CancelledError:
            job.waiters -= 1
            if job.waiters == 0:
                self._forget(request, job)
                job.stop.set()
                # Not started yet: it never will, and there is nothing to report.
                if not job.future.cancel() and self.on_cancelled is not None:
                    report = self.on_cancelled
                    job.future.add_done_callback(
                        lambda _: loop.call_soon_threadsafe(report, request, job.steps_done[0]))
            raise

    def _forget(self, request: GenerationRequest, job: _Job) -> None:
        if self._jobs.get(request) is job:
            del self._jobs[request]

    def _generate_blocking(self, request: GenerationRequest, stop: threading.Event, steps_done: list[int]) -> list:
        if stop.is_set() or self._closed:
            from core.generate import Cancelled

            raise Cancelled()
        if (hit := self._cache.get(request)) is not None:  # an identical request queued before this one
            return hit
        self._load_blocking(request.model, request.device)
        pipe = self._pipeline(request.model, request.device, request.lang)

        def cancel() -> bool:  # polled before every step
            if stop.is_set():
                return True
            steps_done[0] += 1
            return False

        self._running.add(stop)
        try:
            result = pipe.generate(request.prompt, k=request.top_k, steps=request.steps, seed=request.seed,
                                   cancel=cancel)
        finally:
            self._running.discard(stop)
        candidates = result.candidates[: request.top_k]
        self._cache.put(request, candidates)
        return candidates

    def cancel_all(self) -> None:
        for stop in list(self._running):
            stop.set()

    def close(self) -> None:
        self._closed = True
        self.cancel_all()
        self._executor.shutdown(wait=False, cancel_futures=True)
