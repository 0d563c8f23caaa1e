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
  auto-replied``, ``X-Autoreply``) or bulk/list mail (``Precedence: bulk|list|junk``) holds
  no letter: ``no-letter-found``, whatever its text; so does binary noise in a text part;
* replies drop quoted history (``>`` lines, "On ... wrote:" and what follows it, Outlook's
  From/Sent block, "-----Original Message-----", Gmail/Apple quote blocks in HTML) into
  ``removed_text``. Note: ``quoted-history-dropped``. Signatures stay.

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

import html as html_lib
import io
import logging
import re
import time
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from inscriptis import Inscriptis
from inscriptis.model.config import ParserConfig
from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from pipeline.models import Attachment, IntakeOutcome, Letter, LetterMissing, MessageUnreadable, ParsedMail

DetectorFactory.seed = 0  # langdetect is randomised; replay must not differ run to run

# pypdf logs the first bytes of a file it cannot read ("invalid pdf header: b'Dear '") and
# other fragments of content: a letter must never reach the log, so its logger stays quiet.
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)

__all__ = ["extract"]

_NOTE_MIN_WORDS = 25  # a forwarder's note shorter than this is a covering note, not letter text
_COVERING_MAX_WORDS = 40  # a body this short that mentions an attachment is a covering line
_STUB_MAX_WORDS = 8  # a body this short never stands beside an attachment letter
_LANGUAGE_MIN_WORDS = 20
_MAX_NESTED_MESSAGES = 3
_TEXT_LAYER_MIN_CHARS = 20  # fewer word characters than this in a PDF: a scan, not text


# --------------------------------------------------------------------------- budget


class _Budget:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.deadline = clock() + seconds

    def check(self) -> None:
        if self.clock() > self.deadline:
            raise MessageUnreadable("extract-time-exceeded")


# --------------------------------------------------------------------------- text cleaning

_ZERO_WIDTH_AND_BIDI = dict.fromkeys(
    [0x00AD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A)),
    None,
)
_LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t]+")
_MANY_BLANKS = re.compile(r"\n{3,}")


def _clean(text: str) -> str:
    """Normalise line ends and spaces; strip NULs, control, zero-width and bidi characters."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = text.replace("\x0c", "\n").replace("\x0b", "\n")
    text = _CONTROL.sub("", text)
    text = text.translate(_ZERO_WIDTH_AND_BIDI)
    for ligature, letters in _LIGATURES.items():
        text = text.replace(ligature, letters)
    text = unicodedata.normalize("NFC", text)
    lines = [_SPACES.sub(" ", line).rstrip() for line in text.split("\n")]
    return _MANY_BLANKS.sub("\n\n", "\n".join(lines)).strip("\n ")


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", text)


# --------------------------------------------------------------------------- letter shape

_GREETING = re.compile(
    r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|to whom it may concern|greetings)\b", re.I
)
_SIGN_OFF = re.compile(
    r"^(kind(est)? regards|warm(est)? (regards|wishes)|best( wishes| regards)?|regards|many thanks|"
    r"thanks( again| so much| very much)?|thank you( (so|very) much)?|cheers|"
    r"yours (sincerely|faithfully|truly)|"
    r"sincerely|with (best|kind|warm) (wishes|regards)|all the best|take care|speak soon|best,)\b",
    re.I,
)
_SIGNATURE_START = re.compile(r"^(-- ?|—|sent from my \w+.*|get outlook for \w+.*)$", re.I)
_COVERING_PHRASE = re.compile(
    r"\b(attach\w*|enclos\w*|please find|find (my|the|a) letter|see (the )?(attached|enclosed|below)|"
    r"herewith|"
    r"here is|here's|forward\w*|fyi)\b",
    re.I,
)


def _content_lines(text: str) -> list[str]:
    """The lines of a message once greeting, sign-off and signature are set aside."""
    lines = [line.strip() for line in text.split("\n")]
    out: list[str] = []
    for index, line in enumerate(lines):
        if not line:
            continue
        if _SIGNATURE_START.match(line):
            break
        short = len(_words(line)) <= 6
        if short and _SIGN_OFF.match(line):
            break
        if short and not out and _GREETING.match(line) and index < 3:
            continue
        out.append(line)
    return out


def _content_words(text: str) -> int:
    return len(_words(" ".join(_content_lines(text))))


def _is_covering(text: str) -> bool:
    """True when ``text`` is only a covering note (greeting, a line or two, signature)."""
    count = _content_words(text)
    if count <= _STUB_MAX_WORDS:
        return True
    return count <= _COVERING_MAX_WORDS and bool(_COVERING_PHRASE.search(" ".join(_content_lines(text))))


# --------------------------------------------------------------------------- quoted history

_FORWARD_MARKER = re.compile(
    r"^\s*(-{2,}\s*forwarded message\s*-{2,}|begin forwarded message\s*:?|"
    r"-{2,}\s*original message\s*-{2,}|-{2,}\s*forwarded by\b.*)\s*$",
    re.I,
)
_EXPLICIT_FORWARD = re.compile(r"forward", re.I)
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,300}\b(wrote|writes)\s*:|.{0,300}(\d{1,2}:\d{2}|@).{0,300}\bwrote\s*:)\s*$", re.I
)
_HEADER_FIELD = re.compile(
    r"^\s*\**\s*(from|sent|date|to|cc|bcc|subject|reply-to|importance|attachments)\s*\**\s*:", re.I
)
# Client footers that are not part of anyone's signature and hold nothing identifying.
_CLIENT_FOOTER = re.compile(
    r"^\s*(sent from my [\w ]{1,30}|sent from (mail|outlook) for \w+|get outlook for \w+( \w+)?|"
    r"sent from (yahoo mail|gmail mobile|proton ?mail)[\w ]{0,30}|sent via [\w ]{1,30} app)\s*\.?\s*$",
    re.I,
)
_RULE_LINE = re.compile(r"^\s*[_\-=]{8,}\s*$")
_QUOTED = re.compile(r"^\s*>")
_FORWARD_SUBJECT = re.compile(r"^\s*(\[[^\]]*\]\s*)?(fwd?|fw|tr|wg|doorst)\s*(\[\d+\])?\s*:", re.I)


def _outlook_block_at(lines: list[str], index: int) -> int | None:
    """If an Outlook-style header block starts at ``index``, return the index of its From line.

    A "From:" line followed closely by "Sent:"/"Date:" and "Subject:" lines, optionally
    under a rule of underscores.
    """
    start = index
    if _RULE_LINE.match(lines[index]):
        start = index + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
    if start >= len(lines) or not re.match(r"^\s*\**\s*from\s*\**\s*:", lines[start], re.I):
        return None
    seen: set[str] = set()
    end = start
    for probe in range(start, min(len(lines), start + 12)):
        match = _HEADER_FIELD.match(lines[probe])
        if match:
            seen.add(match.group(1).lower())
            end = probe + 1
        elif lines[probe].strip() and probe > end + 1:
            break
    if {"from", "subject"} <= seen and ({"sent", "date"} & seen):
        return start
    return None


def _skip_header_block(lines: list[str], index: int) -> tuple[int, str]:
    """Skip a forwarded message's header lines; return (next index, its Subject value)."""
    subject = ""
    last_field = None
    while index < len(lines):
        line = lines[index]
        match = _HEADER_FIELD.match(line)
        if match:
            last_field = match.group(1).lower()
            if last_field == "subject":
                subject = line.split(":", 1)[1]
            index += 1
            continue
        if not line.strip():
            if last_field is None or (index + 1 < len(lines) and _HEADER_FIELD.match(lines[index + 1])):
                index += 1
                continue
            break
        if _QUOTED.match(line) and last_field is None:
            break
        if last_field in ("to", "cc", "bcc") and line[:1] in (" ", "\t"):
            index += 1  # wrapped address list
            continue
        break
    return index, subject


def _unquote(lines: list[str]) -> list[str]:
    """Remove one level of '>' quoting when the block is quoted throughout (Apple forwards)."""
    body = [line for line in lines if line.strip()]
    if not body or not all(_QUOTED.match(line) for line in body):
        return lines
    return [re.sub(r"^\s*> ?", "", line) for line in lines]


@dataclass
class _History:
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)


def _strip_history(text: str, *, forward: bool, depth: int = 0) -> _History:
    """Split quoted and forwarded history off a body (see the module docstring)."""
    lines = text.split("\n")
    result = _History()
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _FORWARD_MARKER.match(line)
        outlook_end = None if marker else _outlook_block_at(lines, index)
        attribution_end = None
        if not marker and outlook_end is None:
            if _ATTRIBUTION.match(line):
                attribution_end = index + 1
            elif (
                re.match(r"^\s*on\b", line, re.I)
                and index + 1 < len(lines)
                and re.search(r"\bwrote\s*:\s*$", lines[index + 1], re.I)
                and len(line) < 300
            ):
                attribution_end = index + 2

        explicit_forward = bool(marker) and bool(_EXPLICIT_FORWARD.search(line))
        block = marker or outlook_end is not None or attribution_end is not None
        if block and (explicit_forward or (forward and attribution_end is None)) and depth < 5:
            # Forwarded letter: the note above it, then the forwarded message itself.
            note = "\n".join(result.kept)
            if _content_words(note) < _NOTE_MIN_WORDS or _is_covering(note):
                result.removed.extend(result.kept)
                result.kept = []
            head = index + 1 if marker else (outlook_end if outlook_end is not None else index)
            tail = _unquote(lines[head:])
            after, subject = _skip_header_block(tail, 0)
            result.removed.extend(lines[index:head])
            result.removed.extend(tail[:after])
            rest = tail[after:]
            inner = _strip_history("\n".join(rest), forward=bool(_FORWARD_SUBJECT.match(subject)), depth=depth + 1)
            result.kept.extend(inner.kept)
            result.removed.extend(inner.removed)
            result.notes |= inner.notes | {"forwarded"}
            return result
        if block:
            # Reply history. A quoted ('>') block under an attribution may be followed by
            # the writer's own text (bottom posting); anything else runs to the end.
            if attribution_end is not None:
                probe = attribution_end
                while probe < len(lines) and not lines[probe].strip():
                    probe += 1
                if probe < len(lines) and _QUOTED.match(lines[probe]):
                    result.removed.extend(lines[index:attribution_end])
                    result.notes.add("quoted-history-dropped")
                    index = attribution_end
                    continue
            result.removed.extend(lines[index:])
            result.notes.add("quoted-history-dropped")
            return result
        if _QUOTED.match(line):
            result.removed.append(line)
            result.notes.add("quoted-history-dropped")
            index += 1
            continue
        result.kept.append(line)
        index += 1
    return result


# --------------------------------------------------------------------------- HTML

_HIDDEN_STYLE = re.compile(
    r"(display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0+(\.0+)?\s*(px|pt|em|rem|%)?\s*(;|!|$)|"
    r"opacity\s*:\s*0+(\.0+)?\s*(;|!|$)|mso-hide\s*:\s*all)",
    re.I,
)
_DROPPED_TAGS = {"script", "style", "head", "title", "template", "meta", "link", "object", "embed", "iframe"}
_INSCRIPTIS_CONFIG = ParserConfig(display_links=False, display_images=False, table_cell_separator="  ")


def _is_quote_block(element: lxml.html.HtmlElement) -> bool:
    if element.tag != "blockquote":
        return False
    classes = (element.get("class") or "").split()
    return (element.get("type") or "").lower() == "cite" or "gmail_quote" in classes


def _inscriptis(element: lxml.html.HtmlElement) -> str:
    return Inscriptis(element, _INSCRIPTIS_CONFIG).get_text()


def _html_to_text(html: str) -> tuple[str, list[str]]:
    """Visible text of an HTML body, and the text of its hidden elements.

    Quote blocks (Gmail ``blockquote.gmail_quote``, Apple ``blockquote type=cite``) are
    rendered as '>'-quoted lines so that the same history rules apply as for plain text.
    """
    hidden: list[str] = []
    html = html.strip()
    if not html:
        return "", hidden
    try:
        if html.startswith("<?xml"):
            html = re.sub(r"^<\?xml[^>]*>", "", html, count=1)
        tree = lxml.html.document_fromstring(html)
    except Exception:  # noqa: BLE001 - lxml refuses some inputs (e.g. only a comment)
        try:
            tree = lxml.html.document_fromstring("<pre>" + html_lib.escape(html) + "</pre>")
        except Exception:  # noqa: BLE001
            raise MessageUnreadable("html-unparseable") from None
    try:
        for element in list(tree.iter()):
            if not isinstance(element.tag, str):
                # comments and processing instructions: never shown
                if element.getparent() is not None:
                    element.drop_tree()
                continue
            tag = element.tag.lower()
            if tag in _DROPPED_TAGS:
                if tag == "title":
                    hidden.append(element.text_content())
                element.drop_tree()
                continue
            style = element.get("style") or ""
            if element.get("hidden") is not None or _HIDDEN_STYLE.search(style):
                text = element.text_content()
                if text.strip():
                    hidden.append(text)
                if element.getparent() is not None:
                    element.drop_tree()
        for element in list(tree.iter("blockquote")):
            if not _is_quote_block(element) or element.getparent() is None:
                continue
            if any(_is_quote_block(a) for a in element.iterancestors()):
                continue
            quoted = _inscriptis(element)
            pre = lxml.html.Element("pre")
            pre.text = "\n".join("> " + line for line in quoted.split("\n")) + "\n"
            pre.tail = element.tail
            element.getparent().replace(element, pre)
        return _inscriptis(tree), hidden
    except MessageUnreadable:
        raise
    except RecursionError:
        raise MessageUnreadable("html-unparseable") from None
    except Exception:  # noqa: BLE001 - a rendering failure of one body is an outcome
        raise MessageUnreadable("html-unparseable") from None


# --------------------------------------------------------------------------- attachments

_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM", b"RIFF")
_IGNORED_TYPES = {
    "message/delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
    "application/pgp-keys",
    "text/calendar",
    "application/ics",
    "text/vcard",
    "text/x-vcard",
    "text/directory",
}
_DECORATION_MAX_BYTES = 30 * 1024  # small images are logos and signature icons, not letters


def _kind(attachment: Attachment) -> str:
    """What an attachment really is, by magic bytes first and declared type second."""
    head = attachment.payload[:1024]
    ctype = attachment.content_type.lower()
    name = attachment.filename.lower()
    if ctype in _IGNORED_TYPES:
        return "ignore"
    if _PDF_MAGIC in head:
        return "pdf"
    if head.startswith(_ZIP_MAGIC) or name.endswith((".docx", ".docm")):
        return "zip"
    if ctype.startswith("message/") or name.endswith(".eml"):
        return "message"
    if head.startswith(_OLE_MAGIC):
        return "unsupported"
    if ctype.startswith("image/") or head.startswith(_IMAGE_MAGIC):
        return "decoration" if attachment.size <= _DECORATION_MAX_BYTES else "unsupported"
    if name.endswith(".pdf") or ctype == "application/pdf":
        return "pdf"
    if ctype == "text/html" or name.endswith((".htm", ".html")):
        return "html"
    if ctype == "text/plain" or name.endswith(".txt"):
        return "text"
    return "unsupported"


def _pdf_text(data: bytes, budget: _Budget, max_inflated: int) -> str:
    import pypdf
    from pypdf.errors import LimitReachedError

    limits: dict[str, Any] = {
        "zlib_maximum_output_length": max_inflated,
        "lzw_maximum_output_length": max_inflated,
        "run_length_maximum_output_length": max_inflated,
        "array_based_stream_maximum_output_length": max_inflated,
        "jbig2_maximum_output_length": max_inflated,
        "jbig2dec_binary": None,
        "stream_decoding_work_maximum_length": max(max_inflated * 4, 1),
    }
    try:
        with pypdf.apply_configuration(**limits), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            except LimitReachedError:
                raise MessageUnreadable("attachment-too-large-inflated") from None
            except Exception:  # noqa: BLE001 - any structural failure of the file
                raise MessageUnreadable("pdf-corrupt") from None
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")  # owner-password-only PDFs open without one
                except Exception:  # noqa: BLE001
                    raise MessageUnreadable("pdf-encrypted") from None
                if not opened:
                    raise MessageUnreadable("pdf-encrypted")
            pages: list[str] = []
            total = 0
            try:
                page_list = reader.pages
                for page in page_list:
                    budget.check()
                    text = page.extract_text() or ""
                    total += len(text)
                    if total > max_inflated:
                        raise MessageUnreadable("attachment-too-large-inflated")
                    pages.append(text)
            except IntakeOutcome:
                raise
            except LimitReachedError:
                raise MessageUnreadable("attachment-too-large-inflated") from None
            except Exception:  # noqa: BLE001
                raise MessageUnreadable("pdf-corrupt") from None
    except IntakeOutcome:
        raise
    except RecursionError:
        raise MessageUnreadable("pdf-corrupt") from None
    text = "\n\n".join(pages)
    if len(re.findall(r"\w", text)) < _TEXT_LAYER_MIN_CHARS:
        raise MessageUnreadable("pdf-no-text-layer")
    return text


def _docx_blocks(container: object, budget: _Budget) -> Iterator[str]:
    """Paragraphs and tables of a document, header, footer or table cell, in order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in container.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(item, Paragraph):
            yield item.text
        elif isinstance(item, Table):
            budget.check()
            for row in item.rows:
                cells: list[str] = []
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # merged cells repeat the same element
                        continue
                    seen.add(id(cell._tc))
                    text = "\n".join(_docx_blocks(cell, budget)).strip()
                    if text:
                        cells.append(text)
                if cells:
                    yield "\t".join(cells)


def _docx_text(data: bytes, budget: _Budget, max_inflated: int) -> str:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            names = {info.filename for info in members}
    except Exception:  # noqa: BLE001 - not a zip, truncated, bad central directory
        raise MessageUnreadable("docx-corrupt") from None
    # Declared sizes bound what zipfile will inflate, so check them before anything opens.
    if sum(info.file_size for info in members) > max_inflated:
        raise MessageUnreadable("attachment-too-large-inflated")
    if "word/document.xml" not in names:
        raise MessageUnreadable("unsupported-attachment")
    try:
        document = docx.Document(io.BytesIO(data))
        headers: list[str] = []
        footers: list[str] = []
        for section in document.sections:
            budget.check()
            for part, sink in (
                (section.first_page_header, headers),
                (section.header, headers),
                (section.even_page_header, headers),
                (section.first_page_footer, footers),
                (section.footer, footers),
                (section.even_page_footer, footers),
            ):
                if part.is_linked_to_previous:
                    continue
                text = "\n".join(_docx_blocks(part, budget)).strip()
                if text and text not in sink:
                    sink.append(text)
        body = "\n".join(_docx_blocks(document, budget))
    except IntakeOutcome:
        raise
    except Exception:  # noqa: BLE001 - python-docx / lxml / zipfile failures on a bad file
        raise MessageUnreadable("docx-corrupt") from None
    return "\n\n".join([*headers, body, *footers])


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except Exception:  # noqa: BLE001
        return "docx"  # declared as Word but unreadable: reported as docx-corrupt
    if "word/document.xml" in names:
        return "docx"
    return "unsupported"  # .pages, .odt, .xlsx, plain archives


# --------------------------------------------------------------------------- language

_ENGLISH_FUNCTION_WORDS = frozenset(
    "the and of to a in is for that with on as are be this have has was were it i we you they he she "
    "their our my your his her at by from or not an will would can could should been which who "
    "also more sessions session client therapy".split()
)


def _check_language(text: str) -> None:
    words = _words(text)
    if len(words) < _LANGUAGE_MIN_WORDS:
        return
    lowered = [w.lower() for w in words]
    english = sum(1 for w in lowered if w in _ENGLISH_FUNCTION_WORDS) / len(lowered)
    if english >= 0.08:
        return  # plainly English, whatever names it holds
    try:
        guesses = detect_langs(text[:5000])
    except LangDetectException:
        return
    if guesses and guesses[0].lang != "en" and guesses[0].prob >= 0.80:
        raise LetterMissing("language-not-supported")


# --------------------------------------------------------------------------- extract


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
    plain = "" if _is_binary_noise(mail.text_plain) else _clean(mail.text_plain)
    html_text = ""
    if mail.text_html.strip():
        html_text, hidden = _html_to_text(mail.text_html)
        html_text = _clean(html_text)
        hidden_text = _clean("\n".join(hidden))
        if hidden_text:
            found.removed.append(hidden_text)
            found.note("hidden-text-removed")
    if plain and html_text:
        plain_words, html_words = len(_words(plain)), len(_words(html_text))
        if plain_words <= 20 and html_words >= 3 * max(plain_words, 1) + 10:
            return "html", html_text
    if plain:
        return "body", plain
    return ("html", html_text) if html_text else ("body", "")


def _attachment_texts(mail: ParsedMail, found: _Found, budget: _Budget, max_inflated: int, depth: int) -> None:
    bounce = mail.content_type == "multipart/report"
    for attachment in mail.attachments:
        budget.check()
        kind = _kind(attachment)
        if kind == "zip":
            kind = "docx" if attachment.filename.lower().endswith((".docx", ".docm")) else _zip_kind(attachment.payload)
        if kind in ("ignore", "decoration"):
            continue
        if kind == "message":
            if bounce or depth >= _MAX_NESTED_MESSAGES:
                continue
            found.attachment_count += 1
            try:
                inner = _extract_inner(attachment.payload, budget, max_inflated, depth + 1)
            except LetterMissing:
                continue
            except MessageUnreadable as outcome:
                if outcome.reason in ("extract-time-exceeded", "attachment-too-large-inflated"):
                    raise
                found.failure = found.failure or outcome
                continue
            found.texts.append((inner.sources, inner.text))
            found.removed.append(inner.removed_text)
            found.note("forwarded")
            continue
        if kind == "unsupported":
            found.unsupported += 1
            continue
        found.attachment_count += 1
        try:
            if kind == "pdf":
                text = _pdf_text(attachment.payload, budget, max_inflated)
            elif kind == "docx":
                text = _docx_text(attachment.payload, budget, max_inflated)
            elif kind == "html":
                text, hidden = _html_to_text(_decode(attachment.payload))
                found.removed.extend(hidden)
            else:
                text = _decode(attachment.payload)
        except MessageUnreadable as outcome:
            if outcome.reason in ("extract-time-exceeded", "attachment-too-large-inflated"):
                raise
            if outcome.reason == "unsupported-attachment":
                found.unsupported += 1
            else:
                found.failure = found.failure or outcome
            continue
        text = _clean(text)
        if _words(text):
            found.texts.append(((kind,), text))


def _decode(data: bytes) -> str:
    from pipeline.parse import decode_text

    return decode_text(data, None)[0]


def _extract_inner(raw: bytes, budget: _Budget, max_inflated: int, depth: int) -> Letter:
    from pipeline.parse import parse

    inner = parse(raw)
    return _extract(inner, budget=budget, max_inflated=max_inflated, depth=depth)


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
    # Bulk and list mail (newsletters, digests) is not addressed to us as a letter.
    return mail.header("precedence").strip().lower() in ("auto_reply", "bulk", "list", "junk")


_BINARY_CHAR = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")


def _is_binary_noise(text: str) -> bool:
    """True for binary bytes sent as a text part: real text has almost no control characters."""
    if len(text) < 200:
        return False
    return len(_BINARY_CHAR.findall(text)) / len(text) > 0.05


def _extract(mail: ParsedMail, *, budget: _Budget, max_inflated: int, depth: int) -> Letter:
    if _is_machine_report(mail):
        raise LetterMissing("no-letter-found")
    found = _Found()
    source, body = _body(mail, found)
    budget.check()
    history = _strip_history(body, forward=bool(_FORWARD_SUBJECT.match(mail.subject)))
    for code in sorted(history.notes):
        found.note(code)
    removed_history = _clean("\n".join(history.removed))
    if removed_history:
        found.removed.append(removed_history)
    body = _clean("\n".join(line for line in history.kept if not _CLIENT_FOOTER.match(line)))

    _attachment_texts(mail, found, budget, max_inflated, depth)

    parts: list[tuple[tuple[str, ...], str]] = []
    if found.texts:
        if body and not _is_covering(body):
            parts.append(((source,), body))
        elif body:
            found.removed.append(body)
            found.note("covering-note-dropped")
        parts.extend(found.texts)
    elif body and _words(body):
        covering = _is_covering(body)
        if covering and found.failure is not None:
            raise found.failure
        if covering and found.unsupported:
            raise MessageUnreadable("unsupported-attachment")
        if found.failure is not None:
            found.note("attachment-unreadable")
        parts.append(((source,), body))
    else:
        if found.failure is not None:
            raise found.failure
        if found.unsupported:
            raise MessageUnreadable("unsupported-attachment")
        raise LetterMissing("no-letter-found")

    text = "\n\n".join(text for _, text in parts).strip()
    if not _words(text):
        raise LetterMissing("no-letter-found")
    _check_language(text)
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
) -> Letter:
    """Find the one letter text in ``mail`` (see the module docstring for the rules); ``clock``
    measures the time budget (injectable, so a test can run out of time without waiting)."""
    budget = _Budget(time_budget_seconds, clock)
    return _extract(mail, budget=budget, max_inflated=max_inflated_bytes, depth=0)
