"""TLS contexts, built once per process: verifying (per CA source) and insecure.

Kept apart from the HTTP client so a command can start building the verifying context
(`prepare_tls`) before it knows whether it will send a request, without importing the
client, its sockets or the thread pool: the no-op path stays as light as it was.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from wherry.errors import NetworkError
from wherry.output import trace

if TYPE_CHECKING:
    import ssl


_contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
_insecure: list[ssl.SSLContext] = []
_contexts_lock = threading.Lock()


def verifying_context(cert: str | None) -> ssl.SSLContext:
    """The verifying context: `--cert`, else `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the
    system store; built once per process for each source (it costs 15-50 ms)."""
    cafile = cert or os.environ.get("SSL_CERT_FILE") or None
    capath = None if cert else (os.environ.get("SSL_CERT_DIR") or None)
    source = "--cert" if cert else "SSL_CERT_FILE/SSL_CERT_DIR"
    return _verifying_context(cafile, capath, source)


def prepare_tls(cert: str | None, urls: Callable[[], Iterable[str]]) -> None:
    """Start building the verifying context in a background thread when any of `urls`
    (called in that thread) is HTTPS, so the first request finds it built.

    Why: loading the CA certificates takes 15-30 ms, most of it in OpenSSL with the GIL
    released, and the first request of every run waited for it. A command calls this
    before it examines its interpreter (a probe is a subprocess: the main thread only
    waits), so the load runs on the other core. Errors are not kept: the request that
    needs the context builds it again and reports them.
    """
    def build() -> None:
        with contextlib.suppress(Exception):
            if any(url.startswith("https:") for url in urls()):
                verifying_context(cert)

    threading.Thread(target=build, name="wherry-tls", daemon=True).start()


def _verifying_context(cafile: str | None, capath: str | None, source: str) -> ssl.SSLContext:
    """One verifying context per CA source for the whole process."""
    key = (cafile, capath)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is not None:
            return context
        import ssl

        started = time.perf_counter()
        try:
            # The system store, also when `--cert`/`PIP_CERT`/`SSL_CERT_FILE` (with
            # `SSL_CERT_DIR`, if set) name it (a common setting): read lazily if it can be.
            system = not (cafile or capath) or bool(
                cafile and _is_system_store(cafile, "file")
                and (not capath or _is_system_store(capath, "dir")))
            system_dir = _lazy_system_store() if system else None
            if system_dir:
                context = ssl.create_default_context(capath=system_dir)
            elif cafile or capath:
                context = ssl.create_default_context(cafile=cafile, capath=capath)
            else:
                context = ssl.create_default_context()
        except (OSError, ssl.SSLError) as exc:
            raise NetworkError(f"Cannot load CA certificates from {cafile or capath}: {exc}",
                               hint=f"check the file named by {source}") from None
        trace("Built TLS context in %.1f ms", (time.perf_counter() - started) * 1000)
        _contexts[key] = context
        return context


def _lazy_system_store() -> str | None:
    """The system's hashed CA directory, when it holds the same certificates as the
    system's CA file, else None (then the default store is loaded as usual).

    Why: the default store parses every certificate of the CA file up front (~140 of
    them, 20 ms of CPU on the first connection of every run), whereas a hashed
    directory (`c_rehash`/`update-ca-certificates` links named by subject hash) is read
    lazily: OpenSSL opens only the certificate a server's chain needs. Both are made from
    the same sources on the distributions that have both; the count of certificates in
    the file and of hash links in the directory must agree, or the file is used."""
    import ssl

    paths = ssl.get_default_verify_paths()
    directory, bundle = paths.capath, paths.cafile
    if not directory or not bundle:
        return None
    try:
        with open(bundle, "rb") as handle:
            in_bundle = handle.read().count(b"-----BEGIN CERTIFICATE-----")
        links = sum(1 for name in os.listdir(directory)
                    if len(name) == 10 and name[8] == "." and name[9].isdigit())
    except OSError:
        return None
    return directory if in_bundle and links == in_bundle else None


def _is_system_store(path: str, kind: str) -> bool:
    """Whether `path` is the system's default CA file (`kind` "file") or hashed directory
    ("dir"), by any path to it."""
    import ssl

    paths = ssl.get_default_verify_paths()
    defaults = ((paths.cafile, paths.openssl_cafile) if kind == "file"
                else (paths.capath, paths.openssl_capath))
    for default in defaults:
        if default:
            with contextlib.suppress(OSError):
                if os.path.samefile(path, default):
                    return True
    return False


def insecure_context() -> ssl.SSLContext:
    """The process's one context that checks neither certificates nor host names."""
    with _contexts_lock:
        if not _insecure:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            _insecure.append(context)
        return _insecure[0]
