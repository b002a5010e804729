"""A thread pool whose `submit` never waits for a thread to start.

Why not `ThreadPoolExecutor`: it starts a worker inside `submit` with `Thread.start`,
which waits until the new thread has run its first Python code, and for that the new
thread needs the GIL. While other workers are busy (TLS handshakes, cache reads) and the
main thread imports, each start waited up to a GIL switch interval (5 ms). Measured on
the warm 35-package install: the main thread spent 70 ms in `submit` queueing the 35
page requests, and moving the starts to a helper thread only moved the wait (the last
request still left 80 ms after the first). Here a worker is started with
`_thread.start_new_thread`, which returns as soon as the OS thread exists, so the 35
requests' threads all exist within a millisecond and each leaves as soon as it gets the
GIL.

The results are `wherry.futures.Future`s (`concurrent.futures`' interface). The
workers are not `threading.Thread` objects (that is the point), so they are shut down and
joined by `shutdown`, which also runs at interpreter exit: a job that has started always
finishes; jobs still queued then are cancelled only when asked (`cancel_futures`), as with
`ThreadPoolExecutor`.
"""

from __future__ import annotations

import _thread
import atexit
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from wherry.futures import Future

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class Workers:
    """Up to `max_workers` threads named `<prefix>_<n>`, started on demand."""

    def __init__(self, max_workers: int, thread_name_prefix: str,
                 initializer: Callable[[], None] | None = None) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max = max_workers
        self._prefix = thread_name_prefix
        self._initializer = initializer
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all_gone = threading.Condition(self._lock)
        self._started = 0  # workers ever started
        self._running = 0  # workers not finished
        self._queued = 0  # jobs in the queue
        self._idle = 0  # workers waiting for a job
        self._owed = 0  # workers started that have not reached the queue yet
        self._closed = False
        pool = weakref.ref(self)
        self._at_exit = lambda: _shutdown_at_exit(pool)
        atexit.register(self._at_exit)

    @property
    def max_workers(self) -> int:
        return self._max

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Queue `fn(*args, **kwargs)`; raises RuntimeError after `shutdown`."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.put((future, fn, args, kwargs))
            self._queued += 1
            if self._queued > self._idle + self._owed and self._started < self._max:
                number = self._started
                _thread.start_new_thread(self._work, (number,))
                self._started += 1
                self._running += 1
                self._owed += 1
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more jobs; cancel the queued ones if asked; with `wait`, return when
        the running ones are done (at once when called from a worker: it cannot wait
        for itself)."""
        cancelled: list[Future[Any]] = []
        with self._lock:
            if not self._closed:
                self._closed = True
                if cancel_futures:
                    while True:
                        try:
                            job = self._jobs.get_nowait()
                        except queue.Empty:
                            break
                        if job is not None:
                            self._queued -= 1
                            cancelled.append(job[0])
                self._jobs.put(None)  # each worker passes it on as it leaves
        atexit.unregister(self._at_exit)
        for future in cancelled:
            future.cancel()
        if wait and getattr(_current, "pool", None) is not self:
            with self._lock:
                while self._running:
                    self._all_gone.wait()

    # -- threads -----------------------------------------------------------------------

    def _work(self, number: int) -> None:
        lock = self._lock
        try:
            _current.pool = self
            threading.current_thread().name = f"{self._prefix}_{number}"
            if self._initializer is not None:
                self._initializer()
            jobs = self._jobs
            with lock:
                # Owed until now, idle from now, in one step: `submit` never counts this
                # worker twice (or not at all) when deciding whether to start another.
                self._owed -= 1
                self._idle += 1
            while True:
                job = jobs.get()
                with lock:
                    self._idle -= 1
                    if job is not None:
                        self._queued -= 1
                if job is None:
                    jobs.put(None)
                    return
                future, fn, args, kwargs = job
                del job
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:  # whoever waits on the future gets it
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
                        del result
                del future, fn, args, kwargs
                with lock:
                    self._idle += 1
        finally:
            with lock:
                self._running -= 1
                if not self._running:
                    self._all_gone.notify_all()


_current = threading.local()  # `pool`: the pool a worker thread belongs to


def _shutdown_at_exit(pool: weakref.ref[Workers]) -> None:
    workers = pool()
    if workers is not None:
        workers.shutdown(wait=True)
