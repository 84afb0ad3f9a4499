"""Pydantic models for the structured administrative-procedure knowledge base.

Every procedure record of the portal crawl is parsed into a :class:`Procedure`; the JSON files under
``knowledge/data/procedures/`` are ``Procedure.model_dump(mode="json")`` outputs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChannelKind = Literal["online", "in_person", "post"]
DocumentSection = Literal["submit", "show"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Duration(_Model):
    """Processing time of one submission channel (``value`` None when the portal gives no number)."""

    value: float | None = None
    unit: str | None = None
    text: str = ""


class Fee(_Model):
    """Fee of one submission channel.

    ``text`` is the fee cell (e.g. "Miễn phí", "50,000 Việt Nam Đồng"), ``detail`` the explanation in
    parentheses that the portal appends. ``suspect`` marks cells that look mis-parsed in the source
    (e.g. a processing time glued to the amount, an amount below 1,000 VND, or "Miễn phí" together with
    a fee schedule in the detail); such amounts must not be shown to users as fact.
    """

    amount_vnd: int | None = None
    free: bool = False
    text: str = ""
    detail: str | None = None
    suspect: bool = False


class Channel(_Model):
    """One way to submit the application: online, in person or by post."""

    kind: ChannelKind
    duration: Duration
    fee: Fee
    description: str | None = None


class Document(_Model):
    """One required paper of the application file."""

    name: str
    form: str | None = None
    originals: int | None = None
    copies: int | None = None
    section: DocumentSection = "submit"
    group: str | None = Field(default=None, description="case heading the document is listed under")


class LegalBasis(_Model):
    """One legal document the procedure is based on."""

    title: str
    code: str | None = None


class ResultDocument(_Model):
    """One document the applicant receives at the end of the procedure."""

    name: str
    code: str | None = None


class Agencies(_Model):
    """Agencies involved in the procedure."""

    implementing: list[str] = Field(default_factory=list)
    competent: list[str] = Field(default_factory=list)
    authorised: list[str] = Field(default_factory=list)
    coordinating: list[str] = Field(default_factory=list)


class Procedure(_Model):
    """A fully parsed administrative procedure (thủ tục hành chính)."""

    code: str
    name: str
    field: str | None = None
    levels: list[str] = Field(default_factory=list)
    type: str | None = None
    decision: str | None = None
    agencies: Agencies = Field(default_factory=Agencies)
    submit_address: str | None = None
    applicants: list[str] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    legal_basis: list[LegalBasis] = Field(default_factory=list)
    conditions: str | None = None
    result: str | None = None
    results: list[ResultDocument] = Field(default_factory=list)
    result_note: str | None = None
    related: list[str] = Field(default_factory=list)
    url: str | None = None
    ministry: str | None = None
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    updated: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="date (YYYY-MM-DD) of the portal dump this record last changed in (knowledge/refresh.py); "
                    "None for a record no refresh has dated yet")


class FaqEntry(_Model):
    """A curated question/answer about using the public service portal."""

    id: str
    questions: list[str]
    answer: str
    source: str
    topic: str | None = None
