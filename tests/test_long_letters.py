"""Long letters: cut into bounded pieces for the NLP, one vault across the pieces, verified whole; over
what the product reads, the sender is asked for a shorter letter. Small piece limits keep these fast;
the real limit (and a 1.5 MB letter end to end) is measured by ``make bench``."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from pipeline.models import KnownIdentifiers, LetterTooLong
from pipeline.patterns import PLACEHOLDER_RE
from pipeline.stages import long_letters
from pipeline.stages.long_letters import assess_in_pieces, pieces, redact_in_pieces

CLIENT = "Marigold Featherstonehaugh"
OTHER = "Tobias Wrenfield"


def session_notes(n: int) -> str:
    """Paragraphs of session notes; the client named in each, another person only in the last."""
    paragraphs = [
        f"Session {i + 1}: {CLIENT} reported that the panic attacks continue at work. We practised grounding "
        f"and reviewed the thought record; her GAD-7 score was {10 + i % 8}."
        for i in range(n)
    ]
    paragraphs[-1] += f" She asked that her partner {OTHER} be told about the plan."
    return "\n\n".join(paragraphs)


@given(st.text(alphabet=st.sampled_from("ab .\n\t!?"), max_size=600), st.integers(min_value=5, max_value=80))
@examples(max_examples=200, deadline=None)
def test_pieces_join_back_to_the_text_and_respect_the_limit(text, limit):
    parts = pieces(text, limit=limit)
    assert "".join(parts) == text
    assert all(len(p) <= limit for p in parts) and (all(parts) or parts == [""])


def test_pieces_end_at_paragraphs_when_they_fit():
    text = session_notes(12)
    parts = pieces(text, limit=800)
    assert len(parts) > 1 and "".join(parts) == text
    assert all(p.endswith("\n\n") for p in parts[:-1])


def test_a_long_letter_is_redacted_in_pieces_with_one_vault(redactor):
    text = "Dear Plumm team,\n\n" + session_notes(40) + "\n\nI recommend six additional sessions.\n"
    known = KnownIdentifiers(names=(CLIENT,))
    calls = []
    redaction = redact_in_pieces(redactor, text, known, limit=1500, progress=lambda: calls.append(1))
    assert len(pieces(text, limit=1500)) >= 5 and len(calls) >= 5
    assert CLIENT.split()[0] not in redaction.text and OTHER.split()[0] not in redaction.text
    # the client has one placeholder in every piece: the numbering continued, never restarted
    client_placeholders = {k for k, v in redaction.vault.items() if v == CLIENT}
    assert len(client_placeholders) == 1
    placeholder = client_placeholders.pop()
    assert redaction.text.count(placeholder) == 40
    numbered = {m.group(0) for m in PLACEHOLDER_RE.finditer(redaction.text) if re.search(r"_\d+\]$", m.group(0))}
    assert numbered and numbered <= set(redaction.vault)  # every numbered placeholder is in the one vault
    assert sum(redaction.counts.values()) >= 40


class FindsNamesAfterPartner:
    """A stand-in with the Redactor's public API whose "model" finds a name only after "partner",
    while the vault is matched everywhere, as the real one matches vault originals in later text."""

    def redact(self, text, known, *, vault=None):
        from types import MappingProxyType

        from pipeline.models import Redaction

        vault = dict(vault or {})
        for found in re.findall(r"partner (\w+)", text):
            if found not in vault.values():
                vault[f"[PERSON_{len(vault) + 1}]"] = found
        for placeholder, original in vault.items():
            text = text.replace(original, placeholder)
        return Redaction(text=text, counts=MappingProxyType({"PERSON": 1}), vault=MappingProxyType(vault))

    def verify(self, redaction, known):
        from pipeline.models import RedactionUnverified

        if any(original in redaction.text for original in redaction.vault.values()):
            raise RedactionUnverified(entity_types=("PERSON",))

    def clean(self, redaction, known):
        """Verifies only: the earlier pieces must be cleared by redacting them again, not here."""
        self.verify(redaction, known)
        return redaction


def test_a_name_found_late_is_removed_from_the_earlier_pieces_too():
    """A name found only in a later piece is in the vault after it: an earlier piece that shows it is
    redacted again with the final vault, and the whole verifies."""
    text = "Tobias phoned twice.\n\n" + "We met weekly.\n\n" * 20 + "Her partner Tobias came once.\n"
    assert len(pieces(text, limit=100)) >= 4
    redaction = redact_in_pieces(FindsNamesAfterPartner(), text, KnownIdentifiers(), limit=100)
    assert "Tobias" not in redaction.text
    assert redaction.text.startswith("[PERSON_1] phoned twice.") and dict(redaction.vault) == {"[PERSON_1]": "Tobias"}


def test_a_piece_still_unverified_after_the_second_pass_quarantines_the_letter():
    from pipeline.models import RedactionUnverified

    class NeverClean(FindsNamesAfterPartner):
        def verify(self, redaction, known):
            raise RedactionUnverified(entity_types=("PERSON",))

    with pytest.raises(RedactionUnverified):
        redact_in_pieces(NeverClean(), "We met weekly.\n\n" * 20, KnownIdentifiers(), limit=100)


def test_sections_are_assessed_in_pieces_and_the_first_hit_wins(redactor):
    from pipeline.rules import DEFAULT_RULES_DIR
    from pipeline.stages.sections import assess_sections, load_section_rules

    rules = load_section_rules(DEFAULT_RULES_DIR)
    need = "The client continues to experience panic attacks that stop [them] working; GAD-7 is 15.\n\n"
    recommendation = "I recommend six additional sessions, weekly.\n"
    filler = "We reviewed the homework and the plan for the weeks ahead.\n\n" * 60
    text = need + filler + recommendation
    whole = assess_sections(text, rules=rules)
    in_pieces = assess_in_pieces(text, rules=rules, limit=1000)
    assert whole.as_flags() == in_pieces.as_flags() == {"needs": True, "recommendation": True}
    assert in_pieces.sessions_requested == whole.sessions_requested == 6
    missing = assess_in_pieces(need + filler, rules=rules, limit=1000)
    assert missing.as_flags() == {"needs": True, "recommendation": False}


def test_a_piece_the_sections_stage_refuses_counts_for_nothing_unless_all_are(monkeypatch):
    from pipeline.models import LetterMissing, SectionReport, SectionVerdict

    def assess(text, *, rules):
        if "ask" not in text:
            raise LetterMissing("no-letter-found", stage="sections")
        return SectionReport(verdicts=(SectionVerdict(id="recommendation", title="R", present=True),))

    monkeypatch.setattr(long_letters, "assess_sections", assess)
    report = assess_in_pieces("notes.\n\n" * 30 + "the ask.\n", rules=None, limit=50)
    assert report.as_flags() == {"recommendation": True}
    with pytest.raises(LetterMissing):
        assess_in_pieces("notes.\n\n" * 30, rules=None, limit=50)


def test_past_the_deadline_the_letter_is_too_long(redactor):
    text = session_notes(20)
    with pytest.raises(LetterTooLong) as refused:
        redact_in_pieces(redactor, text, KnownIdentifiers(), limit=500, deadline=time.monotonic() - 1)
    assert refused.value.reason == "letter-too-long" and refused.value.status == "awaiting_information"


def test_a_text_over_what_the_product_reads_is_refused_before_any_nlp():
    long_letters.check_length("x" * 100, max_chars=100)
    with pytest.raises(LetterTooLong):
        long_letters.check_length("x" * 101, max_chars=100)


# -- through the worker ----------------------------------------------------------------------------
def long_letter_bytes(paragraphs: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Dr Ada Lovegood <ada.lovegood@clinic.example>"
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = "Request for additional sessions, with my notes"
    msg["Message-ID"] = f"<long-{paragraphs}@clinic.example>"
    msg.set_content(
        f"Dear Plumm team,\n\nI am writing about my client {CLIENT}.\n\n{session_notes(paragraphs)}\n\n"
        "I recommend six additional sessions, weekly, to consolidate the progress.\n\nKind regards,\nDr Ada Lovegood\n"
    )
    return msg.as_bytes()


@pytest.mark.slow
def test_a_letter_longer_than_one_piece_becomes_a_ready_case(settings, monkeypatch):
    from pipeline.runtime import Runtime
    from pipeline.worker import process

    monkeypatch.setattr("pipeline.worker.PIECE_CHARS", 3000)
    monkeypatch.setattr(long_letters, "PIECE_CHARS", 3000)
    processed = process(Runtime(settings), long_letter_bytes(60))
    assert processed.outcome is None
    assert processed.redaction is not None and processed.sections is not None
    assert len(processed.letter.text) > 3 * 3000 if processed.letter else False
    assert "Marigold" not in processed.redaction.text and "Tobias" not in processed.redaction.text
    assert processed.sections.as_flags() == {"needs": True, "recommendation": True}


def test_a_letter_over_the_readable_length_gets_awaiting_information_and_says_why(settings):
    from pipeline.runtime import Runtime
    from pipeline.worker import Worker
    from tests.test_worker import enqueue

    rt = Runtime(settings.model_copy(update={"max_letter_chars": 10_000}))
    enqueue(rt, long_letter_bytes(100))
    assert Worker(rt).run_once()
    from sqlalchemy import select

    from pipeline import store
    from pipeline.compliance.keys import load_cipher

    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        outbound = db.execute(select(store.OutboundMessage)).scalar_one()
    assert case.status == "awaiting_information" and case.reason == "letter-too-long"
    acknowledgement = load_cipher(rt.settings).decrypt(outbound.payload_encrypted).decode()
    assert "longer than we can read automatically" in re.sub(r"\s+", " ", acknowledgement)


def test_a_1_5_mb_letter_becomes_a_case_asking_for_a_shorter_letter(settings):
    """Over what the product reads (1,000,000 characters by default): a case with a stated outcome
    and guidance, at once, never an internal error."""
    from sqlalchemy import select

    from bench.e2e import heavy_letter
    from pipeline import store
    from pipeline.runtime import Runtime
    from pipeline.worker import Worker
    from tests.test_worker import enqueue

    rt = Runtime(settings.model_copy(update={"max_message_bytes": 26214400}))
    assert rt.settings.max_letter_chars == 1_000_000
    enqueue(rt, heavy_letter(1_500_000))
    started = time.monotonic()
    assert Worker(rt).run_once()
    assert time.monotonic() - started < 120  # parse and extract only; no NLP on it
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        message = db.execute(select(store.InboundMessage)).scalar_one()
    assert (case.status, case.reason, case.reason_stage) == ("awaiting_information", "letter-too-long", "extract")
    assert message.status == "done" and message.error_stage is None
