"""A letter found wherever it sits: entirely in the quoted part of a reply, it yields the same verdicts
(and the same sessions, period and therapy) as the same letter in the body.

Every message is a real .eml built here and run through the worker's data flow (parse, extract,
identifiers, redact, verify, sections) with the packaged rules. A quote of our own mail (our address,
or a case reference) is never taken for the letter. Asserts compare verdicts, counts and booleans, so
a failure never prints a value from a letter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from pipeline.config import load_settings
from pipeline.runtime import Runtime
from pipeline.worker import process

THERAPIST = "Dr Ana Moreau <ana.moreau@calmwater-therapy.example>"

LETTERS = {
    "needs-and-recommendation": (
        "Dear Plumm team,\n\n"
        "I am writing about my client Tomasz Wieczorek, whom I have seen for eight sessions of CBT for panic "
        "disorder. He still has two or three panic attacks a week and avoids the train to work; his PHQ-9 is 14 "
        "and his GAD-7 is 15.\n\n"
        "I recommend a further six sessions of CBT, fortnightly, to complete the exposure work.\n\n"
        "Kind regards,\nDr Ana Moreau\nCounselling Psychologist"
    ),
    "needs-only": (
        "Dear Plumm team,\n\n"
        "My client Tomasz Wieczorek continues to experience nightmares most nights and has not been able to "
        "return to night shifts since the assault in March. His PCL-5 is 48.\n\n"
        "Kind regards,\nDr Ana Moreau"
    ),
    "partner-only": (
        "Dear Plumm team,\n\n"
        "Tomasz Wieczorek has completed his treatment with me and no further sessions are needed. His partner, "
        "Marta Nowak, would benefit from six sessions of counselling of her own.\n\n"
        "Kind regards,\nDr Ana Moreau"
    ),
}


def _message(body: str, *, html: str | None = None, subject: str = "Re: Additional sessions") -> bytes:
    msg = EmailMessage()
    msg["From"] = THERAPIST
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 3, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = "<quoted-letter-test@calmwater-therapy.example>"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def _in_body(letter: str) -> bytes:
    return _message(letter, subject="Additional sessions")


def _quoted_plain(letter: str) -> bytes:
    quoted = "\n".join("> " + line if line else ">" for line in letter.split("\n"))
    return _message(
        "Hi, please see my letter below.\n\nAna\n\n"
        "On Mon, 2 Nov 2026 at 16:10, Dr Ana Moreau <ana.moreau@calmwater-therapy.example> wrote:\n" + quoted
    )


def _quoted_outlook(letter: str) -> bytes:
    return _message(
        "Resending my letter below.\n\n"
        "________________________________\n"
        "From: Dr Ana Moreau <ana.moreau@calmwater-therapy.example>\n"
        "Sent: 02 November 2026 16:10\n"
        "To: hello@heyplumm.com\n"
        "Subject: Additional sessions\n\n" + letter
    )


def _quoted_gmail_html(letter: str) -> bytes:
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in letter.split("\n\n"))
    html = (
        "<div>Please see my letter below.</div><br>"
        '<div class="gmail_quote"><div class="gmail_attr">On Mon, 2 Nov 2026 at 16:10, Dr Ana Moreau '
        "&lt;ana.moreau@calmwater-therapy.example&gt; wrote:<br></div>"
        f'<blockquote class="gmail_quote">{paragraphs}</blockquote></div>'
    )
    return _message("Please see my letter below.", html=html)


def _quote(text: str, prefix: str = "> ") -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.split("\n"))


_OUR_QUESTION = (
    "Dear Dr Moreau,\n\nThank you for your email about Tomasz. Could you tell us how many sessions you are "
    "recommending, and how often, so that we can put the request to his employer?\n\nKind regards,\nPlumm Care Team"
)


def _quoted_under_our_question(letter: str, *, style: str = "nested") -> bytes:
    """The therapist's letter quoted two levels deep, under our quoted question, below a covering line."""
    if style == "thunderbird":  # the inner attribution sits inside the quote, unnamed author of ours
        ours = "On 02/11/2026 11:32, Plumm Care Team wrote:\n" + _quote(
            _OUR_QUESTION + "\n\n" + "On 01/11/2026 18:05, Ana Moreau wrote:\n" + _quote(letter, ">"), ">"
        )
    else:  # Gmail: "On ... wrote:" chains, "> >" for the second level
        ours = "On Tue, 3 Nov 2026 at 09:12, Plumm <hello@heyplumm.com> wrote:\n" + _quote(
            _OUR_QUESTION + "\n\n" + "On Mon, 2 Nov 2026 at 16:10, Dr Ana Moreau "
            "<ana.moreau@calmwater-therapy.example> wrote:\n" + _quote(letter)
        )
    return _message("Hi, please see my letter below.\n\nAna\n\n" + ours)


def _quoted_outlook_under_ours(letter: str) -> bytes:
    return _message(
        "Please see my letter below.\n\n"
        "From: Plumm <hello@heyplumm.com>\nSent: 03 November 2026 09:12\nTo: Dr Ana Moreau\n"
        "Subject: RE: Additional sessions\n\n" + _OUR_QUESTION + "\n\n"
        "From: Dr Ana Moreau <ana.moreau@calmwater-therapy.example>\nSent: 02 November 2026 16:10\n"
        "To: hello@heyplumm.com\nSubject: Additional sessions\n\n" + letter
    )


def _quoted_gmail_html_nested(letter: str) -> bytes:
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in letter.split("\n\n"))
    ours = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in _OUR_QUESTION.split("\n\n"))
    html = (
        "<div>Please see my letter below.</div><br>"
        '<div class="gmail_quote"><div class="gmail_attr">On Tue, 3 Nov 2026 at 09:12, Plumm '
        "&lt;hello@heyplumm.com&gt; wrote:<br></div>"
        f'<blockquote class="gmail_quote">{ours}'
        '<div class="gmail_quote"><div class="gmail_attr">On Mon, 2 Nov 2026 at 16:10, Dr Ana Moreau '
        "&lt;ana.moreau@calmwater-therapy.example&gt; wrote:<br></div>"
        f'<blockquote class="gmail_quote">{paragraphs}</blockquote></div></blockquote></div>'
    )
    return _message("Please see my letter below.", html=html)


QUOTES = {
    "plain": _quoted_plain,
    "outlook": _quoted_outlook,
    "gmail-html": _quoted_gmail_html,
    "two-levels-under-our-question": _quoted_under_our_question,
    "two-levels-thunderbird": lambda letter: _quoted_under_our_question(letter, style="thunderbird"),
    "outlook-under-ours": _quoted_outlook_under_ours,
    "gmail-html-nested": _quoted_gmail_html_nested,
}


@pytest.fixture(scope="module")
def rt(tmp_path_factory) -> Runtime:
    from cryptography.fernet import Fernet

    data = tmp_path_factory.mktemp("quoted")
    settings = load_settings(data_dir=data, vault_key=Fernet.generate_key().decode(), hash_key="quoted-test-key")
    return Runtime(settings)


def _outcome(rt: Runtime, raw: bytes) -> tuple[object, ...]:
    processed = process(rt, raw)
    assert processed.outcome is None, "the letter was not found (no report)"
    report = processed.sections
    assert report is not None
    return (
        report.as_flags(),
        tuple(v.reason for v in report.verdicts),
        report.sessions_requested,
        report.period,
        report.therapy,
    )


@pytest.mark.slow
@pytest.mark.parametrize("quote", sorted(QUOTES))
@pytest.mark.parametrize("letter", sorted(LETTERS))
def test_a_letter_entirely_in_a_quoted_reply_yields_the_same_verdicts_as_in_the_body(rt, letter, quote):
    in_body = _outcome(rt, _in_body(LETTERS[letter]))
    quoted = _outcome(rt, QUOTES[quote](LETTERS[letter]))
    assert quoted == in_body


@pytest.mark.slow
def test_the_letters_are_judged_as_a_reader_would(rt):
    flags = {name: _outcome(rt, _in_body(text))[0] for name, text in LETTERS.items()}
    assert flags == {
        "needs-and-recommendation": {"needs": True, "recommendation": True},
        "needs-only": {"needs": True, "recommendation": False},
        "partner-only": {"needs": False, "recommendation": False},
    }


@pytest.mark.slow
def test_our_own_quoted_acknowledgement_is_never_the_letter(rt):
    raw = _message(
        "Thanks, will do.\n\n"
        "On Mon, 2 Nov 2026 at 16:10, Plumm <hello@heyplumm.com> wrote:\n"
        "> Thank you for your email. Your case reference is PLM-2026-000001.\n"
        "> I recommend a further six sessions of CBT, fortnightly.\n"
    )
    processed = process(rt, raw)
    report = processed.sections
    assert report is None or not report.as_flags()["recommendation"]


# The ask in the new text, the reasons only in the therapist's own letter quoted under our question (in any
# language's attribution): both count, and our question is never part of the letter.
_REASONS_ONLY = (
    "Dear Plumm team,\n\nMy client Tomasz Wieczorek still has two or three panic attacks a week and avoids "
    "the train to work; his PHQ-9 is 14 and his GAD-7 is 15. Stopping now would undo the exposure work.\n\n"
    "Kind regards,\nDr Ana Moreau"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 2 Nov 2026 at 16:10, Dr Ana Moreau <ana.moreau@calmwater-therapy.example> wrote:",
        "Il giorno lun 2 nov 2026 alle ore 16:10 Dr Ana Moreau <ana.moreau@calmwater-therapy.example> ha scritto:",
        "Le lun. 2 nov. 2026 à 16:10, Ana Moreau a écrit :",
    ],
)
def test_the_reasons_in_the_senders_quoted_letter_join_the_ask_of_the_reply(rt, attribution):
    ours = "On Tue, 3 Nov 2026 at 09:12, Plumm <hello@heyplumm.com> wrote:\n" + _quote(
        _OUR_QUESTION + "\n\n" + attribution + "\n" + _quote(_REASONS_ONLY)
    )
    raw = _message("Hi,\n\nSorry! 6 more sessions, fortnightly please.\n\nAna\n\n" + ours)
    flags, _reasons, sessions, period, _therapy = _outcome(rt, raw)
    assert flags == {"needs": True, "recommendation": True}
    assert (sessions, period) == (6, "fortnightly")
    processed = process(rt, raw)
    assert processed.redaction is not None
    assert "Could you tell us" not in processed.redaction.text  # our question is never shown


@pytest.mark.slow
def test_someone_elses_quoted_letter_is_not_the_senders(rt):
    raw = _message(
        "Hi,\n\nSorry, I left out the number: 6 more sessions for him, fortnightly please, from next week.\n\n"
        "Ana\n\n"
        "On Mon, 2 Nov 2026 at 16:10, Dr Ben Okafor <ben.okafor@other-practice.example> wrote:\n"
        + _quote(_REASONS_ONLY)
    )
    flags = _outcome(rt, raw)[0]
    assert flags == {"needs": False, "recommendation": True}


# The client's job title in the therapist's letter: redacted the same wherever the letter sits, under a
# reply signed off with a closing of its own ("Thanks, Ana"), one or two levels deep.
_WITH_JOB = (
    "Dear Plumm team,\n\nI am writing about my client Tomasz Wieczorek, who works as a night-shift tram "
    "dispatcher at Harrowgate Transit. He is also a relief signaller for Westmoor Rail at weekends, and "
    "still has two or three panic attacks a week; his PHQ-9 is 14.\n\n"
    "I recommend a further six sessions of CBT, fortnightly.\n\nKind regards,\nDr Ana Moreau"
)
_SIGNED_REPLY = "Hi,\n\nSorry, I should have said: six more sessions, fortnightly please.\n\nThanks,\nAna\n\n"
_ANA = "Dr Ana Moreau <ana.moreau@calmwater-therapy.example>"
_JOB_QUOTES = {
    "body": lambda letter: _in_body(letter),
    "one-level": lambda letter: _message(
        _SIGNED_REPLY + f"On Mon, 2 Nov 2026 at 16:10, {_ANA} wrote:\n" + _quote(letter)
    ),
    "two-levels-under-our-question": lambda letter: _message(
        _SIGNED_REPLY
        + "On Tue, 3 Nov 2026 at 09:12, Plumm <hello@heyplumm.com> wrote:\n"
        + _quote(_OUR_QUESTION + "\n\n" + f"On Mon, 2 Nov 2026 at 16:10, {_ANA} wrote:\n" + _quote(letter))
    ),
    "two-levels-under-own-reply": lambda letter: _message(
        _SIGNED_REPLY
        + f"On Tue, 3 Nov 2026 at 09:12, {_ANA} wrote:\n"
        + _quote(_SIGNED_REPLY + f"On Mon, 2 Nov 2026 at 16:10, {_ANA} wrote:\n" + _quote(letter))
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("quote", sorted(_JOB_QUOTES))
def test_a_quoted_letter_loses_the_clients_job_title_as_in_the_body(rt, quote):
    processed = process(rt, _JOB_QUOTES[quote](_WITH_JOB))
    assert processed.redaction is not None
    text = processed.redaction.text
    assert "Wieczorek" not in text  # the letter is there, redacted
    assert "panic attacks" in text
    for word in ("dispatcher", "tram", "night-shift", "signaller"):
        assert word not in text, word
