"""Where the kiosk's blocking work runs. The state machine never blocks: it hands HTTP and printer calls to a
runner, and gets the result back on its own thread through `post` (Kivy: Clock.schedule_once)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Post = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class JobResult(Generic[T]):
    value: T | None = None
    error: Exception | None = None


class Runner(Protocol):
    def submit(self, lane: str, job: Callable[[], T], done: Callable[[JobResult[T]], None]) -> None:
        """Run `job` on `lane` (jobs on one lane run one after another); call `done` on the UI thread."""

    def post(self, call: Callable[[], None]) -> None:
        """Run `call` on the UI thread soon (safe from any thread)."""

    def shutdown(self) -> None: ...


class ThreadRunner:
    """One worker thread per lane: "main" for the customer's ticket and the printer (in order), "background"
    for health checks, refreshes and status reports (so a slow printer never delays them)."""

    def __init__(self, post: Post, lanes: tuple[str, ...] = ("main", "background")) -> None:
        self._post = post
        self._pools = {lane: ThreadPoolExecutor(1, thread_name_prefix=f"wins-kiosk-{lane}") for lane in lanes}

    def submit(self, lane: str, job: Callable[[], T], done: Callable[[JobResult[T]], None]) -> None:
        def run() -> None:
            try:
                result: JobResult[T] = JobResult(value=job())
            except Exception as exc:  # handed to `done`, which decides what the customer sees
                result = JobResult(error=exc)
            self._post(lambda: done(result))

        self._pools[lane].submit(run)

    def post(self, call: Callable[[], None]) -> None:
        self._post(call)

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


class CallQueue:
    """A minimal UI loop for tests and tools: `post` from any thread, `run_pending` on the owner's thread."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.owner = threading.get_ident()

    def post(self, call: Callable[[], None]) -> None:
        self._calls.put(call)

    def run_pending(self, wait: float = 0.0) -> int:
        """Run the queued calls; wait up to `wait` seconds for the first one. Returns how many ran."""
        count = 0
        try:
            call = self._calls.get(timeout=wait) if wait > 0 else self._calls.get_nowait()
        except queue.Empty:
            return 0
        while True:
            call()
            count += 1
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                return count
