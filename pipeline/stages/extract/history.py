"""What of a body is the writer's own text: covering notes, quoted reply history and forwards.

A body that is only a covering line ("Please find attached my letter" plus sign-off and signature)
yields to an attachment; a forwarded letter keeps the forwarded text and drops the forwarding header
block, and the forwarder's note above it unless it is substantive; replies drop quoted history
(``>`` lines, "On ... wrote:" and what follows it, Outlook's From/Sent block, "-----Original
Message-----"). What is dropped is returned too, so redaction still sees the names in it.

A reply whose own text is only a covering line ("Please see my letter below") keeps the letter it
quotes: :func:`quoted_letter` finds the first quoted message (under an attribution, an Outlook
header block or as ``>`` lines), unless it is our own mail (its header names one of our addresses,
or it carries a case reference: our acknowledgements always do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.patterns import CASE_REFERENCE_RE, COUNT_MORE
from pipeline.stages.extract.text import word_list

_NOTE_MIN_WORDS = 25  # a forwarder's note shorter than this is a covering note, not letter text
_COVERING_MAX_WORDS = 40  # a body this short that mentions an attachment is a covering line
_STUB_MAX_WORDS = 8  # a body this short never stands beside an attachment letter

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
    r"here is|here's|forward\w*|fyi|"
    # a reply that points to the letter it quotes: "resending my letter below", "as requested"
    r"below|re-?send\w*|sending (it|this|my letter) again|as requested|"
    r"(earlier|previous|original|last) (email|e-mail|message|letter))\b",
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
        short = len(word_list(line)) <= 6
        if short and _SIGN_OFF.match(line):
            break
        if short and not out and _GREETING.match(line) and index < 3:
            continue
        out.append(line)
    return out


def _content_words(text: str) -> int:
    return len(word_list(" ".join(_content_lines(text))))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_SHORT_SENTENCE_WORDS = 6  # "Apologies for the omission.", "Thanks so much!": no letter text


def only_covers(text: str) -> bool:
    """True when ``text`` says nothing beyond pointing to a letter ("Please see my letter below",
    "Thanks!"); a short line of its own ("8 more please, weekly") says something, and so does any
    sentence that is neither short nor a pointer ("I am requesting 8 further sessions, to finish the
    work I described below. The client agrees with this request.") or that asks for a count of more."""
    content = " ".join(_content_lines(text))
    if not word_list(content):
        return True
    if not (is_covering(text) and _COVERING_PHRASE.search(text)):
        return False
    if COUNT_MORE.search(content):
        return False
    sentences = [s for s in _SENTENCE_END.split(content) if s.strip()]
    return all(len(word_list(s)) <= _SHORT_SENTENCE_WORDS or _COVERING_PHRASE.search(s) for s in sentences)


def is_covering(text: str) -> bool:
    """True when ``text`` is only a covering note (greeting, a line or two, signature)."""
    count = _content_words(text)
    if count <= _STUB_MAX_WORDS:
        return True
    return count <= _COVERING_MAX_WORDS and bool(_COVERING_PHRASE.search(" ".join(_content_lines(text))))


_FORWARD_MARKER = re.compile(
    r"^\s*(-{2,}\s*forwarded message\s*-{2,}|begin forwarded message\s*:?|"
    r"-{2,}\s*original message\s*-{2,}|-{2,}\s*forwarded by\b.*)\s*$",
    re.I,
)
_EXPLICIT_FORWARD = re.compile(r"forward", re.I)
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,300}\b(wrote|writes)\s*:|.{0,300}(\d{1,2}:\d{2}|@).{0,300}\bwrote\s*:)\s*$", re.I
)
# In any language ("Il giorno ... <a@b.example> ha scritto:", "Le ... 10:02, X a écrit :"): a line that
# names an address or a time and ends in a colon, directly over quoted lines.
_ATTRIBUTION_ANY = re.compile(r"^.{0,300}(<[^<>\s]+@[^<>\s]+>|\b\d{1,2}:\d{2}\b).{0,300}:\s*$")
_HEADER_FIELD = re.compile(
    r"^\s*\**\s*(from|sent|date|to|cc|bcc|subject|reply-to|importance|attachments)\s*\**\s*:", re.I
)
# Client footers that are not part of anyone's signature and hold nothing identifying.
CLIENT_FOOTER = re.compile(
    r"^\s*(sent from my [\w ]{1,30}|sent from (mail|outlook) for \w+|get outlook for \w+( \w+)?|"
    r"sent from (yahoo mail|gmail mobile|proton ?mail)[\w ]{0,30}|sent via [\w ]{1,30} app)\s*\.?\s*$",
    re.I,
)
_RULE_LINE = re.compile(r"^\s*[_\-=]{8,}\s*$")
_QUOTED = re.compile(r"^\s*>")
FORWARD_SUBJECT = re.compile(r"^\s*(\[[^\]]*\]\s*)?(fwd?|fw|tr|wg|doorst)\s*(\[\d+\])?\s*:", re.I)


def _attribution_at(lines: list[str], index: int) -> int | None:
    """If a reply's attribution ("On ... wrote:") starts at ``index``, the index just after it. A
    quoted attribution ("> On ... wrote:") belongs to the quote it stands in, not to this level."""
    line = lines[index]
    if _QUOTED.match(line):
        return None
    if _ATTRIBUTION.match(line):
        return index + 1
    if (
        re.match(r"^\s*on\b", line, re.I)
        and index + 1 < len(lines)
        and re.search(r"\bwrote\s*:\s*$", lines[index + 1], re.I)
        and len(line) < 300
    ):
        return index + 2
    if _ATTRIBUTION_ANY.match(line):
        probe = index + 1
        while probe < len(lines) and not lines[probe].strip():
            probe += 1
        if probe < len(lines) and _QUOTED.match(lines[probe]):
            return index + 1
    return None


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


def strip_history(text: str, *, forward: bool, depth: int = 0) -> _History:
    """Split quoted and forwarded history off a body (see the module docstring)."""
    lines = text.split("\n")
    result = _History()
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _FORWARD_MARKER.match(line)
        outlook_end = None if marker else _outlook_block_at(lines, index)
        attribution_end = None if marker or outlook_end is not None else _attribution_at(lines, index)

        explicit_forward = bool(marker) and bool(_EXPLICIT_FORWARD.search(line))
        block = marker or outlook_end is not None or attribution_end is not None
        if block and (explicit_forward or (forward and attribution_end is None)) and depth < 5:
            # Forwarded letter: the note above it, then the forwarded message itself.
            note = "\n".join(result.kept)
            if _content_words(note) < _NOTE_MIN_WORDS or is_covering(note):
                result.removed.extend(result.kept)
                result.kept = []
            head = index + 1 if marker else (outlook_end if outlook_end is not None else index)
            tail = _unquote(lines[head:])
            after, subject = _skip_header_block(tail, 0)
            result.removed.extend(lines[index:head])
            result.removed.extend(tail[:after])
            rest = tail[after:]
            inner = strip_history("\n".join(rest), forward=bool(FORWARD_SUBJECT.match(subject)), depth=depth + 1)
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


def _quoted_region(lines: list[str], start: int) -> list[str]:
    """The '>'-quoted lines from ``start`` (blank lines inside kept), one level of quoting removed.

    An interleaved reply answers between the quoted lines: the writer's own lines there stand for a
    paragraph break and the quote goes on after them, up to the next message's attribution or header
    block (another quote of this level)."""
    out: list[str] = []
    pending = False  # the writer's own lines since the last quoted one
    for index in range(start, len(lines)):
        line = lines[index]
        if _QUOTED.match(line):
            if pending:
                out.append("")
                pending = False
            out.append(re.sub(r"^\s*> ?", "", line))
        elif not line.strip():
            out.append("")
        elif _FORWARD_MARKER.match(line) or _outlook_block_at(lines, index) is not None:
            break
        elif _attribution_at(lines, index) is not None:
            break
        else:
            pending = True
    while out and not out[-1].strip():
        out.pop()
    return out


def _first_quoted_message(lines: list[str]) -> tuple[list[str], list[str]] | None:
    """(header lines, message lines) of the first quoted message in a reply, or None."""
    for index, line in enumerate(lines):
        marker = _FORWARD_MARKER.match(line)
        outlook = None if marker else _outlook_block_at(lines, index)
        attribution_end = None if marker or outlook is not None else _attribution_at(lines, index)
        if attribution_end is not None:
            probe = attribution_end
            while probe < len(lines) and not lines[probe].strip():
                probe += 1
            if probe < len(lines) and _QUOTED.match(lines[probe]):
                return lines[index:attribution_end], _quoted_region(lines, probe)
            return lines[index:attribution_end], lines[probe:]
        if marker or outlook is not None:
            head = index + 1 if marker else outlook
            assert head is not None
            after, _subject = _skip_header_block(lines, head)
            return lines[index:after], _unquote(lines[after:])
        if _QUOTED.match(line):
            region = _quoted_region(lines, index)
            # an attribution at the top of the quote (Thunderbird quotes it with the message) or a
            # header block belongs to the header
            top = next((i for i, text in enumerate(region) if text.strip()), None)
            if top is None:  # quote marks with nothing quoted (">" alone)
                return None
            if _ATTRIBUTION.match(region[top]) or _ATTRIBUTION_ANY.match(region[top]):
                # the message under it may be quoted one level deeper still ("> On ... wrote:" over
                # ">> Hello")
                return region[: top + 1], _unquote(region[top + 1 :])
            after, _subject = _skip_header_block(region, 0)
            return region[:after], region[after:]
    return None


_MAX_QUOTE_DEPTH = 8  # quoted messages read inside one another, at most


@dataclass(frozen=True)
class QuotedMessage:
    """One message quoted in a reply, at any depth: who wrote it (its attribution or From line,
    lower-cased), its own text (its own quoted history set aside) and the rest (header, history)."""

    author: str
    text: str
    rest: str


def quoted_messages(text: str) -> list[QuotedMessage]:
    """Every message a reply quotes, newest first: the first quoted message, then the one it quotes
    in turn, and so on (">", "> >", ">>", "On ... wrote:" chains, Outlook header blocks)."""
    found: list[QuotedMessage] = []
    lines = text.split("\n")
    for _ in range(_MAX_QUOTE_DEPTH):
        quoted = _first_quoted_message(lines)
        if quoted is None:
            break
        header, message = quoted
        authors = [h for h in header if _ATTRIBUTION.match(h) or _ATTRIBUTION_ANY.match(h) or _FROM_LINE.match(h)]
        own = strip_history("\n".join(message), forward=False, depth=1)
        found.append(
            QuotedMessage(
                author="\n".join(authors).lower(),
                text="\n".join(own.kept).strip(),
                rest="\n".join([*header, *own.removed]),
            )
        )
        lines = message
    return found


_FROM_LINE = re.compile(r"^\s*\**\s*from\s*\**\s*:", re.I)


def _is_ours(message: QuotedMessage, own_addresses: tuple[str, ...]) -> bool:
    """Our own mail: its author is one of ``own_addresses`` or at their domain, or it carries a case
    reference (our acknowledgements always do)."""
    domains = {a.lower().rpartition("@")[2] for a in own_addresses if "@" in a}
    if any(a.lower() in message.author for a in own_addresses) or any(d and d in message.author for d in domains):
        return True
    return bool(CASE_REFERENCE_RE.search(message.text))


def _by_sender(message: QuotedMessage, senders: tuple[tuple[str, str], ...]) -> bool:
    """The message's author is the one who sent the reply: one of their addresses, or their display
    name (two of its words, or its only word, in the attribution or From line)."""
    for name, address in senders:
        if address and address.lower() in message.author:
            return True
        words = [w for w in word_list(name.lower()) if len(w) >= 3]
        author_words = set(word_list(message.author))
        if words and sum(w in author_words for w in words) >= min(2, len(words)):
            return True
    return False


def senders_quoted_text(
    text: str, *, senders: tuple[tuple[str, str], ...], own_addresses: tuple[str, ...]
) -> list[str]:
    """The sender's own earlier writing that a reply quotes, at any depth ("On ..., <the sender>
    wrote:" under our quoted question), newest first.

    ``senders`` are the reply's (display name, address) pairs: From and Reply-To. A quoted message is
    kept only when its author is the sender and it is not our own (``own_addresses``, a case
    reference); our quoted mail and anyone else's stay out of the letter. A quoted covering line
    ("see attached") is no letter text."""
    kept: list[str] = []
    for message in quoted_messages(text):
        if _is_ours(message, own_addresses) or not _by_sender(message, senders):
            continue
        if word_list(message.text) and not is_covering(message.text) and message.text not in kept:
            kept.append(message.text)
    return kept


def quoted_letter(text: str, *, own_addresses: tuple[str, ...]) -> tuple[str, str] | None:
    """The letter a reply quotes, when the reply's own text is only a covering line.

    Returns (letter text, header text) - the header goes to the removed text - or None when there is
    no quoted message, or it is our own (its author, the attribution or From line, is one of
    ``own_addresses`` or at their domain; or it carries a case reference), or it holds no text of
    its own once its own history is dropped.
    """
    messages = quoted_messages(text)
    if not messages:
        return None
    first = messages[0]
    if _is_ours(first, own_addresses):
        return None
    letter = first.text
    if not word_list(letter) or is_covering(letter):
        return None
    return letter, first.rest
