"""Structured identifiers (rules/structured.yaml): phones of every region, postcodes, national, health,
insurance and bank numbers, and the fail-closed catch-all for digit runs; per-recognizer tables of
positive and negative examples.

Every value is invented, in reserved or fictional ranges where a country has one (Ofcom drama
numbers, 555-01xx, Australian 0491 570 xxx and 02 5550 xxxx, 999-prefixed NHS numbers, QQ NI
numbers); numbers that fail their checksum stand in an ID slot on purpose. Asserts compare counts and
booleans, never print a value.
"""

from __future__ import annotations

import pytest

from pipeline.models import KnownIdentifiers, RedactionUnverified
from pipeline.patterns import PLACEHOLDER_RE
from pipeline.rules import DEFAULT_RULES_DIR, RulesError
from pipeline.stages.redaction import load_redaction_rules
from pipeline.stages.redaction.recognizers.formats import nhs_checksum_ok

NO_KNOWN = KnownIdentifiers()


def found(redactor, text: str, entity: str) -> list[str]:
    results = redactor.analyzer.analyze(text, "en", score_threshold=redactor.rules.score_threshold)
    return sorted(text[r.start : r.end] for r in results if r.entity_type == entity)


def redacted(redactor, text: str) -> str:
    return redactor.redact(text, NO_KNOWN).text


def placeholders(redactor, text: str) -> list[str]:
    """Types of the placeholders in the redacted text, in order."""
    return [m.group("type") for m in PLACEHOLDER_RE.finditer(redacted(redactor, text)) if m.group("type")]


# -- phones -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        # UK (Ofcom drama ranges), national and international, extensions
        ("Mobile: 07700 900123.", "07700 900123"),
        ("Call 07700900123 anytime.", "07700900123"),
        ("Call +44 7700 900123 anytime.", "+44 7700 900123"),
        ("Tel 020 7946 0000.", "020 7946 0000"),
        ("Tel (020) 7946 0000.", "(020) 7946 0000"),
        ("Office 01632 960001 weekdays.", "01632 960001"),
        ("Office 0161-496-0000 weekdays.", "0161-496-0000"),
        ("Ring +44 (0)20 7946 0000.", "+44 (0)20 7946 0000"),
        ("Tel 0161 496 0312 ext. 204 today.", "0161 496 0312 ext. 204"),
        ("Ring 0044 20 7946 0000 from abroad.", "0044 20 7946 0000"),
        # North America (555-01xx is fictional)
        ("Call (503) 555-0142 after five.", "(503) 555-0142"),
        ("Cell 416-555-0199 x22.", "416-555-0199 x22"),
        ("Call +1 604 555 0173.", "+1 604 555 0173"),
        # Ireland, Australia, New Zealand, South Africa, India
        ("Mobile 087 123 4567 please.", "087 123 4567"),
        ("Phone +353 1 555 0123.", "+353 1 555 0123"),
        ("Mob 0491 570 156.", "0491 570 156"),
        ("Rooms (02) 5550 1234.", "(02) 5550 1234"),
        ("Call +61 491 570 156.", "+61 491 570 156"),
        ("Ph 021 555 0123", "021 555 0123"),
        ("Cell +27 82 555 1234.", "+27 82 555 1234"),
        ("Mobile +91 98765 43210.", "+91 98765 43210"),
        ("Mobile 098765 43210.", "098765 43210"),
        # Europe
        ("Tel +46 8 555 123 45.", "+46 8 555 123 45"),
        ("Tlf +45 32 55 12 34.", "+45 32 55 12 34"),
        ("Tel. +48 22 555 12 34.", "+48 22 555 12 34"),
        ("Tel 044 555 18 00 in the mornings.", "044 555 18 00"),
        ("Tel +31 20 555 1234.", "+31 20 555 1234"),
        ("Tel +43 1 555 6789.", "+43 1 555 6789"),
    ],
)
def test_phone_positive(redactor, text, value):
    assert found(redactor, text, "PHONE") == [value]


@pytest.mark.parametrize(
    "text",
    [
        "Her PHQ-9 fell from 15 to 9.",
        "Six sessions on 12/03/2025.",
        "We met between 2019-2021 and again in 2024/25.",
        "Sessions from 09:00-10:00 on Tuesdays.",
        "The budget is £1,200,000 a year.",
        "Seen on 12.03.2025 and 2025-03-12.",
        "Reference U-5582131 on the form.",
        "Case EAP-2026-44817 was opened.",
        "She walked 1500 steps.",
    ],
)
def test_phone_negative(redactor, text):
    assert found(redactor, text, "PHONE") == []


def test_phone_region_hints_come_from_the_letter(redactor):
    phone = next(r for r in redactor.analyzer.registry.recognizers if r.name == "PhoneRecognizer")
    assert phone.hints("Write to me at clinic@practice.example.ie") == ["IE", "GB"]
    assert phone.hints("Call +61 491 570 156.") == ["AU", "GB"]
    assert phone.hints("Toronto, ON M5V 2T6") == ["CA", "GB"]
    assert phone.hints("No hint here.") == ["GB"]


def test_phone_number_possible_only_elsewhere_scores_lower(redactor):
    phone = next(r for r in redactor.analyzer.registry.recognizers if r.name == "PhoneRecognizer")
    text = "Ring (503) 555-0142 please."
    [hinted] = phone.analyze(text + " Austin, TX 78701", [], None)
    [elsewhere] = phone.analyze(text, [], None)
    assert hinted.score > elsewhere.score >= redactor.rules.score_threshold


# -- postcodes --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("She lives in LS6 2AB now.", "LS6 2AB"),
        ("Post code SW1A 1AA.", "SW1A 1AA"),
        ("at W1G 9PF", "W1G 9PF"),
        ("Dublin 2, D02 X285.", "D02 X285"),
        ("Galway H91 T6YF", "H91 T6YF"),
        ("Portland, OR 97205", "97205"),
        ("Austin TX 78701-1234", "78701-1234"),
        ("Toronto, ON M5V 2T6", "M5V 2T6"),
        ("Vancouver BC V6B1A1", "V6B1A1"),
        ("Parramatta NSW 2150", "2150"),
        ("Fitzroy VIC 3065", "3065"),
        ("Cape Town 8001", "8001"),
        ("Wellington 6011", "6011"),
        ("Bengaluru 560034", "560034"),
        ("Bengaluru - 560 034", "560 034"),
        ("PIN 110 001", "110 001"),
        ("113 51 Stockholm", "113 51"),
        ("2200 København N", "2200"),
        ("00-238 Warszawa", "00-238"),
        ("1015 CJ Amsterdam", "1015 CJ"),
        ("8001 Zürich", "8001"),
        ("1010 Wien", "1010"),
        ("1000-001 Lisboa", "1000-001"),
    ],
)
def test_postcode_positive(redactor, text, value):
    assert value in found(redactor, text, "POSTCODE")


@pytest.mark.parametrize(
    "text",
    [
        "Her GAD-7 was 12.",
        "We met in room 12 at 3pm.",
        "PHQ-9 score 15",
        "Since March 2019 things improved.",
        "In 2020 Covid changed everything.",
        "The F41.1 code was recorded.",
        "Client 123456 was seen twice.",
        "Session 55123 was booked.",
    ],
)
def test_postcode_negative(redactor, text):
    assert found(redactor, text, "POSTCODE") == []


# -- national, health, insurance and bank numbers -----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("NHS number 943 476 5919.", "943 476 5919"),
        ("NHS no: 9434765919", "9434765919"),
        ("NHS 943-476-5919 on file", "943-476-5919"),
    ],
)
def test_nhs_valid_checksum_is_found(redactor, text, value):
    assert nhs_checksum_ok(value)
    assert found(redactor, text, "NHS") == [value]


@pytest.mark.parametrize(
    ("text", "value"),
    [("NHS number 943 476 5918.", "943 476 5918"), ("NHS no: 1234567890", "1234567890")],
)
def test_nhs_bad_checksum_in_an_nhs_slot_is_still_one(redactor, text, value):
    assert not nhs_checksum_ok(value)
    assert found(redactor, text, "NHS") == [value]


def test_nhs_shape_without_context_or_checksum_is_not_called_nhs(redactor):
    assert found(redactor, "Please ring 999 123 4561.", "NHS") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("NI number QQ 12 34 56 C.", "QQ 12 34 56 C"),
        ("NI: QQ123456C", "QQ123456C"),
        ("National Insurance AB 12 34 56 D", "AB 12 34 56 D"),
        ("ni no qq 65 43 21 a", "qq 65 43 21 a"),
    ],
)
def test_ni_positive(redactor, text, value):
    assert found(redactor, text, "NI") == [value]


@pytest.mark.parametrize("text", ["QQ 12 34 56 E", "GAD 7 scored 12"])
def test_ni_negative(redactor, text):
    assert found(redactor, text, "NI") == []


@pytest.mark.parametrize(
    "text",
    [
        # checksum-failing numbers in their ID slots are removed all the same
        "SSN 123-45-6789 on the claim form.",
        "Her social security number is 078-05-1120.",
        "ITIN 912-70-1234.",
        "SIN 046 454 286.",
        "Social insurance number 123 456 789.",
        "OHIP 1234-567-890-AB.",
        "PHN 9123 456 789.",
        "Medicare 2123 45678 1.",
        "TFN 123 456 789.",
        "PPS number 1234567TA.",
        "PPSN 7654321W.",
        "NHI ZZZ0016.",
        "NHI ABC12DE.",
        "ID number 8001015009087.",
        "SA ID 800101 5009 087.",
        "Aadhaar 1234 5678 9012.",
        "PAN ABCDE1234F.",
        "Personnummer 19800101-1234.",
        "PESEL 44051401359.",
        "BSN 1234.56.782.",
        "AHV 756.1234.5678.97.",
        "CHI 0101801234.",
        "H&C number 320 106 4024.",
        "Member ID: GRP-55012.",
        "Group number HPA-7731.",
        "Medical aid no. 123456789.",
        "Passport 123456789.",
        "Driver licence D1234567.",
    ],
)
def test_id_numbers_are_removed_even_with_a_bad_checksum(redactor, text):
    out = redacted(redactor, text)
    assert sum(c.isdigit() for c in PLACEHOLDER_RE.sub("", out)) == 0


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("IBAN GB82 WEST 1234 5698 7654 32.", "BANK_ACCOUNT"),
        ("Card 4111 1111 1111 1111 on file.", "CARD"),
        ("Logged from 192.168.10.24 yesterday.", "IP"),
        ("Logged from 2001:db8::1 yesterday.", "IP"),
        ("SSN 123-45-6789 on the claim form.", "ID"),
        ("AHV 756.1234.5678.97.", "ID"),
    ],
)
def test_id_numbers_get_their_kind(redactor, text, entity):
    assert entity in placeholders(redactor, text)


# -- the catch-all ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    ["U-558213", "GRP-55012", "HPA-7731", "7KX2P", "L7704", "ZKM3911", "P0041187", "1234567H", "20-45-77", "river1987"],
)
def test_catch_all_removes_codes(redactor, code):
    out = redacted(redactor, f"She quoted {code} on the phone.")
    assert code not in out and "[ID_1]" in out


@pytest.mark.parametrize(
    "kept",
    [
        "PHQ-9 of 17",
        "GAD-7 15/21",
        "PCL-5",
        "CORE-10",
        "K10",
        "DASS-21",
        "HAM-D 17",
        "SCL-90",
        "BDI-II",
        "DSM-5-TR",
        "F41.1",
        "F43.10",
        "F33.1",
        "6B40",
        "300.02",
        "17/27",
        "BMI 17.4",
        "2024",
        "2019-2021",
        "2019 – 2021",
        "2024/25",
        "mid-2023",
        "1990s",
        "12/03/2025",
        "12.03.2025",
        "2025-03-12",
        "March 12 2025",
        "9.30am-11am",
        "14:30",
        "£1,200",
        "$1500",
        "R1500",
        "1 200 kr",
        "12.5%",
        "1,500",
        "1500 steps",
        "about 2000",
        "2000mg",
        "12-week",
        "24hrs",
        "3rd",
        "COVID-19",
        "120/80",
        "€12.500,00",
        "0900-1700",
        "1500 per month",
        "CPT 90837",
        "item 80110",
    ],
)
def test_catch_all_keeps_clinical_measures_dates_and_counts(redactor, kept):
    text = f"We noted {kept} at the review."
    assert redacted(redactor, text) == text


def test_catch_all_joins_spaced_digit_groups(redactor):
    catch_all = next(r for r in redactor.analyzer.registry.recognizers if r.name == "DigitRunRecognizer")
    text = "Quote 123 456 789 012 when you call, or 2123 45678 1."
    assert [(r.end - r.start, r.entity_type) for r in catch_all.analyze(text, [], None)] == [(15, "ID"), (12, "ID")]
    assert len(placeholders(redactor, text)) == 2


def test_a_specific_recognizer_names_what_the_catch_all_also_sees(redactor):
    assert placeholders(redactor, "Mobile: 07700 900123.") == ["PHONE"]
    assert placeholders(redactor, "HCPC registration PYL01234.") == ["REGISTRATION"]


def test_formats_in_a_capitals_line_are_matched_as_written(redactor):
    out = redacted(redactor, "ADDRESS: GALWAY H91 T6YF, IBAN GB82 WEST 1234 5698 7654 32")
    assert "T6YF" not in out and "WEST" not in out


# -- verification -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "survivor", ["Call (503) 555-0142.", "Member GRP-55012.", "Toronto, ON M5V 2T6", "From 192.168.10.24."]
)
def test_verify_fails_on_a_surviving_structured_identifier(redactor, survivor):
    from pipeline.models import Redaction

    with pytest.raises(RedactionUnverified):
        redactor.verify(Redaction(text=f"Letter text. {survivor}"), NO_KNOWN)


def test_verify_passes_clinical_numbers(redactor):
    from pipeline.models import Redaction

    redactor.verify(Redaction(text="PHQ-9 of 17 on 12/03/2025; CORE-10 at 14. Six sessions from 2024."), NO_KNOWN)


# -- rules ------------------------------------------------------------------------------------------
def test_a_bad_regex_in_structured_rules_names_the_file_and_key(tmp_path):
    for name in ("redaction.yaml", "allow.yaml"):
        (tmp_path / name).write_text((DEFAULT_RULES_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = (DEFAULT_RULES_DIR / "structured.yaml").read_text(encoding="utf-8")
    (tmp_path / "structured.yaml").write_text(text.replace("'(?:19|20)\\d{2}s?'", "'(?:19|20'"), encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_redaction_rules(tmp_path)
    assert "structured.yaml" in str(err.value) and "catch_all.exempt" in str(err.value)


def test_an_unknown_presidio_recognizer_is_an_error(tmp_path):
    for name in ("redaction.yaml", "allow.yaml"):
        (tmp_path / name).write_text((DEFAULT_RULES_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = (DEFAULT_RULES_DIR / "structured.yaml").read_text(encoding="utf-8")
    (tmp_path / "structured.yaml").write_text(
        text.replace("presidio: UsSsnRecognizer", "presidio: EmailRecognizerr"), encoding="utf-8"
    )
    with pytest.raises(RulesError, match="EmailRecognizerr"):
        load_redaction_rules(tmp_path)


def test_a_skipped_presidio_pattern_must_exist(tmp_path):
    for name in ("redaction.yaml", "allow.yaml"):
        (tmp_path / name).write_text((DEFAULT_RULES_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = (DEFAULT_RULES_DIR / "structured.yaml").read_text(encoding="utf-8")
    (tmp_path / "structured.yaml").write_text(text.replace("skip_patterns: [PAN (Low)]", "skip_patterns: [PAN (Lo)]"))
    with pytest.raises(RulesError, match="in_pan"):
        load_redaction_rules(tmp_path)


def test_presidio_recognizers_used_make_no_network_call(redactor, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a recognizer tried the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    text = (
        "Mail a.b@clinic.example.ie, visit www.clinic.example, call +353 1 555 0123, IBAN GB82 WEST 1234 5698 7654 32."
    )
    assert "clinic" not in redacted(redactor, text)
