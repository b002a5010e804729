"""wherry/futures.py: the part of `concurrent.futures.Future` wherry uses, same meaning."""

from __future__ import annotations

import threading
import time

import pytest

from wherry.futures import FIRST_EXCEPTION, CancelledError, Future, wait


def test_result_exception_and_callbacks() -> None:
    ok: Future[int] = Future()
    seen: list[object] = []
    ok.add_done_callback(lambda f: seen.append(f.result()))
    ok.add_done_callback(lambda f: 1 / 0)  # a bad callback stops no other
    ok.add_done_callback(lambda f: seen.append("second"))
    assert ok.set_running_or_notify_cancel() and ok.running()
    ok.set_result(5)
    assert ok.done() and ok.result() == 5 and ok.exception() is None
    assert seen == [5, "second"]
    ok.add_done_callback(lambda f: seen.append("late"))  # runs at once when done
    assert seen[-1] == "late"
    failed: Future[int] = Future()
    failed.set_exception(ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        failed.result()
    assert isinstance(failed.exception(), ValueError)
    with pytest.raises(RuntimeError):
        failed.set_result(1)


def test_cancel_only_before_running_and_timeouts() -> None:
    queued: Future[int] = Future()
    assert queued.cancel() and queued.cancelled() and queued.done()
    assert not queued.set_running_or_notify_cancel()
    with pytest.raises(CancelledError):
        queued.result()
    started: Future[int] = Future()
    assert started.set_running_or_notify_cancel()
    assert not started.cancel()
    with pytest.raises(TimeoutError):
        started.result(timeout=0.01)


def test_result_waits_for_another_thread() -> None:
    future: Future[str] = Future()
    threading.Timer(0.05, future.set_result, ("late",)).start()
    assert future.result(timeout=5) == "late"


def test_wait_for_all_or_the_first_exception() -> None:
    fast: Future[int] = Future()
    slow: Future[int] = Future()
    failing: Future[int] = Future()
    threading.Timer(0.02, fast.set_result, (1,)).start()
    threading.Timer(0.05, failing.set_exception, (OSError("down"),)).start()
    started = time.perf_counter()
    done, pending = wait([fast, slow, failing], return_when=FIRST_EXCEPTION)
    assert done == {fast, failing} and pending == {slow}
    assert time.perf_counter() - started < 2
    threading.Timer(0.02, slow.set_result, (3,)).start()
    done, pending = wait([fast, slow, failing])
    assert done == {fast, slow, failing} and not pending
    assert not fast._waiters and not slow._waiters  # waiters are removed afterwards
