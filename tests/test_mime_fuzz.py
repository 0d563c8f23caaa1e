"""Property: parse + extract on random and mutated MIME raise only IntakeOutcome subclasses.

Inputs: real fixture ``.eml`` bytes with byte-level mutations (flips, cuts, duplications,
insertion of MIME-significant tokens), generated multipart structures (nesting, odd
boundaries, charsets, transfer encodings, attachments with PDF/zip magic), and raw bytes.
Any other exception escaping is a bug the worker would have to shunt.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.models import IntakeOutcome
from pipeline.stages.extract import extract
from pipeline.stages.parse import parse
from tests.conftest import FIXTURES, fixture_stems

_MAX_SEED_BYTES = 64 * 1024


def _built_seeds() -> list[bytes]:
    return [
        b"From: a@b.example\r\nTo: hello@heyplumm.com\r\nSubject: =?utf-8?q?Letter_f=C3=BCr?=\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\nDear Plumm, please find attached.\r\n> quoted\r\nOn Mon, A wrote:\r\n--XX\r\n"
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''a%C3%A9.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJeLjz9MK\r\n--XX--\r\n",
        b"From: a@b.example\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n"
        b"<div style='display:none'>x</div><blockquote type=cite>old</blockquote><p>\x93hi\x94</p>\r\n",
    ]


def _seeds() -> list[bytes]:
    seeds = _built_seeds()
    for stem in fixture_stems():
        data = (FIXTURES / f"{stem}.eml").read_bytes()
        if len(data) <= _MAX_SEED_BYTES:
            seeds.append(data)
    return seeds


SEEDS = _seeds()
TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    b"--XX--\r\n",
    b"\x00",
    b"\xff\xfe",
    b"=?utf-8?b?",
    b"=?iso-8859-1?q?=E9?=",
    b"boundary=",
    b'boundary=""',
    b"Content-Type: multipart/mixed; boundary=ZZ\r\n\r\n--ZZ\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"charset=utf-16",
    b'charset="x-unknown"',
    b"filename*0*=utf-8''%FF%FE; filename*1=",
    b"%PDF-1.7\n",
    b"PK\x03\x04",
    b"<blockquote class=gmail_quote>",
    b"---------- Forwarded message ---------\r\n",
    b"From: x\r\nSent: y\r\nSubject: z\r\n",
    b"\r\n> ",
]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            data.extend(draw(st.binary(max_size=64)))
            continue
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.integers(0, 4))
        if op == 0:
            data[at] = draw(st.integers(0, 255))
        elif op == 1:
            del data[at : at + draw(st.integers(1, 400))]
        elif op == 2:
            end = min(len(data), at + draw(st.integers(1, 400)))
            data[at:at] = data[at:end] * draw(st.integers(1, 4))
        elif op == 3:
            data[at:at] = draw(st.sampled_from(TOKENS))
        else:
            data[at:at] = draw(st.binary(max_size=32))
    return bytes(data)


_LEAVES = st.sampled_from(
    [
        ("text/plain; charset=utf-8", "8bit", b"Dear Plumm, I request six sessions. Kind regards"),
        ("text/plain; charset=iso-8859-1", "quoted-printable", b"caf=E9 =93x=94"),
        ("text/html; charset=utf-8", "base64", base64.b64encode(b"<p>hi</p><div hidden>n</div>")),
        ("application/pdf", "base64", base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")),
        ("application/octet-stream", "base64", base64.b64encode(b"PK\x03\x04" + b"\0" * 40)),
        ("image/png", "base64", base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)),
        ("message/delivery-status", "7bit", b"Reporting-MTA: dns; x\r\n\r\nAction: failed"),
        ("text/plain; charset=utf-16", "8bit", b"\xff\xfeh\x00i\x00"),
        ("text/plain; charset=bogus", "base64", b"!!!not base64!!!"),
    ]
)


@st.composite
def structure(draw, depth: int = 0) -> bytes:
    if depth >= 4 or draw(st.booleans()):
        ctype, cte, body = draw(_LEAVES)
        disposition = draw(st.sampled_from([b"", b"Content-Disposition: attachment; filename=a.pdf\r\n"]))
        return (
            b"Content-Type: "
            + ctype.encode()
            + b"\r\nContent-Transfer-Encoding: "
            + cte.encode()
            + b"\r\n"
            + disposition
            + b"\r\n"
            + body
            + b"\r\n"
        )
    subtype = draw(st.sampled_from([b"mixed", b"alternative", b"related", b"report", b"rfc822-ish"]))
    boundary = draw(st.sampled_from([b"b%d" % depth, b"=_x", b'"q q"', b"same"]))
    if subtype == b"rfc822-ish":
        return b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n" + draw(structure(depth + 1))
    children = draw(st.lists(structure(depth + 1), min_size=0, max_size=4))
    bare = boundary.strip(b'"')
    out = b"Content-Type: multipart/" + subtype + b"; boundary=" + boundary + b"\r\n\r\npreamble\r\n"
    for child in children:
        out += b"--" + bare + b"\r\n" + child
    if draw(st.booleans()):
        out += b"--" + bare + b"--\r\n"
    return out


@st.composite
def generated(draw) -> bytes:
    subject = draw(st.sampled_from([b"Letter", b"Fwd: Letter", b"RE: x", b"=?utf-8?q?=FF?="]))
    return b"From: a@b.example\r\nTo: hello@heyplumm.com\r\nSubject: " + subject + b"\r\n" + draw(structure())


def _run(raw: bytes) -> None:
    try:
        extract(parse(raw), time_budget_seconds=5.0)
    except IntakeOutcome:
        pass


@pytest.mark.slow
@settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.one_of(mutated(), generated(), st.binary(max_size=2048)))
@example(b">")  # a quote mark with nothing quoted (it once raised IndexError in the history reader)
def test_parse_and_extract_raise_only_outcomes(raw):
    _run(raw)


def test_seeds_include_the_real_fixtures():
    small = [s for s in fixture_stems() if (FIXTURES / f"{s}.eml").stat().st_size <= _MAX_SEED_BYTES]
    assert len(small) >= 50, "the fuzz test should mutate real fixtures, not only the two built seeds"
    assert len(SEEDS) == len(_built_seeds()) + len(small)
