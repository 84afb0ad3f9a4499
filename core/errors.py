"""The one shape of a refused operation: a Vietnamese message fit to show, and the HTTP status a staff route
answers with (each area has its own subclass, so callers catch only the refusals they expect)."""

from __future__ import annotations


class RefusedError(ValueError):
    """An operation refused; ``message`` is Vietnamese, fit to show to the citizen or officer; ``status`` the HTTP
    status (400 unless the refusal says otherwise: 404 unknown, 409 conflicting, 501 unsupported)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
