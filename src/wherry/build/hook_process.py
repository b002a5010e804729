"""One long-lived backend process (hook_server.py) for the hooks of one source.

The process is started on the first hook call, in the project tree, with the build
environment's interpreter and variables; it imports the backend once and runs each hook in
a forked child (see hook_server.py for why that is as safe as a fresh process). Its output
is read line by line up to the reply marker, so each hook's output is known on its own:
streamed to stderr at `-v` and kept for the error message when the hook fails. `close()`
ends the process; `kill()` (on an error or Ctrl-C in the caller) ends it and the hook it
is running at once, so no build is left running behind wherry.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import msgspec

from wherry.output import DEBUG, log

SERVER_SCRIPT = Path(__file__).with_name("hook_server.py")
_CLOSE_TIMEOUT = 10.0


class HookProcessDied(Exception):
    """The backend process ended without a reply (the hook crashed it, or it was killed)."""

    def __init__(self, returncode: int, output: list[str]) -> None:
        super().__init__(returncode)
        self.returncode = returncode
        self.output = output


class HookReply(msgspec.Struct):
    """A hook's reply (see hook_server.py for its keys) and the output it printed."""

    data: dict[str, Any]
    output: list[str]


class HookProcess:
    """The backend process of one source in one build environment (not thread-safe: one
    source is built by one thread at a time)."""

    def __init__(self, python: str, tree: Path, environ: Mapping[str, str], backend: str,
                 backend_path: Sequence[str], label: str) -> None:
        # Absolute: the process starts in the project tree, where a relative path (from a
        # relative --cache-dir) would point nowhere.
        self.python = os.path.abspath(python)
        self.tree = tree
        self.environ = dict(environ)
        self.backend = backend
        self.backend_path = list(backend_path)
        self.label = label
        self._process: subprocess.Popen[bytes] | None = None
        self._marker = b""

    def _start(self) -> subprocess.Popen[bytes]:
        # The reply marker goes on stdin, which no hook sees (an argument or a variable
        # could be printed by a backend, and would end its hook's output early).
        self._marker = f"@@wherry-hook-reply-{os.urandom(12).hex()}@@".encode("ascii")
        self._process = subprocess.Popen(
            [self.python, str(SERVER_SCRIPT), self.backend, json.dumps(self.backend_path)],
            cwd=self.tree, env=self.environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):  # a server that died says why on stdout
            self._process.stdin.write(self._marker + b"\n")
        return self._process

    def call(self, hook: str, kwargs: Mapping[str, Any]) -> HookReply:
        """Run `hook` in the backend process (started now if need be)."""
        process = self._process or self._start()
        assert process.stdin is not None and process.stdout is not None
        request = json.dumps({"hook": hook, "kwargs": dict(kwargs)}).encode("utf-8") + b"\n"
        try:
            try:
                process.stdin.write(request)
                process.stdin.flush()
            except OSError:  # it died already; what it printed explains why
                pass
            lines, reply = self._read_reply(process.stdout)
        except BaseException:
            self.kill()
            raise
        if reply is None:
            returncode = process.wait()
            self._forget()
            raise HookProcessDied(returncode, lines)
        if reply.get("exiting"):  # one hook per process on this platform
            self.close()
        return HookReply(reply, lines)

    def _read_reply(self, stdout: IO[bytes]) -> tuple[list[str], dict[str, Any] | None]:
        stream = log.isEnabledFor(DEBUG)
        lines: list[str] = []
        for raw in stdout:
            before, marker, after = raw.partition(self._marker)
            text = before.decode("utf-8", errors="replace").rstrip("\r\n")
            if text or not marker:
                lines.append(text)
                if stream:
                    with contextlib.suppress(OSError, ValueError):
                        sys.stderr.write(f"{self.label} {text}\n")
            if marker:
                try:
                    reply: dict[str, Any] = json.loads(after.decode("utf-8"))
                except ValueError:  # cannot happen unless the protocol broke
                    reply = {"failed": True, "returncode": "an unreadable reply"}
                return lines, reply
        return lines, None

    def close(self) -> None:
        """End the process: at the end of its input it exits."""
        process = self._process
        if process is None:
            return
        try:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            process.wait(timeout=_CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:  # stuck (an exit handler of the backend?)
            self.kill()
        except BaseException:
            self.kill()
            raise
        self._forget()

    def kill(self) -> None:
        """End the process and the hook it runs now (the server forwards SIGTERM)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_CLOSE_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._forget()

    def _forget(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
