"""Sender signals: facts about the sender kept on the case for the CSM's validity check.

Contract: :func:`sender_signals` takes a :class:`~pipeline.models.ParsedMail` and returns a
:class:`SenderSignals`: whether the sender is in the directory of known therapists
(``rules/therapists.yaml``), the SPF / DKIM / DMARC results an upstream MTA recorded in
``Authentication-Results``, and optionally our own DKIM verification (dkimpy, with an
injectable verifier so tests run offline). These are signals, never a reason to reject: the
intake never bounces a letter because of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import field_validator

from pipeline.addresses import mail_domains, mailbox
from pipeline.models import ParsedMail
from pipeline.rules import RuleModel, load_rules

RULES_FILE = "therapists.yaml"


class TherapistDirectory(RuleModel):
    addresses: list[str] = []
    domains: list[str] = []

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [mailbox(a).lower() for a in value]

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return mail_domains(value)

    def knows(self, address: str) -> bool:
        address = address.strip().lower()
        if address.count("@") != 1:
            return False
        if address in self.addresses:
            return True
        domain = address.rpartition("@")[2]
        return any(domain == d or domain.endswith("." + d) for d in self.domains)


def load_therapist_directory(rules_dir: Path) -> TherapistDirectory:
    return load_rules(Path(rules_dir) / RULES_FILE, TherapistDirectory)


@dataclass(frozen=True, slots=True)
class SenderSignals:
    known_therapist: bool
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    dkim_verified: bool | None = None


# "method=result" pairs of RFC 8601; the result is a bare word.
_RESULT = re.compile(r"(?:^|[;\s])(spf|dkim|dmarc)\s*=\s*([a-zA-Z]+)", re.IGNORECASE)
_COMMENT = re.compile(r"\([^()]*\)")
_KNOWN_RESULTS = {
    "pass",
    "fail",
    "softfail",
    "neutral",
    "none",
    "temperror",
    "permerror",
    "policy",
    "bestguesspass",
}


def parse_authentication_results(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """First result per method from ``Authentication-Results`` header values (RFC 8601).

    Only the topmost header is the upstream MTA's own (later ones may have been added by the
    sender, so they are not trusted); pass the values in header order and the first wins.
    """
    found: dict[str, str] = {}
    for value in values[:1]:
        text = _COMMENT.sub(" ", " ".join(value.split()))
        # skip the authserv-id (everything before the first ";")
        _, sep, rest = text.partition(";")
        if not sep:
            continue
        for method, result in _RESULT.findall(";" + rest):
            result = result.lower()
            if result in _KNOWN_RESULTS:
                found.setdefault(method.lower(), result)
    return found


def _dkimpy_verifier() -> Callable[[bytes], bool] | None:
    try:
        import dkim  # type: ignore[import-not-found]
    except ImportError:
        return None

    def verify(raw: bytes) -> bool:
        return bool(dkim.verify(raw))

    return verify


def sender_signals(
    mail: ParsedMail,
    *,
    directory: TherapistDirectory,
    dkim_verifier: Callable[[bytes], bool] | None = None,
    raw: bytes | None = None,
) -> SenderSignals:
    """Collect signals about the sender; never raises because of the message's content.

    ``dkim_verifier`` checks the raw message's DKIM signature (tests inject one built with
    :func:`dkim_verifier_with_dns`); when it is not given and dkimpy is installed, dkimpy's own
    DNS look-up is used. Without ``raw`` or without a verifier, ``dkim_verified`` is ``None``.
    """
    results = parse_authentication_results(mail.headers.get("authentication-results", ()))
    verified: bool | None = None
    if raw is not None:
        verifier = dkim_verifier if dkim_verifier is not None else _dkimpy_verifier()
        if verifier is not None:
            try:
                verified = bool(verifier(raw))
            except Exception:  # a malformed signature or a DNS failure is "not verified", not a bug
                verified = False
    return SenderSignals(
        known_therapist=directory.knows(mail.sender.email),
        spf=results.get("spf"),
        dkim=results.get("dkim"),
        dmarc=results.get("dmarc"),
        dkim_verified=verified,
    )


def dkim_verifier_with_dns(dnsfunc: Callable[..., bytes | None]) -> Callable[[bytes], bool]:
    """A dkimpy verifier whose DNS TXT look-up is ``dnsfunc(name, timeout=...)`` (offline tests)."""
    import dkim  # type: ignore[import-not-found]

    def verify(raw: bytes) -> bool:
        return bool(dkim.verify(raw, dnsfunc=dnsfunc))

    return verify
