"""Sender signals: therapist directory, upstream Authentication-Results, optional offline DKIM."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pipeline.rules import DEFAULT_RULES_DIR, RulesError
from pipeline.stages.parse import parse
from pipeline.stages.signals import (
    SenderSignals,
    dkim_verifier_with_dns,
    load_therapist_directory,
    parse_authentication_results,
    sender_signals,
)


def raw_mail(sender: str, extra: str = "") -> bytes:
    return (
        f"{extra}From: Dr Test <{sender}>\r\nTo: hello@heyplumm.com\r\nSubject: Letter\r\n"
        "Message-ID: <m1@clinic.example>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDear Plumm,\r\n"
    ).encode()


@pytest.fixture(scope="module")
def directory():
    return load_therapist_directory(DEFAULT_RULES_DIR)


@pytest.mark.parametrize(
    ("sender", "known"),
    [
        ("dr.amelia.hart@calmminds.example", True),  # listed address
        ("Dr.Amelia.Hart@CalmMinds.example", True),  # case-insensitive
        ("anyone@riverside-therapy.example", True),  # listed domain
        ("reception@leeds.mindful-practice.example", True),  # subdomain of a listed domain
        ("someone@calmminds.example", False),  # only one address of that domain is listed
        ("x@evilriverside-therapy.example", False),  # suffix without a dot is another domain
        ("stranger@gmail.example", False),
    ],
)
def test_directory_hit_and_miss(sender: str, known: bool, directory) -> None:
    assert sender_signals(parse(raw_mail(sender)), directory=directory).known_therapist is known


def test_directory_rejects_malformed_entries_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "therapists.yaml").write_text("addresses:\n  - not-an-address\ndomains: []\n")
    with pytest.raises(RulesError, match=r"therapists\.yaml.*addresses"):
        load_therapist_directory(tmp_path)


AUTH_RESULTS = [
    (
        "mx.heyplumm.com; spf=pass smtp.mailfrom=clinic.example; dkim=pass header.d=clinic.example "
        "header.s=s1; dmarc=pass (p=reject dis=none) header.from=clinic.example",
        ("pass", "pass", "pass"),
    ),
    (
        "mx.heyplumm.com;\r\n\tspf=softfail (domain of x does not designate) smtp.mailfrom=x;\r\n"
        "\tdkim=none; dmarc=fail header.from=clinic.example",
        ("softfail", "none", "fail"),
    ),
    ("mx.heyplumm.com; DKIM=Fail (bad signature) header.d=clinic.example", (None, "fail", None)),
    ("mx.heyplumm.com; none", (None, None, None)),
    ("mx.heyplumm.com (comment spf=pass); dkim=temperror", (None, "temperror", None)),
]


@pytest.mark.parametrize(("value", "want"), AUTH_RESULTS, ids=[w for w in map(str, range(len(AUTH_RESULTS)))])
def test_authentication_results_parsing(value: str, want: tuple, directory) -> None:
    signals = sender_signals(
        parse(raw_mail("a@clinic.example", f"Authentication-Results: {value}\r\n")), directory=directory
    )
    assert (signals.spf, signals.dkim, signals.dmarc) == want


def test_only_the_topmost_authentication_results_is_trusted() -> None:
    # a sender can add its own header below the one our upstream MTA prepends
    values = ("mx.heyplumm.com; spf=fail smtp.mailfrom=x", "forged.example; spf=pass; dkim=pass; dmarc=pass")
    assert parse_authentication_results(values) == {"spf": "fail"}


def test_no_authentication_results_means_none(directory) -> None:
    assert sender_signals(parse(raw_mail("stranger@gmail.example")), directory=directory) == SenderSignals(
        known_therapist=False, spf=None, dkim=None, dmarc=None, dkim_verified=None
    )


def test_injected_dkim_verifier_result_is_kept_and_errors_are_not_verified(directory) -> None:
    raw = raw_mail("a@clinic.example")
    mail = parse(raw)
    assert sender_signals(mail, directory=directory, dkim_verifier=lambda b: True, raw=raw).dkim_verified is True

    def broken(_: bytes) -> bool:
        raise RuntimeError("dns down")

    assert sender_signals(mail, directory=directory, dkim_verifier=broken, raw=raw).dkim_verified is False
    assert sender_signals(mail, directory=directory, dkim_verifier=lambda b: True).dkim_verified is None


def test_dkim_signature_verifies_offline_with_generated_key(directory) -> None:
    import dkim  # dkimpy is a dependency: a missing install fails here, it is never skipped
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    looked_up: list[str] = []

    def dns(name, timeout=5):
        looked_up.append(name.decode() if isinstance(name, bytes) else name)
        return record if looked_up[-1].rstrip(".") == "s1._domainkey.clinic.example" else None

    raw = raw_mail("a@clinic.example")
    signature = dkim.sign(raw, b"s1", b"clinic.example", private_pem, include_headers=[b"from", b"to", b"subject"])
    signed = signature + raw
    verifier = dkim_verifier_with_dns(dns)
    assert sender_signals(parse(signed), directory=directory, dkim_verifier=verifier, raw=signed).dkim_verified
    tampered = signed.replace(b"Dear Plumm", b"Dear Plumb")
    assert (
        sender_signals(parse(tampered), directory=directory, dkim_verifier=verifier, raw=tampered).dkim_verified
        is False
    )
    assert looked_up and all(n.rstrip(".") == "s1._domainkey.clinic.example" for n in looked_up)


ALIGNMENT = [
    ("mx.heyplumm.com; dmarc=pass header.from=clinic.example", True),
    ("mx.heyplumm.com; spf=pass smtp.mailfrom=bounces.clinic.example", True),  # a subdomain aligns
    ("mx.heyplumm.com; spf=pass smtp.mailfrom=<x@clinic.example>", True),
    ("mx.heyplumm.com; dkim=pass header.d=clinic.example header.s=s1", True),
    ("mx.heyplumm.com; dkim=pass header.i=@mail.clinic.example", True),
    ("mx.heyplumm.com; spf=pass smtp.mailfrom=bulk-sender.example; dkim=pass header.d=bulk-sender.example", False),
    ("mx.heyplumm.com; spf=pass smtp.mailfrom=evilclinic.example", False),  # a suffix is not a subdomain
    ("mx.heyplumm.com; spf=fail smtp.mailfrom=clinic.example; dkim=fail header.d=clinic.example", False),
    ("mx.heyplumm.com; dmarc=fail header.from=clinic.example", False),
]


@pytest.mark.parametrize(("value", "aligned"), ALIGNMENT, ids=[str(i) for i in range(len(ALIGNMENT))])
def test_alignment_of_the_authenticated_domain_with_from(value: str, aligned: bool, directory) -> None:
    mail = parse(raw_mail("a@clinic.example", f"Authentication-Results: {value}\r\n"))
    assert sender_signals(mail, directory=directory).aligned is aligned


def test_with_authserv_ids_only_our_mtas_header_is_trusted(directory) -> None:
    forged = "Authentication-Results: forged.example; dmarc=pass header.from=clinic.example\r\n"
    ours = "Authentication-Results: mx.heyplumm.com; dmarc=fail header.from=clinic.example\r\n"
    mail = parse(raw_mail("a@clinic.example", forged + ours))
    assert sender_signals(mail, directory=directory).aligned is True  # topmost: what a bare listener sees
    trusting = sender_signals(mail, directory=directory, authserv_ids=("mx.heyplumm.com",))
    assert (trusting.aligned, trusting.dmarc) == (False, "fail")
    alone = parse(raw_mail("a@clinic.example", forged))
    assert sender_signals(alone, directory=directory, authserv_ids=("mx.heyplumm.com",)).dmarc is None


def test_our_own_dkim_verification_aligns_only_for_the_from_domain(directory) -> None:
    signed = b"DKIM-Signature: v=1; a=rsa-sha256; d=clinic.example; s=s1; b=abc\r\n" + raw_mail("a@clinic.example")
    other = b"DKIM-Signature: v=1; a=rsa-sha256; d=spam.example; s=s1; b=abc\r\n" + raw_mail("a@clinic.example")
    assert sender_signals(parse(signed), directory=directory, dkim_verifier=lambda b: True, raw=signed).aligned
    assert not sender_signals(parse(other), directory=directory, dkim_verifier=lambda b: True, raw=other).aligned
