"""Stage 2: :class:`~pipeline.models.ParsedMail` -> :class:`~pipeline.models.Letter`.

Contract
--------
``extract(mail)`` finds the one letter text a therapist sent, whatever the mail client:

* the plain body, or the HTML body (inscriptis) when there is no plain body or the plain
  part is only a stub. ``script``/``style`` are dropped; hidden elements (``hidden``,
  ``display:none``, ``visibility:hidden``, ``font-size:0``...) are removed from the letter
  and their text kept in ``Letter.removed_text`` so redaction still sees names in them;
* PDF (pypdf) and DOCX (python-docx: paragraphs, tables, headers and footers) attachments,
  recognised by their magic bytes rather than the declared type, text attachments, and
  attached messages (``message/rfc822``, read as a message of their own);
* a body that is only a covering line ("Please find attached my letter" plus sign-off and
  signature) yields to the attachment; a substantive body is kept before the attachments.
  A dropped covering note goes to ``removed_text`` (it names the sender);
* forwarded mail keeps the forwarded letter and drops the forwarding header block
  (From/Sent/To/Subject lines). The forwarder's own note above it is kept only when it is
  substantive (at least ``_NOTE_MIN_WORDS`` words once greeting and signature are set
  aside); otherwise it moves to ``removed_text``. Notes: ``forwarded``;
* a bounce or read report (``multipart/report``), an automatic reply (``Auto-Submitted:
  auto-replied``, ``X-Autoreply``) or bulk/list mail (``Precedence: bulk|list|junk``, ``List-Id``)
  holds no letter, whatever its text. Its own body (quoted history dropped, attachments and
  attached messages never read) comes back as a ``Letter`` marked ``machine_report``, so the CSM
  can read what came in once it is redacted and verified; the worker never assesses it and records
  ``no-letter-found``. One with no readable English body, or attached inside another message, is
  ``no-letter-found`` here. Binary noise in a text part holds no letter either (and, at the
  sections stage, neither does a message that names no session, therapy, client or clinical word);
* replies drop quoted history (``>`` lines, "On ... wrote:" and what follows it, Outlook's
  From/Sent block, "-----Original Message-----", Gmail/Apple quote blocks in HTML) into
  ``removed_text``. Note: ``quoted-history-dropped``. Signatures stay;
* a reply whose own text is only a covering line ("Please see my letter below") with no
  attachment letter keeps the letter it quotes, as if it were the body (never our own mail: a
  quote under one of ``own_addresses`` or carrying a case reference). Note: ``quoted-letter``.

Outcomes (never any other exception for a message's content):

``MessageUnreadable`` (quarantined): ``pdf-encrypted``, ``pdf-no-text-layer``,
``pdf-corrupt``, ``docx-corrupt``, ``attachment-too-large-inflated``,
``unsupported-attachment``, ``html-unparseable``, ``extract-time-exceeded``.

``LetterMissing`` (awaiting information): ``no-letter-found``, ``language-not-supported``.

An unreadable attachment next to a substantive body does not stop the body letter: it is
recorded as a note (``attachment-unreadable``) instead. Work is bounded by
``max_inflated_bytes`` (zip members and PDF stream decompression) and by
``time_budget_seconds``, checked between parts and pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.models import Attachment, IntakeOutcome, Letter, LetterMissing, MessageUnreadable, ParsedMail
from pipeline.stages.extract.attachments import Budget, docx_text, kind_of, pdf_text, zip_kind
from pipeline.stages.extract.history import (
    CLIENT_FOOTER,
    FORWARD_SUBJECT,
    is_covering,
    only_covers,
    quoted_letter,
    senders_quoted_text,
    strip_history,
)
from pipeline.stages.extract.html import html_to_text
from pipeline.stages.extract.language import check_language
from pipeline.stages.extract.text import clean, word_list
from pipeline.stages.parse import decode_text, parse

__all__ = ["extract"]

_MAX_NESTED_MESSAGES = 3
OUR_ADDRESSES = ("hello@heyplumm.com",)  # the default intake and sender address (pipeline.config)


@dataclass
class _Found:
    texts: list[tuple[tuple[str, ...], str]] = field(default_factory=list)  # (sources, text)
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unsupported: int = 0
    failure: MessageUnreadable | None = None
    attachment_count: int = 0

    def note(self, code: str) -> None:
        if code not in self.notes:
            self.notes.append(code)


def _body(mail: ParsedMail, found: _Found) -> tuple[str, str]:
    """(source, text) of the body: plain, or HTML when plain is missing or a stub."""
    plain = "" if _is_binary_noise(mail.text_plain) else clean(mail.text_plain)
    html_text = ""
    if mail.text_html.strip():
        html_text, hidden = html_to_text(mail.text_html)
        html_text = clean(html_text)
        hidden_text = clean("\n".join(hidden))
        if hidden_text:
            found.removed.append(hidden_text)
            found.note("hidden-text-removed")
    if plain and html_text:
        plain_words, html_words = len(word_list(plain)), len(word_list(html_text))
        if plain_words <= 20 and html_words >= 3 * max(plain_words, 1) + 10:
            return "html", html_text
    if plain:
        return "body", plain
    return ("html", html_text) if html_text else ("body", "")


# Outcomes that stop the whole message, whatever else it holds: it is too big or too slow to read.
_FATAL = ("extract-time-exceeded", "attachment-too-large-inflated")


def _attachment_texts(
    mail: ParsedMail, found: _Found, budget: Budget, max_inflated: int, depth: int, own_addresses: tuple[str, ...]
) -> None:
    bounce = mail.content_type == "multipart/report"
    for attachment in mail.attachments:
        budget.check()
        kind = kind_of(attachment)
        if kind == "zip":
            kind = "docx" if attachment.filename.lower().endswith((".docx", ".docm")) else zip_kind(attachment.payload)
        if kind in ("ignore", "decoration"):
            continue
        if kind == "message":
            if not bounce and depth < _MAX_NESTED_MESSAGES:
                _attached_message(attachment, found, budget, max_inflated, depth, own_addresses)
            continue
        if kind == "unsupported":
            found.unsupported += 1
            continue
        found.attachment_count += 1
        try:
            text = _attachment_text(kind, attachment, found, budget, max_inflated)
        except MessageUnreadable as outcome:
            if outcome.reason in _FATAL:
                raise
            if outcome.reason == "unsupported-attachment":
                found.unsupported += 1
            else:
                found.failure = found.failure or outcome
            continue
        text = clean(text)
        if word_list(text):
            found.texts.append(((kind,), text))


def _attached_message(
    attachment: Attachment,
    found: _Found,
    budget: Budget,
    max_inflated: int,
    depth: int,
    own_addresses: tuple[str, ...],
) -> None:
    """An attached message (a forward as attachment) is read as a message of its own."""
    found.attachment_count += 1
    try:
        inner = _extract_inner(attachment.payload, budget, max_inflated, depth + 1, own_addresses)
    except LetterMissing:
        return
    except MessageUnreadable as outcome:
        if outcome.reason in _FATAL:
            raise
        found.failure = found.failure or outcome
        return
    found.texts.append((inner.sources, inner.text))
    found.removed.append(inner.removed_text)
    found.note("forwarded")


def _attachment_text(kind: str, attachment: Attachment, found: _Found, budget: Budget, max_inflated: int) -> str:
    if kind == "pdf":
        return pdf_text(attachment.payload, budget, max_inflated)
    if kind == "docx":
        return docx_text(attachment.payload, budget, max_inflated)
    if kind == "html":
        text, hidden = html_to_text(_decode(attachment.payload))
        found.removed.extend(hidden)
        return text
    return _decode(attachment.payload)


def _decode(data: bytes) -> str:
    return decode_text(data, None)[0]


def _extract_inner(raw: bytes, budget: Budget, max_inflated: int, depth: int, own_addresses: tuple[str, ...]) -> Letter:
    inner = parse(raw)
    return _extract(inner, budget=budget, max_inflated=max_inflated, depth=depth, own_addresses=own_addresses)


def _is_machine_report(mail: ParsedMail) -> bool:
    """A delivery/read report (RFC 6522) or an automatic reply (RFC 3834): never a letter.

    ``Auto-Submitted: auto-generated`` is not enough: practice-management systems send
    genuine letters that way. Only replies generated automatically are excluded.
    """
    if mail.content_type == "multipart/report":
        return True
    auto = mail.header("auto-submitted").strip().lower()
    if auto.startswith("auto-replied"):
        return True
    if mail.header("x-autoreply").strip() or mail.header("x-autorespond").strip():
        return True
    # Bulk and list mail (newsletters, digests) is not addressed to us as a letter (RFC 2919 List-Id too).
    if mail.header("list-id").strip():
        return True
    return mail.header("precedence").strip().lower() in ("auto_reply", "bulk", "list", "junk")


_BINARY_CHAR = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")


def _is_binary_noise(text: str) -> bool:
    """True for binary bytes sent as a text part: real text has almost no control characters."""
    if len(text) < 200:
        return False
    return len(_BINARY_CHAR.findall(text)) / len(text) > 0.05


def _own_body(mail: ParsedMail, found: _Found) -> tuple[str, str, str]:
    """The body's source, its text without quoted history, and the full body (history included)."""
    source, body = _body(mail, found)
    history = strip_history(body, forward=bool(FORWARD_SUBJECT.match(mail.subject)))
    for code in sorted(history.notes):
        found.note(code)
    removed_history = clean("\n".join(history.removed))
    if removed_history:
        found.removed.append(removed_history)
    kept = clean("\n".join(line for line in history.kept if not CLIENT_FOOTER.match(line)))
    return source, kept, body


def _senders(mail: ParsedMail) -> tuple[tuple[str, str], ...]:
    """(display name, address) of whoever sent the reply: From, and Reply-To (a practice system's)."""
    return tuple((a.name, a.email) for a in (mail.sender, *mail.reply_to) if a.name or a.email)


def _quoted_instead(
    body: str, full_body: str, found: _Found, own_addresses: tuple[str, ...], senders: tuple[tuple[str, str], ...]
) -> str:
    """A reply keeps the sender's own earlier writing it quotes, at any depth, after its new text
    (which goes when it only points to them); a reply that only covers the letter it quotes: that
    letter is the letter. Never our own mail."""
    if found.texts or "quoted-history-dropped" not in found.notes:
        return body
    earlier = [
        text
        for text in (
            clean("\n".join(line for line in q.split("\n") if not CLIENT_FOOTER.match(line)))
            for q in senders_quoted_text(full_body, senders=senders, own_addresses=own_addresses)
        )
        if text
    ]
    if earlier:
        found.note("quoted-letter")
        if body and only_covers(body):
            found.removed.append(body)
            body = ""
        return "\n\n".join(t for t in (body, *earlier) if t)
    if body and not is_covering(body):
        return body
    quoted = quoted_letter(full_body, own_addresses=own_addresses)
    if quoted is None:
        return body
    letter_text, header = quoted
    found.note("quoted-letter")
    if body and not only_covers(body):
        # a short line of its own ("8 more please") stays before the letter it covers
        found.removed.append(header)
        return f"{body}\n\n{clean(letter_text)}"
    found.removed.extend(r for r in (body, header) if r.strip())
    return clean(letter_text)


def _letter_parts(source: str, body: str, found: _Found) -> list[tuple[tuple[str, ...], str]]:
    """The body and the attachment texts that make the letter, or the outcome when there is none."""
    parts: list[tuple[tuple[str, ...], str]] = []
    if found.texts:
        if body and not is_covering(body):
            parts.append(((source,), body))
        elif body:
            found.removed.append(body)
            found.note("covering-note-dropped")
        return parts + found.texts
    if body and word_list(body):
        covering = is_covering(body)
        if covering and found.failure is not None:
            raise found.failure
        if covering and found.unsupported:
            raise MessageUnreadable("unsupported-attachment")
        if found.failure is not None:
            found.note("attachment-unreadable")
        return [((source,), body)]
    if found.failure is not None:
        raise found.failure
    if found.unsupported:
        raise MessageUnreadable("unsupported-attachment")
    raise LetterMissing("no-letter-found")


def _machine_report(mail: ParsedMail) -> Letter:
    """The body of a report or an automatic reply, for the CSM to read once redacted: never a letter.

    Its attachments (a bounce's returned message, a list's digest) are not read. Whatever stops the
    body being read is ``no-letter-found``, the outcome of every machine report."""
    found = _Found()
    try:
        source, body, _full_body = _own_body(mail, found)
        if not word_list(body):
            raise LetterMissing("no-letter-found")
        check_language(body)
    except IntakeOutcome:
        raise LetterMissing("no-letter-found") from None
    found.note("machine-report")
    return Letter(
        text=body,
        sources=(source,),
        notes=tuple(found.notes),
        removed_text="\n\n".join(r for r in found.removed if r.strip()),
        machine_report=True,
    )


def _extract(
    mail: ParsedMail, *, budget: Budget, max_inflated: int, depth: int, own_addresses: tuple[str, ...]
) -> Letter:
    if _is_machine_report(mail):
        if depth:  # a report attached inside another message adds nothing to its letter
            raise LetterMissing("no-letter-found")
        return _machine_report(mail)
    found = _Found()
    source, body, full_body = _own_body(mail, found)
    budget.check()
    _attachment_texts(mail, found, budget, max_inflated, depth, own_addresses)
    body = _quoted_instead(body, full_body, found, own_addresses, _senders(mail))
    parts = _letter_parts(source, body, found)
    text = "\n\n".join(text for _, text in parts).strip()
    if not word_list(text):
        raise LetterMissing("no-letter-found")
    check_language(text)
    return Letter(
        text=text,
        sources=tuple(source for sources, _ in parts for source in sources),
        notes=tuple(found.notes),
        removed_text="\n\n".join(r for r in found.removed if r.strip()),
    )


def extract(
    mail: ParsedMail,
    *,
    max_inflated_bytes: int = 20 * 1024 * 1024,
    time_budget_seconds: float = 20.0,
    clock: Callable[[], float] = time.monotonic,
    own_addresses: tuple[str, ...] = OUR_ADDRESSES,
) -> Letter:
    """Find the one letter text in ``mail`` (see the module docstring for the rules); ``clock``
    measures the time budget (injectable, so a test can run out of time without waiting);
    ``own_addresses`` are ours, so a quote of our own mail is never taken for the letter."""
    budget = Budget(time_budget_seconds, clock)
    return _extract(mail, budget=budget, max_inflated=max_inflated_bytes, depth=0, own_addresses=own_addresses)
