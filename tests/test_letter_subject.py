"""The subject line a CSM reads with each letter: redacted with the letter's known identifiers and
placeholders, verified like the letter, stored on the letter's row (or marked withheld when it cannot
be verified, never kept as written), and its schema migration up and down.

Invented people only; assertions name placeholders and flags, never print a value.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from pipeline import store
from pipeline.cases.vault import case_vault
from pipeline.runtime import Runtime
from pipeline.worker import Worker
from tests.test_worker import CLIENT, drain, enqueue, letter_bytes, mail_bytes

NAME_ONLY_IN_SUBJECT = ("Perpetua", "Vanderkloot")


@pytest.fixture
def rt(settings):
    return Runtime(settings)


def body_without_the_name() -> str:
    return (
        "Dear Plumm team,\n\nMy client has attended weekly CBT sessions and their GAD-7 score remains 15, "
        "because panic attacks continue to affect their work.\n\n"
        "I recommend six additional sessions, weekly, to consolidate their progress.\n\n"
        "Kind regards,\nDr Ada Lovegood\nCounselling Psychologist\n"
    )


def recorded(rt: Runtime) -> tuple[store.Case, store.CaseLetter, list[str]]:
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        letter = db.execute(select(store.CaseLetter)).scalar_one()
        kinds = db.execute(select(store.CaseEvent.kind).where(store.CaseEvent.case_id == case.id)).scalars().all()
    return case, letter, list(kinds)


def test_a_name_given_only_in_the_subject_is_stored_as_a_placeholder_the_vault_holds(rt):
    subject = f"More sessions for {' '.join(NAME_ONLY_IN_SUBJECT)}"
    enqueue(rt, mail_bytes(subject, body_without_the_name(), "subject-1"))
    drain(Worker(rt))
    case, letter, kinds = recorded(rt)
    assert case.status == "ready_for_assessment"
    assert letter.subject_withheld is False and letter.subject_redacted is not None
    for part in NAME_ONLY_IN_SUBJECT:
        assert part.lower() not in letter.subject_redacted.lower()
    assert letter.subject_redacted.startswith("More sessions for [")
    # The placeholder can be revealed like the letter's: the case's vault holds what it stands for.
    placeholder = letter.subject_redacted.removeprefix("More sessions for ")
    assert case_vault(rt.cipher, case).get(placeholder) == " ".join(NAME_ONLY_IN_SUBJECT)
    assert "subject-withheld" not in kinds


def test_a_subject_naming_the_letters_client_gets_the_letters_placeholder(rt):
    enqueue(rt, mail_bytes(f"Re: {CLIENT} - sessions", letter_bytes_body(), "subject-2"))
    drain(Worker(rt))
    case, letter, _kinds = recorded(rt)
    assert letter.subject_redacted is not None and letter.subject_redacted.startswith("Re: [")
    for part in CLIENT.split():
        assert part not in letter.subject_redacted
    placeholder = letter.subject_redacted.removeprefix("Re: ").split("]")[0] + "]"
    assert placeholder in case.letter_redacted  # one person, one placeholder in the case


def letter_bytes_body() -> str:
    from email import message_from_bytes

    return message_from_bytes(letter_bytes(0)).get_payload()


@pytest.mark.parametrize("failure", ["unverified", "bug"])
def test_a_subject_that_cannot_be_verified_is_withheld_and_the_letter_goes_on(rt, monkeypatch, failure):
    """Fail closed: nothing of the subject is stored (never the line as written), the letter row says
    it was withheld, the timeline too, and the letter's own outcome stands."""
    from pipeline.models import RedactionUnverified

    real_clean = rt.redactor.clean

    def subject_unverifiable(redaction, known):
        if redaction.text.startswith("More sessions for"):  # the subject's; the letter starts "Dear"
            if failure == "unverified":
                raise RedactionUnverified(entity_types=("PERSON",))
            raise RuntimeError("a bug in verification")
        return real_clean(redaction, known)

    monkeypatch.setattr(rt.redactor, "clean", subject_unverifiable)  # the redactor is shared: undone after
    enqueue(rt, mail_bytes(f"More sessions for {' '.join(NAME_ONLY_IN_SUBJECT)}", body_without_the_name(), "s-3"))
    drain(Worker(rt))
    case, letter, kinds = recorded(rt)
    assert (letter.subject_redacted, letter.subject_withheld) == (None, True)
    assert "subject-withheld" in kinds
    assert case.status == "ready_for_assessment" and "six additional sessions" in letter.redacted_text


@pytest.mark.parametrize(
    ("line", "unexplained"),
    [
        ("Request for additional sessions", 0),
        ("Fwd: RE: More sessions for [CLIENT_1], fortnightly", 0),
        ("Re: [PLM-2026-000123] GAD-7 and PHQ-9 scores", 0),
        ("Progress report - Q V-H - request for further sessions", 3),  # initials, hyphenated too
        ("Additional sessions - Q T V", 3),
        ("Additional sessions - Ottoline [PERSON_2]", 1),  # a first name beside the surname's placeholder
        ("T. [PERSON_1]", 1),
        ("Additional sessions request - A. [PERSON_2]", 1),  # "A" the initial, not the article
        ("Prof. A [PERSON_2]", 1),
        ("[PERSON_1] Brown - more sessions", 1),  # an English word beside a name may be the surname
        ("Will [PERSON_1] - more sessions", 1),
        ("Sessions for Zebedee Quarrington-Vosk", 3),  # no word of English
        ("I would like A few more sessions", 0),
    ],
)
def test_a_word_no_vocabulary_explains_is_counted_in_a_subject_line(rt, line, unexplained):
    assert rt.redactor.unexplained_words(line) == unexplained


def test_a_subject_with_a_clients_initials_is_withheld(rt):
    """The model cannot tell initials in a short subject from a heading: nothing of it is kept."""
    enqueue(rt, mail_bytes("Additional sessions - M F", letter_bytes_body(), "subject-initials"))
    drain(Worker(rt))
    _case, letter, kinds = recorded(rt)
    assert (letter.subject_redacted, letter.subject_withheld) == (None, True)
    assert "subject-withheld" in kinds


def test_a_message_without_a_subject_stores_none_and_withholds_nothing(rt):
    enqueue(rt, mail_bytes("", body_without_the_name(), "subject-4"))
    drain(Worker(rt))
    _case, letter, _kinds = recorded(rt)
    assert (letter.subject_redacted, letter.subject_withheld) == (None, False)


def test_an_ask_made_only_in_the_subject_is_still_read_and_the_subject_shown(rt):
    body = (
        "Dear Plumm team,\n\nMy client has panic attacks and their GAD-7 score remains 15, which "
        "continues to affect their work. Please see the subject line.\n\nKind regards,\nDr Ada Lovegood\n"
    )
    enqueue(rt, mail_bytes("Please approve 5 more sessions, fortnightly", body, "subject-5"))
    drain(Worker(rt))
    case, letter, _kinds = recorded(rt)
    assert letter.subject_redacted == "Please approve 5 more sessions, fortnightly"
    assert case.sections["recommendation"]["present"] and case.sessions_requested == 5


def test_an_ask_in_a_subject_withheld_for_an_initial_is_still_read_and_nothing_of_it_stored(rt):
    """Withheld from display (an initial no vocabulary explains), the verified redaction of the subject
    is still read for an ask made only there; nothing of the line is kept."""
    body = (
        "Dear Plumm team,\n\nMy client has panic attacks and their GAD-7 score remains 15, which "
        "continues to affect their work. Please see the subject line.\n\nKind regards,\nDr Ada Lovegood\n"
    )
    enqueue(rt, mail_bytes("Please approve 4 more sessions - M F", body, "subject-6"))
    drain(Worker(rt))
    case, letter, kinds = recorded(rt)
    assert (letter.subject_redacted, letter.subject_withheld) == (None, True)
    assert "subject-withheld" in kinds
    assert case.sections["recommendation"]["present"] and case.sessions_requested == 4


def test_subjects_parsed_with_their_batch_come_out_as_one_by_one(rt):
    """The model reads the subjects with the letters (one ``nlp.pipe``); each comes out as if read alone."""
    from pipeline.worker import process, process_many

    subject = f"More sessions for {' '.join(NAME_ONLY_IN_SUBJECT)}"
    raws = [mail_bytes(subject, body_without_the_name(), "batch-1"), letter_bytes(7)]
    together = process_many(rt, raws)
    alone = [process(rt, raw) for raw in raws]
    assert [r.subject for r in together] == [r.subject for r in alone]  # type: ignore[union-attr]
    assert all(r.subject is not None and r.subject.text for r in alone)


# -- the migration ------------------------------------------------------------------------------
def _alembic(url: str):
    from pathlib import Path

    from alembic.config import Config

    import pipeline

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(pipeline.__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = store.make_engine(url)
    return cfg


def _letter_columns(url: str) -> set[str]:
    return {c["name"] for c in inspect(store.make_engine(url)).get_columns("case_letter")}


def test_the_subject_migration_goes_up_and_down_on_sqlite_keeping_the_letters(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'migrate.db'}"
    cfg = _alembic(url)
    command.upgrade(cfg, "0004")
    assert not {"subject_redacted", "subject_withheld"} & _letter_columns(url)
    rows = [
        ("inbound_message", {"id": 1, "received_at": "2026-01-01", "raw_encrypted": b"x", "size": 1,
                             "rcpt_count": 1, "peer": "", "status": "done", "attempts": 1}),
        ("case", {"id": 1, "reference": "PLM-2026-000001", "status": "ready_for_assessment",
                  "created_at": "2026-01-01", "updated_at": "2026-01-01", "status_since": "2026-01-01",
                  "letter_redacted": "a letter", "sources": "[]", "sections": "{}", "entity_counts": "{}",
                  "sender_signals": "{}", "notes": "[]"}),
        ("case_letter", {"id": 1, "case_id": 1, "message_id": 1, "seq": 1, "kind": "letter",
                         "received_at": "2026-01-01", "redacted_text": "a letter", "sources": "[]",
                         "entity_counts": "{}"}),
    ]  # fmt: skip
    with store.make_engine(url).begin() as conn:
        for table, values in rows:  # a letter recorded before the migration
            columns = ", ".join(values)
            conn.execute(
                text(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join(":" + c for c in values)})'), values
            )

    command.upgrade(cfg, "head")
    assert {"subject_redacted", "subject_withheld"} <= _letter_columns(url)
    with store.session(store.make_engine(url)) as db:
        old = db.get(store.CaseLetter, 1)
        assert old is not None and (old.redacted_text, old.subject_redacted, old.subject_withheld) == (
            "a letter",
            None,
            False,
        )
        old.subject_redacted, old.subject_withheld = "More sessions for [CLIENT]", False
        db.add(old)
        db.commit()

    command.downgrade(cfg, "0004")
    assert not {"subject_redacted", "subject_withheld"} & _letter_columns(url)
    with store.make_engine(url).connect() as conn:
        assert conn.execute(text("SELECT redacted_text FROM case_letter WHERE id = 1")).scalar_one() == "a letter"
    command.upgrade(cfg, "head")
    assert {"subject_redacted", "subject_withheld"} <= _letter_columns(url)
