"""The error tree of reconciler, and the one place it maps to exit codes.

    ReconcilerError                 any expected failure: one message, no traceback
    ├── InputError                  the desired-state files are wrong          -> 1
    ├── UsageError                  a flag, option or environment is wrong     -> 1
    ├── ApiError                    a system's API could not be used           -> 1
    │   ├── AuthError               401/403: the token was rejected            -> 1
    │   ├── TransportError          unreachable host, timeout, dropped answer  -> 1
    │   └── ResponseError           an answer that is not what the API sends   -> 1
    ├── StalePlanError              a saved plan was altered or is not a fresh plan's twin -> 1
    ├── ApplyFailed                 apply ended with failed or skipped users   -> 1
    └── UnsafePlanError             a safety guard stopped the plan            -> 3

Exit code 2 is not an error: it is `plan --detailed-exitcode` finding changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.textsafe import printable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_UNSAFE = 3


@dataclass(frozen=True)
class Problem:
    """One located problem in the input: `FILE:LINE: message`.

    Shown with the file name and message made printable: both may carry what a
    file (or its name) holds, and a newline there would forge another log line.
    """

    file: str
    line: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        file, message = printable(self.file), printable(self.message)
        if self.line <= 0:
            return f"{file}: {message}"
        return f"{file}:{self.line}: {message}"


class ReconcilerError(Exception):
    """Base of every expected failure."""

    exit_code = EXIT_ERROR


class InputError(ReconcilerError):
    """The desired-state input is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UsageError(ReconcilerError):
    """A command-line option, environment variable or token file is wrong."""


class ApiError(ReconcilerError):
    """A system's API could not be used."""


class AuthError(ApiError):
    """The API rejected the token (401 or 403)."""


class TransportError(ApiError):
    """The API could not be reached, timed out or dropped the connection."""


class ResponseError(ApiError):
    """The API answered something it does not send (bad JSON, wrong shape)."""


class StalePlanError(ReconcilerError):
    """A saved plan was altered, targets another tenant, or differs from a fresh plan.

    `details` names each user (or part of the plan) that differs, one per line.
    """

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)


class ApplyFailed(ReconcilerError):
    """Apply finished but some users failed, were skipped or did not converge."""


class UnsafePlanError(ReconcilerError):
    """A safety guard stopped the plan or the apply."""

    exit_code = EXIT_UNSAFE


def exit_code_for(error: BaseException) -> int:
    """The exit code of SPEC section 3 for an error."""
    if isinstance(error, ReconcilerError):
        return error.exit_code
    return EXIT_ERROR
