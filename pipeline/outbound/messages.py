"""Every message we send is built here, by one builder: acknowledgements to therapists, anonymous
requests to employers, notifications to clients and CSM digests.

Contract:

* :func:`compose` is the one builder: ``From: Plumm <sender>``, exactly one recipient in ``To``
  (validated by :func:`pipeline.addresses.mailbox`; no Cc or Bcc), a ``Message-ID`` on the domain
  from settings (``PLUMM_MESSAGE_ID_DOMAIN``, by default the sender address's), optional threading
  headers, and for automatic mail the RFC 3834 marks and our loop header. Headers go through
  ``email.policy.SMTP`` and every input used in one has its control characters removed, so no input
  can add a header. Text and HTML are alternatives of one message.
* :func:`render` renders ``rules/templates/<name>.txt.j2`` and ``.html.j2`` (HTML autoescaped, a
  missing variable an error).
* :func:`build_acknowledgement` states the case reference, where the letter was found and, in plain
  language, what is missing (the section rules' guidance) or why the letter could not be read (the
  reason texts of ``rules/templates/reasons.yaml``); it never quotes the letter or a header value
  except the case reference and the recipient's address.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path

import jinja2
from pydantic import model_validator

from pipeline.addresses import mailbox
from pipeline.models import SectionReport
from pipeline.outbound.loop_safety import LOOP_HEADER
from pipeline.patterns import is_case_reference
from pipeline.rules import RuleModel, load_rules
from pipeline.stages.sections import SectionRules, load_section_rules

TEMPLATES_DIR = "templates"
REASONS_FILE = "reasons.yaml"
MAX_REFERENCES = 20  # keep the References header bounded

_MSGID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")

SOURCE_LABELS = {
    "body": "in the body of your email",
    "plain": "in the body of your email",
    "html": "in the body of your email",
    "pdf": "in a PDF attachment",
    "docx": "in a Word attachment",
    "doc": "in a Word attachment",
}


class ReasonTexts(RuleModel):
    """``rules/templates/reasons.yaml``: the plain-language explanation per reason code."""

    generic: str
    reasons: dict[str, str]
    nothing_needed: list[str] = []
    letter_unreadable: list[str] = []

    @model_validator(mode="after")
    def _known(self) -> ReasonTexts:
        unknown = sorted((set(self.nothing_needed) | set(self.letter_unreadable)) - set(self.reasons))
        if unknown:
            raise ValueError(f"nothing_needed or letter_unreadable name reasons without a text: {', '.join(unknown)}")
        return self

    def explain(self, code: str) -> str:
        return self.reasons.get(code, self.generic)

    def asks_for_information(self, code: str) -> bool:
        return code in self.reasons and code not in self.nothing_needed


def load_reason_texts(rules_dir: Path) -> ReasonTexts:
    return load_rules(Path(rules_dir) / TEMPLATES_DIR / REASONS_FILE, ReasonTexts)


# --- rendering -----------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _environment(rules_dir: Path, autoescape: bool) -> jinja2.Environment:
    """One environment per rules folder and escaping, kept for the process: a template is compiled
    once, not for every message (Jinja still reloads a template whose file changed)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(rules_dir) / TEMPLATES_DIR)),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template_name: str, *, rules_dir: Path, **context: object) -> tuple[str, str]:
    """Render ``<template_name>.txt.j2`` and ``<template_name>.html.j2`` -> (text, html).

    HTML is autoescaped; a variable missing from ``context`` is an error (StrictUndefined).
    """
    rules_dir = Path(rules_dir)
    text = _environment(rules_dir, autoescape=False).get_template(f"{template_name}.txt.j2").render(**context)
    html = _environment(rules_dir, autoescape=True).get_template(f"{template_name}.html.j2").render(**context)
    return text, html


# --- the one builder -----------------------------------------------------------------------------


def _clean(value: str) -> str:
    """Remove every line break and control character (no header can be smuggled in)."""
    return "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()


def _message_id(value: str) -> str | None:
    cleaned = _clean(value)
    if not cleaned:
        return None
    if not cleaned.startswith("<"):
        cleaned = f"<{cleaned}>"
    return cleaned if _MSGID.match(cleaned) else None


def compose(
    *,
    sender: str,
    message_id_domain: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    reply_to: str | None = None,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    automatic: str | None = None,
) -> EmailMessage:
    """One message to one recipient (``ValueError`` if ``to`` is not one address).

    ``automatic`` is the RFC 3834 ``Auto-Submitted`` value (``auto-replied`` for an acknowledgement,
    ``auto-generated`` for a digest): such mail also asks out-of-office responders to stay quiet and
    carries our loop header, so an answer to it is never answered again.
    """
    from_address = mailbox(sender)
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = HeaderAddress(display_name="Plumm", addr_spec=from_address)
    message["To"] = mailbox(to)
    if reply_to is not None:
        message["Reply-To"] = mailbox(reply_to)
    message["Subject"] = _clean(subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    original = _message_id(in_reply_to)
    thread = [r for r in (_message_id(x) for x in references) if r]
    if original:
        message["In-Reply-To"] = original
        if original not in thread:
            thread.append(original)
    if thread:
        message["References"] = " ".join(thread[-MAX_REFERENCES:])
    if automatic is not None:
        message["Auto-Submitted"] = automatic
        message["X-Auto-Response-Suppress"] = "All"
        message[LOOP_HEADER] = from_address
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


# --- acknowledgements ----------------------------------------------------------------------------


def _sources(sources: Sequence[str]) -> list[str]:
    labels: list[str] = []
    for source in sources:
        label = SOURCE_LABELS.get(_clean(source).lower())
        if label and label not in labels:
            labels.append(label)
    return labels


def _why(reason: str) -> str:
    """A verdict's reason as the therapist reads it: "no recommendation: the only request is for ..."
    -> "the only request is for ..." (the reason is made of fixed phrases, never the letter's words)."""
    return reason.split(": ", 1)[1] if ": " in reason else reason


def build_acknowledgement(
    *,
    case_ref: str,
    to: str,
    original_message_id: str,
    original_references: Sequence[str],
    sources: Sequence[str],
    report: SectionReport | None,
    status: str,
    reason: str | None,
    sender_address: str,
    rules_dir: Path,
    section_rules: SectionRules | None = None,
    reason_texts: ReasonTexts | None = None,
    message_id_domain: str | None = None,
) -> EmailMessage:
    """Build the acknowledgement for one received message (queued, not sent, by the caller).

    The worker passes the section rules, reason texts and Message-ID domain its runtime loaded once;
    without them they are read from ``rules_dir`` and the sender address's domain (tests, tools).
    """
    case_ref = _clean(case_ref)
    if not is_case_reference(case_ref):
        raise ValueError("case reference must look like PLM-YYYY-NNNNNN")
    recipient = mailbox(to)
    sender = mailbox(sender_address)
    reasons = reason_texts or load_reason_texts(rules_dir)

    missing: list[dict[str, str]] = []
    if report is not None:
        guidance = {s.id: s for s in (section_rules or load_section_rules(rules_dir)).sections}
        for verdict in report.missing:
            rule = guidance.get(verdict.id)
            missing.append(
                {
                    "title": rule.title if rule else verdict.title,
                    "description": rule.description if rule else "",
                    "guidance": rule.guidance if rule else "",
                    "why": _why(verdict.reason),
                }
            )
    # A message that could not be read (or has no report) is explained by its reason code; the
    # code is looked up, never echoed.
    code = _clean(reason or "")
    problem = None
    if status == "quarantined" or report is None:
        problem = reasons.explain(code)
    needs_information = bool(missing) or reasons.asks_for_information(code)
    subject = f"[{case_ref}] We received your letter" + (" — information needed" if needs_information else "")
    context = {
        "case_ref": case_ref,
        "sources": _sources(sources),
        "missing": missing,
        "problem": problem,
        "complete": report is not None and report.complete and problem is None,
        "sessions_requested": report.sessions_requested if report is not None else None,
        # the verdicts' reasons in plain words (fixed phrases; never the letter's words)
        "found": [_why(v.reason) for v in report.verdicts if v.present and v.reason] if report is not None else [],
    }
    text, html = render("acknowledgement", rules_dir=rules_dir, **context)
    return compose(
        sender=sender,
        message_id_domain=message_id_domain or sender.rpartition("@")[2].lower(),
        to=recipient,
        subject=subject,
        text=text,
        html=html,
        in_reply_to=original_message_id,
        references=original_references,
        automatic="auto-replied",  # RFC 3834 section 5
    )
