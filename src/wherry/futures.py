"""Futures: the results of work handed to another thread (`wherry.workers`).

Why not `concurrent.futures.Future`: importing `concurrent.futures` imports `logging`
(8 ms here, with `traceback`, `string` and more), on the path of every install that
fetches anything, for the sake of one log line when a done-callback raises. This is the
part of its interface wherry uses, with the same meaning: `set_running_or_notify_cancel`,
`set_result`/`set_exception`, `result`/`exception` with a timeout, `cancel`, done
callbacks, and `wait` for all of them or the first exception.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

_PENDING, _RUNNING, _CANCELLED, _FINISHED = range(4)

ALL_COMPLETED = "ALL_COMPLETED"
FIRST_EXCEPTION = "FIRST_EXCEPTION"


class CancelledError(Exception):
    """The future was cancelled before it ran."""


class Future(Generic[T]):
    """The result of one job, set once by whoever runs it."""

    def __init__(self) -> None:
        self._state = _PENDING
        self._result: T | None = None
        self._exception: BaseException | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._callbacks: list[Callable[[Future[T]], object]] = []
        self._waiters: list[threading.Event] = []

    def __repr__(self) -> str:
        state = ("pending", "running", "cancelled", "finished")[self._state]
        return f"<Future {state}>"

    # -- the running side ------------------------------------------------------------------

    def set_running_or_notify_cancel(self) -> bool:
        """False if the future was cancelled (then do not run the job), else mark it
        running and return True."""
        with self._lock:
            if self._state == _CANCELLED:
                return False
            if self._state != _PENDING:
                raise RuntimeError(f"future in an unexpected state: {self!r}")
            self._state = _RUNNING
            return True

    def set_result(self, result: T) -> None:
        self._complete(result, None)

    def set_exception(self, exception: BaseException) -> None:
        self._complete(None, exception)

    def _complete(self, result: T | None, exception: BaseException | None) -> None:
        with self._lock:
            if self._state in (_CANCELLED, _FINISHED):
                raise RuntimeError(f"future already done: {self!r}")
            self._result, self._exception = result, exception
            self._state = _FINISHED
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
            waiters = list(self._waiters)
            self._done.set()
        for waiter in waiters:
            waiter.set()
        for callback in callbacks:
            # As concurrent.futures: one bad callback stops no other.
            with contextlib.suppress(Exception):
                callback(self)

    # -- the waiting side ------------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the job unless it has started; True if it is (now) cancelled."""
        with self._lock:
            if self._state in (_RUNNING, _FINISHED):
                return False
            if self._state == _CANCELLED:
                return True
            self._state = _CANCELLED
        self._finish()
        return True

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def running(self) -> bool:
        return self._state == _RUNNING

    def done(self) -> bool:
        return self._state in (_CANCELLED, _FINISHED)

    def add_done_callback(self, callback: Callable[[Future[T]], object]) -> None:
        """Call `callback(self)` when done (at once, here, if it already is)."""
        with self._lock:
            if self._state not in (_CANCELLED, _FINISHED):
                self._callbacks.append(callback)
                return
        with contextlib.suppress(Exception):
            callback(self)

    def _wait(self, timeout: float | None) -> None:
        if not self._done.wait(timeout):
            raise TimeoutError(f"no result within {timeout} seconds")
        if self._state == _CANCELLED:
            raise CancelledError()

    def result(self, timeout: float | None = None) -> T:
        """The job's return value; its exception is raised here."""
        self._wait(timeout)
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[return-value]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The job's exception, or None if it returned."""
        self._wait(timeout)
        return self._exception

    def _add_waiter(self, waiter: threading.Event) -> None:
        with self._lock:
            self._waiters.append(waiter)
            if self._state in (_CANCELLED, _FINISHED):
                waiter.set()

    def _remove_waiter(self, waiter: threading.Event) -> None:
        with self._lock:
            self._waiters.remove(waiter)


def wait(futures: Iterable[Future[T]], return_when: str = ALL_COMPLETED
         ) -> tuple[set[Future[T]], set[Future[T]]]:
    """(done, not done) once all are done, or (`FIRST_EXCEPTION`) as soon as one that is
    done raised."""
    pending = set(futures)
    done: set[Future[T]] = set()
    waiter = threading.Event()
    for future in pending:
        future._add_waiter(waiter)
    try:
        while True:
            finished = {future for future in pending if future.done()}
            done |= finished
            pending -= finished
            if not pending:
                break
            if return_when == FIRST_EXCEPTION and any(
                    not future.cancelled() and future._exception is not None
                    for future in finished):
                break
            waiter.wait()
            waiter.clear()
    finally:
        for future in done | pending:
            future._remove_waiter(waiter)
    return done, pending
