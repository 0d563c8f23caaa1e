"""Attachments: what a file really is (magic bytes first), and the text of PDF and Word files.

Work is bounded: ``max_inflated`` caps zip members and PDF stream decompression, and the
:class:`Budget` (time) is checked between pages, sections and tables.
"""

from __future__ import annotations

import io
import logging
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.models import Attachment, IntakeOutcome, MessageUnreadable

# pypdf logs the first bytes of a file it cannot read ("invalid pdf header: b'Dear '") and
# other fragments of content: a letter must never reach the log, so its logger stays quiet.
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)

_TEXT_LAYER_MIN_CHARS = 20  # fewer word characters than this in a PDF: a scan, not text


class Budget:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.deadline = clock() + seconds

    def check(self) -> None:
        if self.clock() > self.deadline:
            raise MessageUnreadable("extract-time-exceeded")


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


def kind_of(attachment: Attachment) -> str:
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


def pdf_text(data: bytes, budget: Budget, max_inflated: int) -> str:
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


def _docx_blocks(container: object, budget: Budget) -> Iterator[str]:
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


def docx_text(data: bytes, budget: Budget, max_inflated: int) -> str:
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


def zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except Exception:  # noqa: BLE001
        return "docx"  # declared as Word but unreadable: reported as docx-corrupt
    if "word/document.xml" in names:
        return "docx"
    return "unsupported"  # .pages, .odt, .xlsx, plain archives
