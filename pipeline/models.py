"""Typed, frozen value objects passed between pipeline stages.

Contract: every stage takes one of these and returns the next; none of them carries a
database session. Fields that hold letter content are excluded from ``repr`` so that an
accidental ``log.debug(obj)`` never prints a value from a letter.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class CaseStatus(enum.StrEnum):
    RECEIVED = "received"
    AWAITING_INFORMATION = "awaiting_information"
    READY_FOR_ASSESSMENT = "ready_for_assessment"
    QUARANTINED = "quarantined"
    APPROVED = "approved"
    DECLINED = "declined"
    EMPLOYER_CONTACTED = "employer_contacted"
    EMPLOYER_APPROVED = "employer_approved"
    EMPLOYER_DECLINED = "employer_declined"
    CLIENT_NOTIFIED = "client_notified"
    CLOSED = "closed"


class IntakeOutcome(Exception):
    """A business outcome, not a bug: the message was read but cannot become a ready case.

    ``reason`` is a short, fixed, kebab-case code (``pdf-encrypted``, ``no-letter-found``...)
    and never contains a value from the message. ``status`` says where the case goes.
    """

    def __init__(self, reason: str, *, status: CaseStatus = CaseStatus.QUARANTINED, stage: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.stage = stage

    @property
    def note(self) -> str:
        """The reason as the case's timeline records it (fixed words, never a value)."""
        return self.reason


class MessageUnreadable(IntakeOutcome):
    """The message (or its letter) cannot be read: encrypted PDF, corrupt DOCX, bomb... -> quarantined."""

    def __init__(self, reason: str, *, stage: str = "extract") -> None:
        super().__init__(reason, status=CaseStatus.QUARANTINED, stage=stage)


class LetterMissing(IntakeOutcome):
    """Readable mail with no usable letter (empty, non-English...) -> awaiting_information."""

    def __init__(self, reason: str, *, stage: str = "extract") -> None:
        super().__init__(reason, status=CaseStatus.AWAITING_INFORMATION, stage=stage)


class LetterTooLong(IntakeOutcome):
    """A letter longer than the product reads (by length, or by the time its pieces took) ->
    awaiting_information: the sender is asked for the letter on its own, shorter."""

    def __init__(self, reason: str = "letter-too-long", *, stage: str = "redact") -> None:
        super().__init__(reason, status=CaseStatus.AWAITING_INFORMATION, stage=stage)


class RedactionUnverified(IntakeOutcome):
    """Verification found an identifier in the redacted text -> quarantined (fail closed)."""

    def __init__(self, reason: str = "redaction-unverified", *, entity_types: tuple[str, ...] = ()) -> None:
        super().__init__(reason, status=CaseStatus.QUARANTINED, stage="verify")
        self.entity_types = entity_types

    @property
    def note(self) -> str:
        """The operator is told which entity types verification still found (types, never values)."""
        return f"{self.reason}: {', '.join(self.entity_types)}" if self.entity_types else self.reason


@dataclass(frozen=True, slots=True)
class Address:
    name: str = field(default="", repr=False)
    email: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str = field(repr=False)
    content_type: str
    size: int
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """Headers decoded, bodies and attachments split; parser defects kept as signals."""

    message_id: str = field(default="", repr=False)
    subject: str = field(default="", repr=False)
    sender: Address = field(default_factory=Address)
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    in_reply_to: str = field(default="", repr=False)
    references: tuple[str, ...] = field(default=(), repr=False)
    # Lower-cased header name -> all values, for loop safety and sender signals.
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    content_type: str = ""
    text_plain: str = field(default="", repr=False)
    text_html: str = field(default="", repr=False)
    attachments: tuple[Attachment, ...] = ()
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str:
        """First value of a header, or ``""``."""
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""


@dataclass(frozen=True, slots=True)
class Letter:
    """The one letter text to redact, where it came from, and notes about extraction."""

    text: str = field(repr=False)
    sources: tuple[str, ...] = ()  # "body", "html", "pdf", "docx" in order of appearance
    notes: tuple[str, ...] = ()  # fixed codes, e.g. "quoted-history-dropped", "forwarded"
    # Text removed from the letter (hidden HTML, quoted history) that still names people:
    # redaction seeds known identifiers from it but it is never shown.
    removed_text: str = field(default="", repr=False)
    # A delivery report, automatic reply or list mail: never a letter, whatever its text. Its text is
    # redacted and verified like a letter's so the CSM can read what came in, but it is never assessed:
    # its outcome is ``no-letter-found`` (see :func:`pipeline.stages.extract.extract`).
    machine_report: bool = False


@dataclass(frozen=True, slots=True)
class KnownIdentifiers:
    """Identifiers seeded from the message itself; each is removed wherever it recurs."""

    names: tuple[str, ...] = field(default=(), repr=False)
    emails: tuple[str, ...] = field(default=(), repr=False)
    other: tuple[str, ...] = field(default=(), repr=False)  # phones, addresses, employer...

    def __len__(self) -> int:
        return len(self.names) + len(self.emails) + len(self.other)


def add_counts(*parts: Mapping[str, int]) -> dict[str, int]:
    """Counts by entity type added up, keys sorted (a case's letters, a long letter's pieces)."""
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))


@dataclass(frozen=True, slots=True)
class Redaction:
    """Redacted text, counts by entity type, and the vault (placeholder -> original)."""

    text: str = field(repr=False)
    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    vault: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    # Entity types verification found left in the first redaction and removed (types only, no values).
    cleaned: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Subject:
    """The message's subject line as a CSM may read it: redacted with its letter's known identifiers
    and placeholders, and verified like the letter. ``withheld`` when it could not be verified: then
    nothing of it is kept (fail closed, never the line as written) and ``text`` is ""; ``text`` is ""
    too when the message had no subject. ``vault``: the letter's, with any identifier only the
    subject holds (the same value keeps its placeholder in both). ``read``: what the sections stage
    reads for an ask made only in the subject: ``text``, or, when the redaction verified but a word no
    vocabulary explains withholds the line from display, that verified redaction (read for its ask,
    never stored or shown)."""

    text: str = field(default="", repr=False)
    withheld: bool = False
    read: str = field(default="", repr=False)
    vault: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)


@dataclass(frozen=True, slots=True)
class SectionVerdict:
    id: str
    title: str
    present: bool
    evidence: str = field(default="", repr=False)  # a sentence of the *redacted* text
    rule: str = ""  # the rule id, "heading" or "classifier" that found it; "" when absent
    # why, in plain words from fixed phrases (never the letter's): "recommendation found: the
    # therapist requests 6 further sessions", "no recommendation: the only request is for ..."
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SectionReport:
    verdicts: tuple[SectionVerdict, ...] = ()
    sessions_requested: int | None = None
    period: str | None = None
    therapy: str | None = None  # the therapy asked for, by its name in our vocabulary ("CBT", "EMDR")

    @property
    def missing(self) -> tuple[SectionVerdict, ...]:
        return tuple(v for v in self.verdicts if not v.present)

    @property
    def complete(self) -> bool:
        return bool(self.verdicts) and not self.missing

    def as_flags(self) -> dict[str, bool]:
        return {v.id: v.present for v in self.verdicts}


@dataclass(frozen=True, slots=True)
class Prior:
    """What an existing case (a thread) contributes to a follow-up message."""

    case_id: int | None = None
    vault: Mapping[str, str] = field(default_factory=dict, repr=False)
    letters: tuple[str, ...] = field(default=(), repr=False)  # earlier redacted letters, in order


@dataclass(frozen=True, slots=True)
class Processed:
    mail: ParsedMail | None
    letter: Letter | None = None
    redaction: Redaction | None = None
    sections: SectionReport | None = None
    outcome: IntakeOutcome | None = None
    subject: Subject | None = None  # with every verified redaction: the letter's subject line
