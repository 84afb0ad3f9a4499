"""The interface every status backend implements."""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod

from core.status.models import ApplicationStatus


class StatusBackendError(RuntimeError):
    """The backend could not answer (database down, one-stop system unreachable, circuit open)."""


class TrustedLookupUnsupported(RuntimeError):
    """The backend cannot look an application up without the citizen's verification factor (the one-stop HTTP
    contract always needs it)."""


class StatusBackend(ABC):
    """Looks up an application by its code, only for a caller who knows the verification factor."""

    @abstractmethod
    def lookup(self, code: str, verification: str) -> ApplicationStatus | None:
        """The application when ``code`` exists AND ``verification`` (last 4 digits of the applicant's phone
        or ID number) matches; None otherwise — callers cannot tell an unknown code from a wrong factor.

        Raises :class:`StatusBackendError` when the backend itself is unavailable.
        """

    def lookup_trusted(self, code: str) -> ApplicationStatus | None:
        """The application ``code`` (any spelling :func:`core.appcode.extract_application_code` reads) without the
        verification factor, or None when no such application exists: only for trusted callers, the officers
        signed in to the help-desk console.

        Raises :class:`TrustedLookupUnsupported` when the backend needs the factor (this default), and
        :class:`StatusBackendError` when it is unavailable.
        """
        raise TrustedLookupUnsupported(f"{type(self).__name__} needs the verification factor")

    @abstractmethod
    def health(self) -> bool:
        """True when the backend can currently answer lookups."""


def normalize_verification(verification: str | None) -> str | None:
    """The 4 digits of a verification factor ("12 34" → "1234"), or None when it is not 4 digits."""
    digits = "".join(ch for ch in (verification or "") if ch.isdigit())
    return digits if len(digits) == 4 else None


_DUMMY = "\x00\x00\x00\x00"


def verification_matches(verification: str | None, phone: str | None, id_number: str | None) -> bool:
    """Constant-time check that ``verification`` equals the last 4 digits of the phone or the ID number.

    Always does both comparisons (with dummy values for missing data), so a missing record and a wrong
    factor cost the same.
    """
    given = normalize_verification(verification) or _DUMMY
    phone_tail = ("".join(ch for ch in (phone or "") if ch.isdigit())[-4:]) or _DUMMY
    id_tail = ("".join(ch for ch in (id_number or "") if ch.isdigit())[-4:]) or _DUMMY
    ok_phone = hmac.compare_digest(given.encode(), phone_tail.encode())
    ok_id = hmac.compare_digest(given.encode(), id_tail.encode())
    return (ok_phone | ok_id) and given != _DUMMY
