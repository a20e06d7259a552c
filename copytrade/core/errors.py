"""The one application error type services raise for rule violations."""

from __future__ import annotations


class ApplicationError(Exception):
    """A request the rules refuse; ``message`` is shown to the user as is.

    ``field`` names the input at fault when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
