"""wherry/workers.py: a thread pool whose `submit` never waits for a thread to start."""

from __future__ import annotations

import threading
import time

import pytest

from wherry.workers import Workers


def test_jobs_run_and_report_results_and_errors() -> None:
    pool = Workers(4, "test")
    try:
        futures = [pool.submit(lambda x: x * x, i) for i in range(50)]
        assert [f.result(5) for f in futures] == [i * i for i in range(50)]
        failing = pool.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(5)
    finally:
        pool.shutdown()


def test_at_most_max_workers_threads_named_by_prefix() -> None:
    pool = Workers(3, "capped")
    running = 0
    peak = 0
    lock = threading.Lock()
    names: set[str] = set()

    def job() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            names.add(threading.current_thread().name)
        time.sleep(0.02)
        with lock:
            running -= 1

    for future in [pool.submit(job) for _ in range(12)]:
        future.result(5)
    pool.shutdown()
    assert peak == 3
    assert names <= {"capped_0", "capped_1", "capped_2"}


def test_parallel_jobs_each_get_a_worker() -> None:
    # Eight jobs that wait for each other can only finish if eight workers run at once:
    # a job queued while every worker is busy must get a new one.
    pool = Workers(8, "barrier")
    barrier = threading.Barrier(8, timeout=5)
    try:
        futures = [pool.submit(barrier.wait) for _ in range(8)]
        assert sorted(f.result(5) for f in futures) == list(range(8))
    finally:
        pool.shutdown()


def test_submit_does_not_wait_for_threads_to_start() -> None:
    # Another thread keeps the GIL busy, as TLS handshakes and imports do in a real run.
    # A pool that starts its threads inside `submit` waits for each new thread to get
    # the GIL (up to a switch interval, 5 ms, each: ~90 ms for 50 measured here);
    # here `submit` only queues.
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    pool = Workers(50, "burst")
    try:
        time.sleep(0.02)
        started = time.perf_counter()
        futures = [pool.submit(time.sleep, 0.01) for _ in range(50)]
        queued = time.perf_counter() - started
        stop.set()
        for future in futures:
            future.result(5)
        assert queued < 0.04
    finally:
        stop.set()
        spinner.join()
        pool.shutdown()


def test_shutdown_cancels_queued_jobs_when_asked_and_refuses_new_ones() -> None:
    pool = Workers(1, "single")
    release = threading.Event()
    first = pool.submit(release.wait, 5)
    queued = [pool.submit(lambda: None) for _ in range(3)]
    time.sleep(0.05)
    closer = threading.Thread(target=pool.shutdown, kwargs={"cancel_futures": True})
    closer.start()
    time.sleep(0.05)
    release.set()
    closer.join(5)
    assert not closer.is_alive()
    assert first.result(5) is True
    assert all(future.cancelled() for future in queued)
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


def test_shutdown_without_cancelling_runs_what_was_queued() -> None:
    pool = Workers(2, "drain")
    done: list[int] = []
    futures = [pool.submit(lambda i=i: done.append(i)) for i in range(20)]
    pool.shutdown(wait=True)
    assert all(f.done() and not f.cancelled() for f in futures)
    assert sorted(done) == list(range(20))


def test_the_initializer_runs_in_each_worker() -> None:
    local = threading.local()
    pool = Workers(2, "init", initializer=lambda: setattr(local, "marked", True))
    try:
        assert pool.submit(lambda: getattr(local, "marked", False)).result(5)
        assert not getattr(local, "marked", False)  # not in the submitting thread
    finally:
        pool.shutdown()
