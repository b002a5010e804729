"""Worker processes that unpack a wheel from the bytes of its download, as they arrive.

Unzipping and hashing thousands of members is Python work that threads cannot spread
over cores (the GIL), so big wheels are unpacked in other processes. The download thread
keeps the socket and the hashers, and passes each chunk down a pipe to a worker running a
`StreamUnpacker`: one pass, the download and the unpacking overlapped, no wheel file on
disk. Workers are spawned (not forked: the parent has threads holding locks) on first
need, one per core at most, and reused; with all busy, the next big wheel waits for one
before its download starts (unpacking, not the network, is what limits a cold install).

The protocol on a worker's pipe, per wheel: a `("start", wheel name, cache root)` message;
the chunks, as byte messages; an empty byte message; then `("end", sha256)` or
`("abort",)`. The worker answers exactly once per wheel: an error as soon as it meets one
(it then ignores the rest of the chunks), else the archive path (after "end") or
`("aborted",)`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from wherry.errors import WheelError
from wherry.install.zipstream import StreamUnsupported
from wherry.output import log

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from wherry.cache.layout import Cache


def _serve(conn: Connection, level: int) -> None:
    """A worker's loop: one wheel after another until the parent goes away."""
    from wherry.cache.layout import Cache
    from wherry.install.stream_unpack import StreamUnpacker

    log.setLevel(level)
    while True:
        try:
            start = conn.recv()
        except (EOFError, OSError):
            return
        _, wheel_name, cache_root = start
        unpacker: StreamUnpacker | None = None
        answered = False
        try:
            unpacker = StreamUnpacker(wheel_name, Cache.at(Path(cache_root)))
        except BaseException as error:
            conn.send(_describe(error))
            answered = True
        while chunk := conn.recv_bytes():
            if answered or unpacker is None:
                continue
            try:
                unpacker.feed(chunk)
            except BaseException as error:
                conn.send(_describe(error))
                answered = True
        command = conn.recv()
        if command[0] == "end" and not answered and unpacker is not None:
            try:
                conn.send(("ok", str(unpacker.finish(command[1]))))
            except BaseException as error:
                conn.send(_describe(error))
        elif not answered:
            if unpacker is not None:
                unpacker.abort()
            conn.send(("aborted",))


def _describe(error: BaseException) -> tuple[str, ...]:
    if isinstance(error, StreamUnsupported):
        return ("unsupported", str(error))
    if isinstance(error, WheelError):
        return ("wheel", error.message, error.hint or "")
    return ("failed", f"{type(error).__name__}: {error}")


def _raise(answer: tuple[str, ...]) -> None:
    kind = answer[0]
    if kind == "unsupported":
        raise StreamUnsupported(answer[1])
    if kind == "wheel":
        raise WheelError(answer[1], hint=answer[2] or None)
    if kind == "failed":
        # An unexpected failure in the worker (disk full, ...): the whole-file path in
        # this process will meet it again and report it properly.
        raise StreamUnsupported(f"the unpacking process failed: {answer[1]}")


class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn


class _Workers:
    """The pool: idle workers, a limit, and a condition to wait for one on."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0
        self._limit = os.cpu_count() or 1
        self._atexit = False

    def acquire(self) -> _Worker:
        """An idle worker, a new one while under the limit, else the next one freed."""
        with self._lock:
            while not self._idle:
                if self._count < self._limit:
                    self._count += 1
                    break
                self._lock.wait()
            else:
                return self._idle.pop()
            if not self._atexit:
                atexit.register(self.close)
                self._atexit = True
        try:
            return self._spawn()
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise

    def release(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)
            self._lock.notify()

    def discard(self, worker: _Worker) -> None:
        with self._lock:
            self._count -= 1
            self._lock.notify()
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.terminate()

    @staticmethod
    def _spawn() -> _Worker:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, log.level), daemon=True,
                                  name="wherry-unpack")
        process.start()
        child.close()
        return _Worker(process, parent)

    def close(self) -> None:
        """Let idle workers go: their pipe closes and they return."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.conn.close()


_workers = _Workers()


def reserve() -> _Worker:
    """A worker of one's own (waiting for one to be free when all are busy): taken
    before a download starts, so no connection sits idle waiting for a worker."""
    return _workers.acquire()


def release(worker: _Worker) -> None:
    """Give back a reserved worker that was not used."""
    _workers.release(worker)


class WorkerSink:
    """A download sink (see `HttpClient.stream`) that a worker process unpacks."""

    def __init__(self, worker: _Worker, wheel_name: str, cache: Cache) -> None:
        self.wheel_name = wheel_name
        self._worker: _Worker | None = worker
        self._answer: tuple[str, ...] | None = None
        self._send(("start", wheel_name, str(cache.root)))

    def feed(self, chunk: bytes) -> None:
        worker = self._live()
        try:
            worker.conn.send_bytes(chunk)
            if worker.conn.poll():  # the worker met an error: stop downloading now
                self._answer = worker.conn.recv()
        except (OSError, EOFError) as error:
            self._broken(error)
        if self._answer is not None:
            answer = self._answer
            self.abort()
            _raise(answer)

    def abort(self) -> None:
        if self._worker is None:
            return
        with contextlib.suppress(StreamUnsupported):
            self._end(("abort",))

    def finish(self, sha256: str) -> Path:
        answer = self._end(("end", sha256))
        if answer[0] != "ok":
            _raise(answer)
        return Path(answer[1])

    def _end(self, command: tuple[str, ...]) -> tuple[str, ...]:
        """Close the worker's job; returns its one answer and gives the worker back."""
        worker = self._live()
        try:
            worker.conn.send_bytes(b"")
            worker.conn.send(command)
            answer = self._answer if self._answer is not None else worker.conn.recv()
        except (OSError, EOFError) as error:
            self._broken(error)
        self._worker = None
        _workers.release(worker)
        return answer

    def _live(self) -> _Worker:
        if self._worker is None:
            raise StreamUnsupported("the unpacking process was already let go")
        return self._worker

    def _send(self, message: Any) -> None:
        worker = self._live()
        try:
            worker.conn.send(message)
        except (OSError, EOFError) as error:
            self._broken(error)

    def _broken(self, error: BaseException) -> NoReturn:
        worker, self._worker = self._worker, None
        if worker is not None:
            _workers.discard(worker)
        raise StreamUnsupported(f"the unpacking process went away ({error})")
