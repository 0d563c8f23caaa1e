"""Sender signals: facts about the sender kept on the case for the CSM's validity check.

Contract: :func:`sender_signals` takes a :class:`~pipeline.models.ParsedMail` and returns a
:class:`SenderSignals`: whether the sender is in the directory of known therapists
(``rules/therapists.yaml``), the SPF / DKIM / DMARC results an upstream MTA recorded in
``Authentication-Results``, and optionally our own DKIM verification (dkimpy, with an
injectable verifier so tests run offline). ``aligned`` says whether the From domain is
authenticated: DMARC passed, or SPF or DKIM passed for a domain aligned with it (the same domain,
or one a subdomain of the other; RFC 7489 relaxed alignment without the public-suffix list, so
two sibling subdomains do not align). These are signals, never a reason to reject: the intake
never bounces a letter because of them; the recording acknowledges only authenticated senders,
known therapists, or a message that holds a letter (no backscatter to forged senders).
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
    aligned: bool = False  # the From domain is authenticated (see the module docstring)


# "method=result" pairs of RFC 8601; the result is a bare word.
_RESULT = re.compile(r"(?:^|[;\s])(spf|dkim|dmarc)\s*=\s*([a-zA-Z]+)", re.IGNORECASE)
# "ptype.property=value" after a result, e.g. smtp.mailfrom=clinic.example, header.d=clinic.example.
_PROPERTY = re.compile(r"([a-z]+\.[a-z-]+)\s*=\s*([^;\s]+)", re.IGNORECASE)
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


def _trusted_header(values: tuple[str, ...] | list[str], authserv_ids: tuple[str, ...]) -> str | None:
    """The header our own MTA added: the topmost, or (RFC 8601 section 5) the first naming one of
    ``authserv_ids``; headers below it may have been added by the sender."""
    if not authserv_ids:
        return values[0] if values else None
    wanted = {a.lower() for a in authserv_ids}
    for value in values:
        text = _COMMENT.sub(" ", " ".join(value.split()))
        authserv = text.partition(";")[0].split()
        if authserv and authserv[0].lower() in wanted:
            return value
    return None


def authentication_results(
    values: tuple[str, ...] | list[str], *, authserv_ids: tuple[str, ...] = ()
) -> dict[str, tuple[str, dict[str, str]]]:
    """First result per method with its properties (``header.d``, ``smtp.mailfrom``...), lower-cased."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    value = _trusted_header(values, authserv_ids)
    if value is None:
        return found
    text = _COMMENT.sub(" ", " ".join(value.split()))
    # skip the authserv-id (everything before the first ";")
    _, sep, rest = text.partition(";")
    if not sep:
        return found
    for part in rest.split(";"):
        match = _RESULT.search(";" + part)
        if match is None or match.group(2).lower() not in _KNOWN_RESULTS:
            continue
        properties = {k.lower(): v.strip("<>").lower() for k, v in _PROPERTY.findall(part[match.end() - 1 :])}
        found.setdefault(match.group(1).lower(), (match.group(2).lower(), properties))
    return found


def parse_authentication_results(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """First result per method from ``Authentication-Results`` header values (RFC 8601).

    Only the topmost header is the upstream MTA's own (later ones may have been added by the
    sender, so they are not trusted); pass the values in header order and the first wins.
    """
    return {method: result for method, (result, _props) in authentication_results(values).items()}


def aligned_domains(a: str, b: str) -> bool:
    a, b = a.strip(".").lower().rpartition("@")[2], b.strip(".").lower().rpartition("@")[2]
    return bool(a and b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


_DKIM_DOMAIN = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


def _is_aligned(mail: ParsedMail, results: dict[str, tuple[str, dict[str, str]]], dkim_verified: bool | None) -> bool:
    from_domain = mail.sender.email.rpartition("@")[2].lower()
    if not from_domain:
        return False
    if results.get("dmarc", ("", {}))[0] == "pass":
        return True
    spf, spf_props = results.get("spf", ("", {}))
    if spf == "pass" and aligned_domains(spf_props.get("smtp.mailfrom", ""), from_domain):
        return True
    dkim_result, dkim_props = results.get("dkim", ("", {}))
    signer = dkim_props.get("header.d") or dkim_props.get("header.i", "")
    if dkim_result == "pass" and aligned_domains(signer, from_domain):
        return True
    if dkim_verified:
        signed = [m.group(1) for v in mail.headers.get("dkim-signature", ()) if (m := _DKIM_DOMAIN.search(v))]
        return any(aligned_domains(d, from_domain) for d in signed)
    return False


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
    authserv_ids: tuple[str, ...] = (),
) -> SenderSignals:
    """Collect signals about the sender; never raises because of the message's content.

    ``dkim_verifier`` checks the raw message's DKIM signature (tests inject one built with
    :func:`dkim_verifier_with_dns`); when it is not given and dkimpy is installed, dkimpy's own
    DNS look-up is used. Without ``raw`` or without a verifier, ``dkim_verified`` is ``None``.
    """
    found = authentication_results(mail.headers.get("authentication-results", ()), authserv_ids=authserv_ids)
    results = {method: result for method, (result, _props) in found.items()}
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
        aligned=_is_aligned(mail, found, verified),
    )


def dkim_verifier_with_dns(dnsfunc: Callable[..., bytes | None]) -> Callable[[bytes], bool]:
    """A dkimpy verifier whose DNS TXT look-up is ``dnsfunc(name, timeout=...)`` (offline tests)."""
    import dkim  # type: ignore[import-not-found]

    def verify(raw: bytes) -> bool:
        return bool(dkim.verify(raw, dnsfunc=dnsfunc))

    return verify
