"""User-facing errors with stable exit codes.

A :class:`UserError` is a problem the person running phm can fix (a bad argument,
an unreadable file). The CLI prints its message on one line, with no traceback,
and exits with the error's code. Anything else is a bug in phm.
"""

from __future__ import annotations

# Stable exit codes: scripts and CI may rely on these.
EXIT_OK = 0
EXIT_USAGE = 2  # bad arguments or options
EXIT_INPUT = 3  # an input file, directory or reference is unusable
EXIT_OUTPUT = 4  # an output location is unusable (exists, unwritable)
EXIT_INTERNAL = 70  # a bug in phm (EX_SOFTWARE)


class UserError(Exception):
    """An error the user can act on; ``str(err)`` is the whole message."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(UserError):
    """An input (file, directory, code, reference) cannot be used."""

    exit_code = EXIT_INPUT


class OutputError(UserError):
    """An output location cannot be written."""

    exit_code = EXIT_OUTPUT
