"""The error hierarchy: every failure a user can cause or meet is one of these.

Each error carries what failed, why, and a hint, and renders as one short paragraph. The
CLI catches `WherryError` at the top and prints it; anything else is a bug, reported as
a one-paragraph "internal error" with the traceback only at `-vv`.

Exit codes (documented in `wherry --help` and docs/cli.md): 0 success, 1 a failure (any
`WherryError`, or an internal error), 2 bad usage (`UsageError`, or argparse rejecting the
command line), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations


class WherryError(Exception):
    """A failure to report to the user as a short paragraph, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (wheels are unpacked in worker processes);
        # keep the hint, which the default pickling of `args` would lose.
        return (self.__class__, (self.message,), {"hint": self.hint})

    def render(self, *, color: bool = False) -> str:
        """`error: <what failed, the object, why>` and an indented `hint:` line."""
        from wherry.output import BOLD, CYAN, RED, paint

        text = f"{paint('error', BOLD, RED, enabled=color)}: {redact_text(self.message)}"
        if self.hint:
            text += f"\n  {paint('hint', BOLD, CYAN, enabled=color)}: {redact_text(self.hint)}"
        return text


def redact_text(text: str) -> str:
    """Hide the password of every `scheme://user:password@host` in `text`: a last line of
    defence for messages that quote a URL (or an exception that does) unredacted."""
    if "@" not in text:
        return text
    import re

    return re.sub(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*):[^/@\s]+@", r"\1:****@", text)


class UsageError(WherryError):
    """The command line itself is wrong (a bad flag value, a malformed requirement)."""

    exit_code = 2


class InterpreterNotFound(WherryError):
    """No Python interpreter or environment matched the request."""


class InterpreterProbeError(WherryError):
    """A Python interpreter was found but could not be queried."""


class EnvironmentError_(WherryError):
    """The target environment cannot be used (missing, not a venv, externally managed)."""


class RequirementError(UsageError):
    """A requirement or requirements file could not be parsed."""


class IndexError_(WherryError):
    """A package index or find-links location failed (HTTP error, bad page)."""


class NetworkError(WherryError):
    """A request could not be completed (connection refused, timeout, broken body)."""


class ResolutionError(WherryError):
    """No set of versions satisfies the requirements."""


class NoCompatibleDistribution(WherryError):
    """A version was chosen but no file for it can be installed on this platform."""


class HashMismatch(WherryError):
    """A downloaded file's digest differs from the one the index or user promised."""


class WheelError(WherryError):
    """A wheel file is corrupt, unsafe, or inconsistent with its name."""


class InstallError(WherryError):
    """Changing the environment failed; it has been rolled back."""


class UninstallError(WherryError):
    """Removing a distribution failed; it has been rolled back."""


class BuildError(WherryError):
    """Building a wheel from source failed (PEP 517 backend, build requirements, sources)."""
