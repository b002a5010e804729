"""A thread pool that runs the most urgent queued job first.

The resolver's prefetch queues work of three kinds: what the solver waits on right now,
what it has named and will ask about soon, and what the read-ahead guesses it will name
later. In one first-in-first-out queue (ThreadPoolExecutor's) the guesses, queued early
and in bulk, hold up what the solver waits on: measured on a 110-package resolution, the
metadata of a root requirement started 150 ms late behind pages of its siblings'
dependencies. Here each job has a priority, and a job still queued can be hurried (its
priority raised) when it turns out to be needed sooner.

The threads and their life cycle are `wherry.workers.Workers`' (started on demand without
making the submitter wait, joined at exit, shut down with the queue cancelled); each job
submitted to it only says "run the most urgent job now", so the order is decided when a
worker is free, not when work is queued.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from wherry.futures import Future
from wherry.workers import Workers

T = TypeVar("T")

#: The solver is blocked on this.
URGENT = 0
#: The solver named this (a dependency it has seen, a version it is walking back to).
NAMED = 1
#: The read-ahead guesses the solver will need this.
GUESSED = 2


class Task(Future[T], Generic[T]):
    """A queued job and its result; runs at most once, however often it was queued."""

    def __init__(self, pool: PriorityPool, job: Callable[[], T], priority: int) -> None:
        super().__init__()
        self._pool = pool
        self._job: Callable[[], T] | None = job
        self.priority = priority

    def hurry(self, priority: int = URGENT) -> None:
        """Move this job ahead in the queue, if it has not started yet."""
        self._pool.hurry(self, priority)

    def _take(self) -> Callable[[], T] | None:
        """The job to run, to exactly one caller (duplicates in the queue get None)."""
        with self._pool.lock:
            job, self._job = self._job, None
        return job

    def _run(self) -> None:
        job = self._take()
        if job is None or not self.set_running_or_notify_cancel():
            return
        try:
            result = job()
        except BaseException as exc:  # whoever waits gets it, as with ThreadPoolExecutor
            self.set_exception(exc)
        else:
            self.set_result(result)


class PriorityPool:
    """Worker threads that always take the most urgent queued task (FIFO within one
    priority). `submit` raises RuntimeError once `shutdown` has run, like an executor."""

    def __init__(self, workers: int, thread_name_prefix: str) -> None:
        self._executor = Workers(workers, thread_name_prefix)
        self._queue: queue.PriorityQueue[tuple[int, int, Task[Any]]] = queue.PriorityQueue()
        self._order = itertools.count()
        self.lock = threading.Lock()
        self._closed = False

    def submit(self, job: Callable[[], T], priority: int) -> Task[T]:
        task = Task(self, job, priority)
        self._enqueue(task, priority)
        return task

    def hurry(self, task: Task[Any], priority: int) -> None:
        with self.lock:
            if task._job is None or priority >= task.priority or self._closed:
                return
            task.priority = priority
        # Queued again at the higher priority; the old entry finds the job taken.
        self._enqueue(task, priority)

    def _enqueue(self, task: Task[Any], priority: int) -> None:
        with self.lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._queue.put((priority, next(self._order), task))
            # One "run the most urgent" per entry, so every entry is taken once.
            self._executor.submit(self._run_next)

    def _run_next(self) -> None:
        try:
            _priority, _order, task = self._queue.get_nowait()
        except queue.Empty:  # pragma: no cover - one entry per call, but be safe
            return
        task._run()

    def shutdown(self) -> None:
        """Start nothing more: queued tasks are cancelled (whoever waits on one is told),
        running ones finish on their own."""
        with self.lock:
            self._closed = True
            self._executor.shutdown(wait=False, cancel_futures=True)
            pending: list[Task[Any]] = []
            while True:
                try:
                    pending.append(self._queue.get_nowait()[2])
                except queue.Empty:
                    break
        for task in pending:
            task.cancel()
