"""Stage 1: raw RFC 5322 bytes -> :class:`~pipeline.models.ParsedMail`.

Contract
--------
``parse(raw)`` returns a ``ParsedMail`` with decoded headers (RFC 2047 encoded words, raw
8-bit headers, RFC 2231 filenames), the plain and HTML bodies, the attachments (decoded
payload bytes, in order of appearance) and the parser's defects as fixed codes. It raises
only :class:`~pipeline.models.MessageUnreadable` with one of these reasons:

``empty-message``       no bytes at all
``header-too-large``    a header block (top level or MIME part) over 8 x ``max_header_bytes``
``too-many-parts``      more than ``max_parts`` MIME parts
``nesting-too-deep``    multipart / message nesting deeper than ``max_depth``
``mime-unparseable``    mail-parser (or the standard library under it) raised

A cheap line scan runs *before* mail-parser so that a hostile message (thousands of parts,
1,000-level nesting, a 200 KB header line) is refused in linear time instead of being fed
to a recursive parser. A single header line over ``max_header_bytes`` is truncated to that
length (defect ``HeaderLineTruncated``): one runaway trace header must not block a valid
letter. A header block that is too large as a whole is refused.

mail-parser is the primary parser: it builds the message tree, decodes encoded words and
addresses and reports defects. Body text is re-decoded here from the part's bytes
(declared charset strictly, with UTF-8 preferred when the bytes are valid UTF-8 and
Windows-1252 for ISO-8859-1 labels) because mail-parser falls back to replacement
characters, and attachment payloads are taken as decoded bytes from the same tree.

Nothing here logs or raises a value from the message. mail-parser logs header values at
debug/error level, so its logger is silenced below.
"""

from __future__ import annotations

import logging
import re
from email.header import decode_header, make_header
from email.message import Message
from types import MappingProxyType

import mailparser
from mailparser.utils import decode_header_part, mime_header_view

from pipeline.models import Address, Attachment, MessageUnreadable, ParsedMail

# mail-parser logs header values and filenames (e.g. "Failed decoding header part: <value>"):
# that would put a client's name in the worker log. Nothing it says is needed here.
logging.getLogger("mailparser").setLevel(logging.CRITICAL + 1)

__all__ = ["parse", "decode_text"]

_STAGE = "parse"
_HEADER_BLOCK_FACTOR = 8  # a header block may hold this many maximum-length lines

_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.ASCII)
_BOUNDARY_PARAM = re.compile(rb"""boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))""", re.IGNORECASE)
_CONTENT_TYPE_VALUE = re.compile(rb"^\s*([a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+)", re.IGNORECASE)

# Parts under these containers are never bodies: a bounce's returned message or headers,
# and the machine-readable report itself.
_NON_BODY_CHILDREN_OF = {"multipart/report"}

_ENCODINGS_ALIASES = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "iso_8859-1", "us-ascii", "ascii"}


# --------------------------------------------------------------------------- pre-scan


def _header_content_type(block: list[bytes]) -> tuple[str, bytes | None]:
    """Content type and boundary of one header block (lines already without line ends)."""
    value: list[bytes] = []
    collecting = False
    for line in block:
        if line[:1] in (b" ", b"\t"):
            if collecting:
                value.append(line)
            continue
        if collecting:
            break
        if line[:13].lower() == b"content-type:":
            collecting = True
            value.append(line[13:])
    if not value:
        return "", None
    joined = b" ".join(v.strip() for v in value)
    match = _CONTENT_TYPE_VALUE.match(joined)
    ctype = match.group(1).decode("ascii").lower() if match else ""
    boundary = None
    if ctype.startswith("multipart/"):
        bmatch = _BOUNDARY_PARAM.search(joined)
        if bmatch:
            boundary = (bmatch.group(1) if bmatch.group(1) is not None else bmatch.group(2)).rstrip()
            if not boundary:
                boundary = None
    return ctype, boundary


def _prescan(raw: bytes, *, max_header_bytes: int, max_parts: int, max_depth: int) -> list[tuple[int, int]]:
    """Refuse hostile structure in one linear pass over the lines.

    Follows the MIME tree the way the standard library's feed parser does: a header block,
    then either a multipart body (delimiter lines of a boundary on the stack), a nested
    ``message/*`` (another header block), or an opaque leaf body.

    Returns the (offset, length) of header lines longer than ``max_header_bytes``: they are
    truncated, not refused, because one runaway trace header should not block a letter. A
    whole header block over ``_HEADER_BLOCK_FACTOR`` times that size is refused.
    """
    long_lines: list[tuple[int, int]] = []
    offset = 0
    block_limit = max_header_bytes * _HEADER_BLOCK_FACTOR
    # Each frame is the boundary of an open multipart, or None for a message/rfc822 level.
    stack: list[bytes | None] = []
    in_headers = True
    block: list[bytes] = []
    block_bytes = 0
    parts = 0

    for line in raw.split(b"\n"):
        line_start = offset
        offset += len(line) + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if in_headers:
            if line == b"":
                in_headers = _end_block(block, stack, max_depth)
                block, block_bytes = [], 0
                continue
            if _is_header_line(line):
                if len(line) > max_header_bytes:
                    long_lines.append((line_start, len(line)))
                block_bytes += min(len(line), max_header_bytes) + 1
                if block_bytes > block_limit:
                    raise MessageUnreadable("header-too-large", stage=_STAGE)
                block.append(line)
                continue
            # Not a header line: the standard library starts the body here, with this line.
            in_headers = _end_block(block, stack, max_depth)
            block, block_bytes = [], 0
            if in_headers:
                continue
        if line[:2] != b"--" or not stack:
            continue
        if _delimiter(stack, line):
            parts += 1
            if parts > max_parts:
                raise MessageUnreadable("too-many-parts", stage=_STAGE)
            in_headers = True
            block, block_bytes = [], 0
    return long_lines


def _end_block(block: list[bytes], stack: list[bytes | None], max_depth: int) -> bool:
    """Close a header block: open its multipart or nested message; True when another header block
    follows (a ``message/*`` body starts with its own headers)."""
    ctype, boundary = _header_content_type(block)
    nested_message = ctype in ("message/rfc822", "message/global")
    if boundary is not None:
        stack.append(boundary)
    elif nested_message:
        stack.append(None)
    if len(stack) > max_depth:
        raise MessageUnreadable("nesting-too-deep", stage=_STAGE)
    return nested_message


def _is_header_line(line: bytes) -> bool:
    """A header field, its continuation, or an mbox "From " line (as the feed parser reads them)."""
    return line[:1] in (b" ", b"\t") or line.startswith(b"From ") or _HEADER_LINE.match(line) is not None


def _delimiter(stack: list[bytes | None], line: bytes) -> bool | None:
    """A delimiter of an open multipart: True for a part's start (inner levels closed), False for a
    close delimiter (that multipart popped), None for any other line."""
    stripped = line.rstrip(b" \t")
    for index in range(len(stack) - 1, -1, -1):
        boundary = stack[index]
        if boundary is None:
            continue
        delimiter = b"--" + boundary
        if stripped == delimiter:
            del stack[index + 1 :]
            return True
        if stripped == delimiter + b"--":
            del stack[index:]
            return False
    return None


def _truncate_lines(raw: bytes, spans: list[tuple[int, int]], keep: int) -> bytes:
    pieces: list[bytes] = []
    position = 0
    for start, length in spans:
        pieces.append(raw[position : start + keep])
        position = start + length
    pieces.append(raw[position:])
    return b"".join(pieces)


# --------------------------------------------------------------------------- decoding

_C1_OR_UNDEFINED = re.compile("[\x80-\x9f]")


def decode_text(data: bytes, declared: str | None) -> tuple[str, bool]:
    """Decode body bytes without mojibake; return (text, fallback_used).

    Order: valid UTF-8 wins whenever the bytes contain non-ASCII (a chance UTF-8 sequence
    in Latin-1 text is vanishingly rare, while mislabelled UTF-8 is common); then the
    declared charset strictly (ISO-8859-1 read as Windows-1252, as browsers do, so smart
    quotes survive); then Windows-1252; then Latin-1, which cannot fail.
    """
    if not data:
        return "", False
    if data.isascii():
        return data.decode("ascii"), False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    charset = (declared or "").strip().strip("\"'").lower()
    if charset in _ENCODINGS_ALIASES:
        charset = "cp1252"
    fallback = True
    if charset and charset not in ("utf-8", "utf8", "unknown-8bit", "x-unknown"):
        try:
            text = data.decode(charset)
            text.encode("utf-8")
            return text, False
        except (LookupError, UnicodeError, ValueError):
            pass
    for candidate in ("cp1252", "latin-1"):
        try:
            return data.decode(candidate), fallback
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1", "replace"), fallback  # pragma: no cover - latin-1 never fails


def _decode_header_value(value: object) -> str:
    """Decode one header value: raw 8-bit bytes, then RFC 2047 encoded words."""
    if isinstance(value, str):
        text = value
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            text, _ = decode_text(text.encode("ascii", "surrogateescape"), None)
    else:
        text = str(decode_header_part(value))
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except Exception:  # noqa: BLE001 - malformed encoded words: fall back to mail-parser's view
            text = str(decode_header_part(text))
    return " ".join(text.replace("\x00", "").split())


def _addresses(pairs: object) -> tuple[Address, ...]:
    out = []
    if isinstance(pairs, list):
        for pair in pairs:
            if isinstance(pair, tuple) and len(pair) == 2:
                name, email = pair
                out.append(Address(name=_clean_header_text(str(name)), email=str(email).strip()))
    return tuple(out)


def _clean_header_text(text: str) -> str:
    return " ".join(text.replace("\x00", "").split())


def _part_filename(part: Message) -> str:
    try:
        metadata, _ = mime_header_view(part)
        name = metadata.get_filename()
    except Exception:  # noqa: BLE001 - broken parameters: treat as unnamed
        return ""
    if not name:
        return ""
    try:
        return _clean_header_text(str(decode_header_part(name)))
    except Exception:  # noqa: BLE001
        return _clean_header_text(str(name))


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken transfer encoding: no usable bytes
        return b""
    return payload if isinstance(payload, bytes) else b""


def _message_bytes(part: Message) -> bytes:
    """Bytes of an attached ``message/rfc822`` so extract can parse it as a message."""
    try:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return bytes(inner[0].as_bytes())
        if isinstance(inner, str):
            return inner.encode("utf-8", "surrogateescape")
    except Exception:  # noqa: BLE001 - unserialisable inner message: nothing to read
        return b""
    return b""


class _Walk:
    """Split mail-parser's message tree into bodies and attachments, in order."""

    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.defects: set[str] = set()

    def visit(self, part: Message, *, in_attachment: bool, non_body: bool) -> None:
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _part_filename(part)

        if part.is_multipart():
            if ctype.startswith("message/") and ctype not in ("message/delivery-status",):
                # An attached (or bounced) message travels as one attachment so that
                # extract can read it as a message of its own.
                if disposition == "attachment" or filename or in_attachment or non_body:
                    if not in_attachment:
                        payload = _message_bytes(part)
                        self.attachments.append(
                            Attachment(
                                filename=filename,
                                content_type=ctype,
                                size=len(payload),
                                payload=payload,
                            )
                        )
                    return
            children = part.get_payload()
            if not isinstance(children, list):
                return
            blocks = in_attachment or disposition == "attachment"
            report = ctype in _NON_BODY_CHILDREN_OF
            for index, child in enumerate(children):
                if isinstance(child, Message):
                    # The first part of a report is its human-readable text.
                    self.visit(child, in_attachment=blocks, non_body=non_body or (report and index > 0))
            return

        if in_attachment:
            return
        content_id = part.get("content-id")
        is_text = ctype in ("text/plain", "text/html")
        is_attachment = bool(filename) or disposition == "attachment" or (content_id and not is_text)
        is_attachment = is_attachment or not is_text or non_body
        if is_attachment:
            payload = _payload_bytes(part)
            self.attachments.append(
                Attachment(filename=filename, content_type=ctype, size=len(payload), payload=payload)
            )
            return
        text, fallback = decode_text(_payload_bytes(part), part.get_content_charset())
        if fallback:
            self.defects.add("CharsetFallback")
        if not text:
            return
        (self.html if ctype == "text/html" else self.plain).append(text)


def _join_bodies(bodies: list[str]) -> str:
    return "\n\n".join(b for b in bodies if b.strip())


def parse(
    raw: bytes,
    *,
    max_header_bytes: int = 64 * 1024,
    max_parts: int = 500,
    max_depth: int = 20,
) -> ParsedMail:
    """Parse raw message bytes into a :class:`ParsedMail` (see the module docstring)."""
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise TypeError("parse() takes the raw message as bytes")
    if not raw.strip():
        raise MessageUnreadable("empty-message", stage=_STAGE)
    long_lines = _prescan(raw, max_header_bytes=max_header_bytes, max_parts=max_parts, max_depth=max_depth)
    if long_lines:
        raw = _truncate_lines(raw, long_lines, max_header_bytes)

    try:
        mp = mailparser.parse_from_bytes(raw)
        message = mp.message
        if message is None:
            raise MessageUnreadable("mime-unparseable", stage=_STAGE)

        headers: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            headers.setdefault(str(name).lower().strip(), []).append(_decode_header_value(value))

        walk = _Walk()
        walk.visit(message, in_attachment=False, non_body=False)

        defects = set(mp.defects_categories) | walk.defects
        if long_lines:
            defects.add("HeaderLineTruncated")
        references = tuple(ref for value in headers.get("references", ()) for ref in re.findall(r"<[^<>\s]+>", value))
        sender = _addresses(mp.from_)
        return ParsedMail(
            message_id=_first(headers, "message-id"),
            subject=_first(headers, "subject"),
            sender=sender[0] if sender else Address(),
            to=_addresses(mp.to),
            cc=_addresses(mp.cc),
            reply_to=_addresses(mp.reply_to),
            in_reply_to=_first(headers, "in-reply-to"),
            references=references,
            headers=MappingProxyType({k: tuple(v) for k, v in headers.items()}),
            content_type=message.get_content_type(),
            text_plain=_join_bodies(walk.plain),
            text_html=_join_bodies(walk.html),
            attachments=tuple(walk.attachments),
            defects=tuple(sorted(defects)),
        )
    except MessageUnreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is an outcome, never a crash
        raise MessageUnreadable("mime-unparseable", stage=_STAGE) from exc


def _first(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name, [])
    return values[0] if values else ""
