"""Known identifiers: names, addresses and numbers seeded from the message itself.

Contract: :func:`seed_identifiers` reads the parsed mail (From/To/Cc/Reply-To display names and
addresses, the subject) and the letter (its text and the text extraction removed, such as quoted
history) and returns the :class:`~pipeline.models.KnownIdentifiers` that redaction removes wherever
they recur. Names come with full-name, first-name and surname variants; our own intake addresses and
allow-listed vocabulary ("Dear Plumm team") are never identifiers. Pure function: no model run, no
logging of values.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.models import Address, KnownIdentifiers, Letter, ParsedMail
from pipeline.rules import DEFAULT_RULES_DIR
from pipeline.stages.name_words import LOWER as _LOWER
from pipeline.stages.name_words import LOWER_APPOSITION, joined_names, lower_apposition
from pipeline.stages.name_words import MUTATED as _MUTATED
from pipeline.stages.name_words import NAME_RUN as _NAME_RUN
from pipeline.stages.name_words import PARTICLE as _PARTICLE
from pipeline.stages.name_words import WORD as _WORD
from pipeline.stages.name_words import ordinary as _ordinary
from pipeline.stages.name_words import plainly_ordinary as _plainly_ordinary
from pipeline.stages.redaction.recognizers.email import EmailRecognizer
from pipeline.stages.redaction.rules import load_redaction_rules
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, common_words, fold

_CLOSINGS = re.compile(
    r"^\s*(?:kind(?:est)?\s+regards|best\s+regards|warm(?:est)?\s+regards|with\s+(?:best|kind|warm)\s+"
    r"(?:regards|wishes)|best\s+wishes|all\s+the\s+best|many\s+thanks|with\s+thanks|thanks(?:\s+again)?|"
    r"thank\s+you|yours\s+sincerely|yours\s+faithfully|yours\s+truly|yours|sincerely|regards|best|"
    r"cheers|warmly|take\s+care|respectfully|ta|thx)\s*[,.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_TITLE = "\x00title\x00"  # where _text_triggers puts the rules' titles before a name
_TEXT_TRIGGERS = (
    rf"(?:^[ \t>]*Dear[ \t]+|\b(?:my|our|the|this|your)[ \t]+(?:client|patient|service[ \t]+user|supervisee)"
    rf"[ \t]*,?[ \t]*|\b(?:client|patient|service[ \t]+user)(?:'s)?[ \t]+(?:full[ \t]+)?(?:name|initials)?"
    rf"[ \t]*[:\-][ \t]*|^[ \t>]*(?:re|regarding|name|full[ \t]+name|client|patient|subject)[ \t]*:[ \t]*"
    rf"(?:(?:re|fw|fwd)[ \t]*:[ \t]*)*|\b(?:(?:referral|letter|sessions|support|request)[ \t]+(?:for|regarding|re)|"
    rf"writing[ \t]+re)[ \t]+|\b(?:named|called|known[ \t]+as|goes[ \t]+by)[ \t]+|\b{_TITLE}\.?[ \t]+)"
    rf"(?:[A-Z]\.?[ \t]+)?"
    rf"(?:{_TITLE}\.?[ \t]+)?(?P<name>{_NAME_RUN})"
)


@lru_cache(maxsize=4)
def _text_triggers(vocab: Vocabulary) -> re.Pattern[str]:
    """The cues a name follows, with the rules' titles before a name ("Dr", "Mrs", "Sra", "Ing"):
    a title that is also a word or short form ("Miss", "Fr", "HR") only as written, or in capitals
    before a name in capitals ("RE: MISS ...", not "HR Business Partner"); any other in any case."""
    loose = [t for t in vocab.name_titles_as_written if t.casefold() not in vocab.ambiguous_titles]
    strict = [t for t in vocab.name_titles_as_written if t.casefold() in vocab.ambiguous_titles]
    alternatives = [re.escape(t) for t in sorted(loose, key=len, reverse=True)]
    alternatives += [
        rf"(?-i:{re.escape(t)}|{re.escape(t.upper())}(?=\.?[ \t]+[A-Z]{{2,}}(?![\w'\u2019\-]*[a-z])))"
        for t in sorted(strict, key=len, reverse=True)
    ]
    titles = "(?:" + "|".join(alternatives) + ")"
    return re.compile(_TEXT_TRIGGERS.replace(_TITLE, titles), re.MULTILINE | re.IGNORECASE)


# The rest of a name after a line break inside running prose: a capitalised word that goes on with
# the sentence (punctuation, a bracket or a lower-case word), not a heading or a labelled line.
_WRAPPED_NAME_TAIL = re.compile(
    rf"[ \t]*\n[ \t]*(?P<tail>{_WORD}(?:[ \t]+{_WORD})?)(?=[ \t]*[,(;.]|[ \t]+(?:[a-z]|\())"
)
_PROSE_TRIGGER = re.compile(
    r"(?i:\b(?:my|our|the|this|your)[ \t]+(?:client|patient|service[ \t]+user|supervisee)|"
    r"\b(?:referral|letter|sessions|support|request)[ \t]+(?:for|regarding))[ \t]*,?[ \t]*$"
)
_NICKNAME = re.compile(
    rf"(?P<before>{_WORD})[ \t]*\([ \t]*[\"\u201c'\u2018]?(?:known[ \t]+as[ \t]+|prefers[ \t]+|aka[ \t]+)?"
    rf"[\"\u201c'\u2018]?"
    rf"(?P<name>{_WORD}?)[\"\u201d'\u2019]?[ \t]*\)"
)
# A name said to be what people call the client: "Deco (as his friends call him)", "Seun (as he prefers
# to be called)", "known as Tash", "goes by Ife", "nicknamed Bubbles", "prefers to be called Jas".
_CALLED_NICKNAME = re.compile(
    rf"(?P<before>{_WORD})[ \t]*\([ \t]*as[ \t]+(?:[a-z']+[ \t]+){{0,4}}"
    rf"(?:(?:call|calls|called|know|knows)[ \t]+(?:him|her|them)\b|(?:called|known)[ \t]*\))"
    rf"|\b(?:known[ \t]+as|goes[ \t]+by|go[ \t]+by|nicknamed|prefers[ \t]+to[ \t]+be[ \t]+called)"
    rf"[ \t]+[\"\u201c'\u2018]?(?P<after>{_WORD})"
)
# A name in brackets said to be what a circle of people call the one just named: ("Pepe" to his
# family), (Zé Miguel for friends), ("Ti-Jean" to everyone at the depot). The word before the bracket
# is a name too when no ordinary word ("Réjean (...)").
_CIRCLE_NICKNAME = re.compile(
    rf"(?P<before>{_WORD})?[ \t]*\([ \t]*[\"\u201c'\u2018]?(?P<nick>{_WORD}(?:[ \t]+{_WORD}){{0,2}})"
    rf"[\"\u201d'\u2019]?\s+(?:to|for|with|among|amongst|at|by)\s+(?:[\w'\u2019\-]+\s+){{0,4}}?"
    r"(?:friends|family|everyone|everybody|colleagues|work|mates|people|pals|home|team|crew|relatives|"
    r"loved[ \t]+ones|those[ \t]+close|all)\b[^()\n]{0,30}\)"
)
# A given name, then the title and surname in brackets: "Euan (Mr Petrie, DOB ...)".
_NAME_THEN_TITLED = rf"(?P<first>{_WORD})[ \t]*\([ \t]*{_TITLE}\.?[ \t]+(?P<last>{_WORD})"


@lru_cache(maxsize=4)
def _name_then_titled(vocab: Vocabulary) -> re.Pattern[str]:
    titles = "|".join(re.escape(t) for t in sorted(vocab.name_titles_as_written, key=len, reverse=True))
    return re.compile(_NAME_THEN_TITLED.replace(_TITLE, f"(?:{titles})"))


# A nickname in quotes inside or after a full name: Oluwadamilare "Dami" Ogunbanjo, Harriet Lyle ("Hattie").
_QUOTED_NICKNAME = re.compile(
    rf"(?P<first>{_WORD})[ \t]+[\"\u201c\u2018](?P<nick>{_WORD}?)[\"\u201d\u2019][ \t]+(?P<last>{_WORD})"
)
# A name in apposition to a relation: "Faith, their eldest daughter,", "Tom (her husband)".
_APPOSITIVE_RELATIVE = re.compile(
    rf"(?P<name>{_WORD})[ \t]*[,(][ \t]*"
    rf"(?:her|his|their|my|the[ \t]+client's|the[ \t]+client\u2019s|whose|xyr|zir|hir)"
    rf"[ \t]+(?:[a-z\-]+[ \t]+){{0,2}}?(?:husband|wife|partner|spouse|son|daughter|child|mother|father|"
    rf"mum|dad|brother|sister|boyfriend|girlfriend|fianc[\u00e9e]e?|manager|boss|grandmother|grandfather|"
    rf"aunt|uncle|cousin|"
    rf"niece|nephew|stepfather|stepmother|stepson|stepdaughter|carer|GP|twin|baby)\b"
)
# After an explicit client trigger a careless writer may type the name in lower case ("my client
# sarah jones who..."). Accepted only when no word is ordinary English.
_LOWER_TRIGGER = re.compile(
    r"(?i:\b(?:(?:my|our|the|this)[ \t]+(?:client|patient|service[ \t]+user)|"
    r"writing[ \t]+(?:for|about|regarding|re|on[ \t]+behalf[ \t]+of)|"
    r"(?:referral|letter|sessions|support|request)[ \t]+(?:for|regarding|about|re)|"
    r"named|called|known[ \t]+as|goes[ \t]+by))[ \t]*,?[ \t]+"
    rf"(?P<name>[{_LOWER}][{_LOWER}'\u2019\-]+(?:[ \t]+[{_LOWER}][{_LOWER}'\u2019\-]+){{0,2}})"
)
# Labelled lines ("re: kwame asante") and greetings ("dear sam,"), matched separately so a greeting
# does not swallow the "my client x" that follows it.
_LOWER_LINE_TRIGGER = re.compile(
    r"^[ \t>]*(?:(?i:client|patient|name|full[ \t]+name|re|regarding)[ \t]*[:\-][ \t]*|(?i:re|regarding)[ \t]+|"
    r"(?P<greeting>(?i:dear|hi|hello)\b,?[ \t]+))"
    rf"(?P<name>[{_LOWER}][{_LOWER}'\u2019\-]+(?:[ \t]+[{_LOWER}][{_LOWER}'\u2019\-]+){{0,2}})"
    # A greeting's name ends the greeting ("hi kate,", "dear sam"): "Hi, pls approve 5 more" is no name.
    r"(?(greeting)(?=[ \t]*(?:[,!.:;\-\u2013]|$)))",
    re.MULTILINE,
)
# A lower-case nickname in brackets right after a lower-case name a trigger gave: "re sam doe (sammy)".
_LOWER_BRACKETED = re.compile(
    rf"[ \t]*\([ \t]*[\"\u201c'\u2018]?(?P<nick>[{_LOWER}][{_LOWER}'\u2019\-]+)[\"\u201d'\u2019]?[ \t]*\)"
)
# Initials standing for the client: "Client J.K.", "Re: A. B.", "my client, JK,".
_INITIALS_TRIGGER = re.compile(
    r"(?i:\b(?:client|patient|service[ \t]+user|re|regarding|about|for|employee|staff[ \t]+member))"
    r"[ \t]*[:,\-]?[ \t]*(?P<initials>(?:[A-Z]\.[ \t]?){2,3})"
    r"|(?i:\b(?:client|patient|service[ \t]+user|re|regarding))[ \t]*[:,\-]?[ \t]*"
    r"(?P<bare>[A-Z]{2,3})(?=[ \t]*[,.)(:;\-]|[ \t]+(?:has|is|was|had|reports|attended)\b)"
)
_MONTH_OR_DAY = re.compile(
    r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|"
    r"september|october|november|december|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|final|draft|signed|scan|copy|update|v\d*)"
)
_FILENAME_SPLIT = re.compile(r"[\s_\-+.,()\[\]]+")
_RELATIVES = re.compile(
    r"\b(?:husband|wife|partner|spouse|son|daughter|mother|father|mum|dad|brother|sister|boyfriend|"
    r"girlfriend|fianc[ée]e?|friend|colleague|manager|boss|grandmother|grandfather|aunt|uncle|cousin|"
    r"niece|nephew|child|stepfather|stepmother|flatmate|housemate|carer|supervisor)[ \t]*,?[ \t]+"
    rf"(?P<name>{_NAME_RUN})"
)
_LABELLED_VALUES = re.compile(
    r"^[ \t>*\-]*(?:d\.?o\.?b\.?|date[ \t]+of[ \t]+birth|nhs[ \t]+(?:no|number)|ni[ \t]+(?:no|number)|"
    r"national[ \t]+insurance(?:[ \t]+number)?|employer|company|organisation|organization|address|"
    r"home[ \t]+address|employee[ \t]+(?:id|number|no)|staff[ \t]+(?:id|number|no)|postcode|phone|tel|"
    r"telephone|mobile|mob)\.?[ \t]*[:\-][ \t]*(?P<value>[^\n]{2,80})$",
    re.IGNORECASE | re.MULTILINE,
)
# Name fields of a details table or form, often with no colon once the cells are flattened to text:
# "Surname SMITH", "Forename(s) Anna Marie", "Known as Annie", "Preferred name: Jo", "Client surname: X".
_NAME_FIELD = re.compile(
    r"^[ \t>*\-]*(?i:(?:(?:client|patient)(?:'s)?[ \t]+)?"
    r"(?:sur|family[ \t]+|last[ \t]+|first[ \t]+|fore|given[ \t]+|middle[ \t]+|"
    r"preferred[ \t]+|maiden[ \t]+|client[ \t]+|patient[ \t]+|full[ \t]+)name(?:s|\(s\))?|known[ \t]+as|"
    # A bare "Client" or "Patient" label of a flattened table: its value stands a cell gap away.
    r"(?:client|patient)(?=\t|[ \t]{3,}))"
    rf"[ \t]*[:\-]?[ \t]+(?P<name>{_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|\([^()\n]{{1,30}}\)[ \t]+)?{_WORD}){{0,3}})"
    r"[ \t]*$",
    re.MULTILINE,
)
# A full name after a verb of treatment, without any "my client": "I have been working with Jane Doe",
# "I have been seeing Jane Doe since May". Case-sensitive; both words must be name-like.
_TREATING = re.compile(
    r"\b(?:working|worked|work|seeing|seen|treating|treated|supporting|supported)[ \t]+(?:with[ \t]+)?"
    rf"(?P<name>{_WORD}[ \t]+{_WORD})(?![\w'\u2019\-])"
)
# A full name after "about", "regarding", "concerning" ("thanks for getting in touch about Hope
# Lindgren"): case-sensitive; the last word must be no word of English (a surname), so an ordinary-word
# first name ("Hope", "Will") counts when a surname stands beside it.
_ABOUT = re.compile(
    rf"\b(?:about|regarding|concerning|on[ \t]+behalf[ \t]+of)[ \t]+(?P<name>{_WORD}[ \t]+{_WORD})(?![\w'\u2019\-])"
)
_ANY_LABEL = re.compile(r"^[A-Za-z][A-Za-z .]{0,24}:[ \t]*(?P<value>\S.*)$")
_VALUE_GAP = re.compile(r"[ \t]{3,}|\t+|[ \t]+\|[ \t]+")
_PHONE = re.compile(
    r"(?<![\w])\+?\(?\d[\d \t\-()]{8,16}\d(?!\w)(?:[ \t]*,?[ \t]*(?:ext(?:ension)?\.?|x)[ \t]*\d{1,5}(?!\d))?"
)
_LONG_NUMBER = re.compile(r"(?<![\w])(?:[A-Z]{1,4}[ \t]?)?\d{5,}(?!\w)")
_EMAIL = re.compile(EmailRecognizer.PATTERN)
_ANGLE_ADDRESS = re.compile(rf"(?P<name>{_NAME_RUN})[ \t]*[<\[](?:mailto:)?(?P<email>[^>\]\s]+@[^>\]\s]+)[>\]]")
_GENERIC_LOCAL = frozenset(
    "info admin hello contact office reception enquiries enquiry clinic therapy counselling counseling "
    "team mail noreply no-reply support practice hr help the and referrals referral bookings booking "
    "appointments accounts secretary manager mailbox inbox admin1 postmaster service services".split()
)


_OBFUSCATED_EMAIL = re.compile(EmailRecognizer.OBFUSCATED, re.IGNORECASE)
# Mail providers and other domains that name no practice or employer.
_GENERIC_DOMAINS = frozenset(
    "gmail googlemail outlook hotmail live msn yahoo ymail icloud me mac aol btinternet btmail bt sky "
    "virginmedia talktalk protonmail proton pm fastmail mailbox postbox zoho gmx mail email nhs nhsmail "
    "localhost example heyplumm onmicrosoft office365 tutanota hey posteo web".split()
)
# Words a practice's domain adds to its name ("garthpsychology", "bramblewood-counselling").
_DOMAIN_TAILS = (
    "counselling",
    "counseling",
    "counsellor",
    "counsellors",
    "psychotherapy",
    "psychology",
    "psych",
    "therapies",
    "therapy",
    "therapists",
    "therapist",
    "clinic",
    "clinics",
    "wellbeing",
    "trauma",
    "practice",
    "health",
    "eap",
    "services",
    "service",
    "care",
    "support",
    "centre",
    "center",
    "group",
    "uk",
    "online",
)


def _deobfuscate(text: str) -> str:
    text = re.sub(r"[ \t]*[(\[{]?\b(?:dot)\b[)\]}]?[ \t]*", ".", text, flags=re.IGNORECASE)
    text = re.sub(r"[ \t]*[(\[{]?(?:\bat\b|@)[)\]}]?[ \t]*", "@", text, count=1, flags=re.IGNORECASE)
    return text.replace(" ", "")


@lru_cache(maxsize=1)
def _default_vocabulary() -> Vocabulary:
    return Vocabulary(load_redaction_rules(DEFAULT_RULES_DIR))


class _Collector:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.names: list[str] = []
        self.emails: list[str] = []
        self.others: list[str] = []
        self.domain_words: list[str] = []

    @staticmethod
    def _add(bucket: list[str], value: str) -> None:
        value = " ".join(value.split())
        if value and fold(value).casefold() not in {fold(v).casefold() for v in bucket}:
            bucket.append(value)

    def name(self, raw: str, *, lower_ok: bool = False, after_title: bool = False) -> None:
        if lower_ok:
            # Display names and careless lower-case names: capitalise each word, then judge as usual.
            raw = " ".join(
                "-".join(p[:1].upper() + p[1:] for p in w.split("-")) if w[:1].islower() else w for w in raw.split()
            )
        words = self._name_words(raw, after_title=after_title)
        if not words:
            return
        if self._opens_organisation(raw, words):
            # "Keane Relationship Therapy": the run goes on into an organisation's generic word, so
            # it names an organisation, not a person. The organisation is removed whole; of its
            # words only one that is no English word ("Keane") may be someone's name on its own.
            self.other(raw)
            for w in words:
                if len(w) >= 2 and fold(w).casefold() not in _english_words():
                    self._add(self.names, w)
            return
        full = " ".join(words)
        self._add(self.names, full)
        if len(words) > 1:
            for w in (words[0], words[-1]):
                if len(w) >= 2:
                    self._add(self.names, w)
            for w in words[1:-1]:
                if len(w) >= 2 and w[0].isupper() and not re.fullmatch(_PARTICLE, fold(w).casefold()):
                    self._add(self.names, w)
            # A surname with particles is also written alone: "van der Berg", "Mac an tSaoir".
            for k, w in enumerate(words[1:-1], start=1):
                if re.fullmatch(_PARTICLE, fold(w).casefold()):
                    self._add(self.names, " ".join(words[k:]))
                    break

    def _opens_organisation(self, raw: str, words: list[str]) -> bool:
        """Whether the word right after a name run is an organisation's generic word ("Therapy",
        "Services", "Trust")."""
        tokens = [w.strip(".,;:\"'()[]") for w in re.sub(r"\([^)]*\)", " ", raw).split()]
        for i, tok in enumerate(tokens[:-1]):
            if tok == words[-1]:
                return tokens[i + 1].casefold() in self.vocab.org_tails
        return False

    def initials(self, raw: str) -> None:
        """A client known only by initials ("J.K."): kept whole; matched upper case only."""
        letters = re.sub(r"[^A-Z]", "", raw)
        if 2 <= len(letters) <= 3 and not self.vocab.is_allowed_word(letters):
            self._add(self.names, ".".join(letters) + ".")

    def _name_words(self, raw: str, *, after_title: bool = False) -> list[str]:
        """The name's words in ``raw``: up to the first word that is none (a post-nominal, an ordinary
        word), less titles and initials. A month or day is a surname after a given name or a title
        ("Will March", "Mr. March"), as a name run written together says, not a date."""
        raw = re.sub(r"\([^)]*\)", " ", raw)
        if "," in raw:
            head, _, tail = raw.partition(",")
            tail_words = tail.split()
            # "Okafor, Sarah" (surname first) vs "Sarah Okafor, MBACP" (post-nominals)
            if len(head.split()) == 1 and tail_words and tail_words[0][:1].isupper() and not tail_words[0].isupper():
                raw = f"{tail} {head}"
            else:
                raw = head
        words = [w.strip(".,;:\"'()[]") for w in raw.split()]
        words = [w for w in words if w]
        out: list[str] = []
        for w in words:
            low = fold(w).casefold().rstrip(".")
            if low in self.vocab.name_titles:
                if out:
                    break
                continue
            if re.fullmatch(_PARTICLE, low) and out:
                out.append(w)
                continue
            mutated = bool(out) and _MUTATED.fullmatch(w) is not None
            if (not w[:1].isupper() and not mutated) or any(c.isdigit() for c in w) or "@" in w:
                break
            if len(w) == 1 or re.fullmatch(r"(?:[A-Z]\.)+[A-Z]?", w):
                continue  # initials
            if w.isupper() and len(w) > 2 and out:
                break  # post-nominals: MBACP, DClinPsy-like all-caps tails
            calendar_name = (bool(out) or after_title) and low in self.vocab.calendar
            if self.vocab.not_a_name(w) and not calendar_name:
                if out:
                    break
                continue
            out.append(w)
        while out and re.fullmatch(_PARTICLE, fold(out[-1]).casefold()):
            out.pop()
        # Four words of a name, its particles besides ("María del Carmen Ruiz Ibáñez").
        kept = [i for i, w in enumerate(out) if not re.fullmatch(_PARTICLE, fold(w).casefold())][:4]
        return out[: kept[-1] + 1] if kept else []

    def email(self, address: str) -> None:
        address = address.strip().strip("<>").rstrip(".")
        if _OBFUSCATED_EMAIL.fullmatch(address):
            self.other(address)  # the written-out form is removed as it stands
            address = _deobfuscate(address)
        if not address or "@" not in address or self.vocab.is_own_address(address):
            return
        self._add(self.emails, address)
        self._domain_names(address.rsplit("@", 1)[1])
        local = address.split("@", 1)[0]
        parts = [p for p in re.split(r"[._\-+\d]+", local) if p]
        useful = [p for p in parts if len(p) >= 3 and p.isalpha() and p.casefold() not in _GENERIC_LOCAL]
        if len(parts) > 1 and useful:
            for p in useful:
                if not self.vocab.not_a_name(p):
                    self._add(self.names, p.capitalize())
            if len(useful) >= 2:
                self._add(self.names, " ".join(p.capitalize() for p in useful))

    def _domain_names(self, domain: str) -> None:
        """A distinctive word of a mail domain ("meadowsweet" in meadowsweet-counselling.example) is
        usually the practice's or employer's name, which the letterhead or signature spells out."""
        labels = domain.casefold().split(".")[:-1]
        for label in labels:
            for part in label.split("-"):
                changed = True
                while changed:
                    changed = False
                    for tail in _DOMAIN_TAILS:
                        if part.endswith(tail) and len(part) > len(tail):
                            part, changed = part[: -len(tail)], True
                            break
                if (
                    len(part) >= 5
                    and part.isalpha()
                    and part not in _GENERIC_DOMAINS
                    and part not in common_words()
                    and not self.vocab.not_a_name(part)
                ):
                    self.other(part.capitalize())
                    self.domain_words.append(part)

    def organisations(self, text: str) -> None:
        """The whole organisation name a domain word opens in the letter ("Meadowsweet Counselling
        Rooms"), so its generic tail goes with it instead of standing beside a placeholder."""
        for word in self.domain_words:
            rx = rf"(?<![\w\-])(?i:{re.escape(word)})(?:[ \t]+(?:&[ \t]+)?[A-Z][\w'\u2019\-]*){{1,4}}"
            for m in re.finditer(rx, fold(text)):
                run = m.group(0).split()
                while run and (self.vocab.titles & {run[-1].casefold().rstrip(".")}):
                    run.pop()
                if len(run) > 1:
                    self.other(text[m.start() : m.start() + len(" ".join(run))])

    def address(self, addr: Address) -> None:
        if addr.email and self.vocab.is_own_address(addr.email):
            return
        if addr.name and "@" not in addr.name:
            # A display name is a name even when typed in lower case ("kate ferreira-lund").
            self.name(addr.name, lower_ok=addr.name == addr.name.lower())
        if addr.email:
            self.email(addr.email)

    def other(self, value: str) -> None:
        value = value.strip(" \t.,;:")
        if len(value) >= 3 and not self.vocab.is_allowed_span(value):
            self._add(self.others, value)


def _signature_lines(text: str) -> list[str]:
    """Lines after the last closing ("Kind regards", "Best wishes", "Sincerely"...)."""
    matches = list(_CLOSINGS.finditer(text))
    blocks = []
    for m in matches:
        tail = text[m.end() :].splitlines()
        lines = [ln.strip(" \t>") for ln in tail[:12]]
        blocks.append([ln for ln in lines if ln][:8])
    return [ln for block in blocks for ln in block]


def _scan_text(text: str, c: _Collector) -> None:
    """Every cue in order: addresses and names in prose, lower-case and relative cues, labelled
    values, then the signature block."""
    if not text:
        return
    _scan_prose(text, c)
    _scan_cues(text, c)
    _scan_labelled_values(text, c)
    _scan_signature(text, c)


def _scan_prose(text: str, c: _Collector) -> None:
    for m in _ANGLE_ADDRESS.finditer(text):
        c.name(m.group("name"))
        c.email(m.group("email"))
    for m in _EMAIL.finditer(text):
        c.email(m.group(0))
    for m in _text_triggers(c.vocab).finditer(text):
        if _HEADING.search(text, m.start(), m.start("name")) and _dictionary_word_alone(m.group("name"), c.vocab):
            # "Subject: Extension requested - <name>": a heading opens with a word of English.
            continue
        c.name(m.group("name"), after_title=_titled(text[m.start() : m.start("name")], c.vocab))
        wrapped = _WRAPPED_NAME_TAIL.match(text, m.end("name"))
        if wrapped and _PROSE_TRIGGER.search(text[max(0, m.start() - 3) : m.start("name")]):
            # A wrapped PDF or plain-text line broke the name: "my client Oluwaseun\nAdebayo-Lindqvist".
            c.name(f"{m.group('name')} {wrapped.group('tail')}")
    for m in _OBFUSCATED_EMAIL.finditer(text):
        c.email(m.group(0))
    _scan_nicknames(text, c)
    for m in _CALLED_NICKNAME.finditer(text):
        c.name(m.group("before") or m.group("after"))
    _scan_bracketed_names(text, c)
    for m in _QUOTED_NICKNAME.finditer(text):
        c.name(f"{m.group('first')} {m.group('last')}")
        c.name(m.group("nick"))
    for m in _APPOSITIVE_RELATIVE.finditer(text):
        c.name(m.group("name"))


def _scan_nicknames(text: str, c: _Collector) -> None:
    """A name in brackets after a name ("Elizabeth (Libby)"), not a short form the words before spell
    nor a relation ("(PARTNER)", which says who the one named before it is)."""
    protected: list[tuple[int, int]] | None = None
    for m in _NICKNAME.finditer(text):
        if _short_form_of(m.group("name"), text[: m.start("name")], c.vocab):
            continue
        if fold(m.group("name")).casefold() in c.vocab.relation_words:
            # "TADHG (PARTNER)", "Joe (Dad)": the bracket says who the one named is; the name is before it.
            if not _ordinary(m.group("before"), c.vocab):
                c.name(m.group("before"))
            continue
        if protected is None:
            protected = c.vocab.protected_ranges(text)
        if any(a <= m.start("name") and m.end("name") <= b for a, b in protected):
            # the short form or author of a named clinical thing ("<Name> Exhaustion Disorder Scale
            # (ABCD)", "CBT-E (<Name>)"), kept by its shape (redaction.phrases): not a nickname
            continue
        c.name(m.group("name"))


def _scan_bracketed_names(text: str, c: _Collector) -> None:
    """A nickname in brackets for a circle of people, and the name before it; a given name before
    its title and surname in brackets."""
    for m in _CIRCLE_NICKNAME.finditer(text):
        if all(_ordinary(w, c.vocab) for w in m.group("nick").split()):
            continue  # "(Cover for colleagues is arranged)": a remark, not a name
        c.name(m.group("nick"))
        if m.group("before") and not _ordinary(m.group("before"), c.vocab):
            c.name(m.group("before"))
    for m in _name_then_titled(c.vocab).finditer(text):
        if not any(_ordinary(w, c.vocab) for w in (m.group("first"), m.group("last"))):
            c.name(f"{m.group('first')} {m.group('last')}")


def _short_form_of(word: str, before: str, vocab: Vocabulary) -> bool:
    """Whether a word in capitals in brackets is the short form the ordinary words before it spell
    ("Prolonged Exposure (PE)", "Graded Exposure (GE)"), not a nickname."""
    if not word.isupper() or len(word) < 2:
        return False
    # Small words between ("Inventory of Complicated Grief (ICG)") spell nothing.
    words = [w for w in re.findall(r"[^\W\d_][\w'\-]*", before) if not (w.islower() and w in vocab.stop)]
    words = words[-len(word) :]
    if len(words) < len(word) or "".join(w[0] for w in words).upper() != word:
        return False
    return all(_ordinary(w, vocab) for w in words)


# A cue that ends in a title ("... Mr. ", "Ms "): its last word, then the space before the name.
_TITLED_END = re.compile(r"(?P<title>[^\W\d_]+)\.?[ \t]+$")


def _titled(cue: str, vocab: Vocabulary) -> bool:
    m = _TITLED_END.search(cue)
    return m is not None and fold(m.group("title")).casefold() in vocab.name_titles


_HEADING = re.compile(r"(?i:re|regarding|subject)[ \t]*:?[ \t]*(?:(?:re|fw|fwd)[ \t]*:[ \t]*)*$")


def _dictionary_word_alone(run: str, vocab: Vocabulary) -> bool:
    """A name run that is one word of the English dictionary (not an ordinary-word name: "Hope")."""
    words = [w for w in run.split() if w[:1].isupper()]
    if len(words) != 1:
        return False
    w = fold(words[0]).casefold()
    return w not in vocab.ambiguous and (w in _english_words() or w in common_words())


def _scan_cues(text: str, c: _Collector) -> None:
    for rx in (_LOWER_TRIGGER, _LOWER_LINE_TRIGGER):
        pos = 0
        # Searched again from each name's start: "writing on behalf of my client päivi" holds a
        # second, nearer trigger inside the first one's run.
        while (m := rx.search(text, pos)) is not None:
            _lower_name(m.group("name"), c)
            bracketed = _LOWER_BRACKETED.match(text, m.end("name")) if rx is _LOWER_TRIGGER else None
            if bracketed and not _ordinary(bracketed.group("nick"), c.vocab):
                c.name(bracketed.group("nick"), lower_ok=True)
            pos = m.start("name")
    for m in LOWER_APPOSITION.finditer(text):
        if lower_apposition(m.group("name"), c.vocab):
            c.name(m.group("name"), lower_ok=True)
    for m in _INITIALS_TRIGGER.finditer(text):
        c.initials(m.group("initials") or m.group("bare"))
    for m in _RELATIVES.finditer(text):
        c.name(m.group("name"))
    for m in _TREATING.finditer(text):
        words = m.group("name").split()
        if all(not w.isupper() and not c.vocab.not_a_name(w) and w.casefold() not in c.vocab.ambiguous for w in words):
            c.name(m.group("name"))
    for m in _NAME_FIELD.finditer(text):
        c.name(m.group("name"))
    for m in _ABOUT.finditer(text):
        first, last = m.group("name").split()
        if (
            not any(w.isupper() or c.vocab.not_a_name(w) for w in (first, last))
            and not _dictionary_word_alone(last, c.vocab)
            and last.casefold() not in c.vocab.ambiguous
        ):
            c.name(m.group("name"))


def _scan_labelled_values(text: str, c: _Collector) -> None:
    for m in _LABELLED_VALUES.finditer(text):
        # "DOB: 01/02/1990   NHS No: 999 ...   NI: QQ ...": one line, several labelled values.
        first, *rest = _VALUE_GAP.split(m.group("value"))
        c.other(first)
        for part in rest:
            inline = _LABELLED_VALUES.match(part) or _ANY_LABEL.match(part)
            c.other(inline.group("value") if inline else part)


def _scan_signature(text: str, c: _Collector) -> None:
    sig = _signature_lines(text)
    name_taken = False
    for index, line in enumerate(sig):
        if _EMAIL.search(line) or _PHONE.search(line) or _LONG_NUMBER.search(line):
            phones = [m.span() for m in _PHONE.finditer(line)]
            for m in _PHONE.finditer(line):
                c.other(m.group(0))
            for m in _LONG_NUMBER.finditer(line):
                if not any(a <= m.start() < b for a, b in phones):
                    c.other(m.group(0))
            continue
        words = re.findall(r"[^\s,|]+", line)
        if index == 0 and line == line.lower() and 1 <= len(words) <= 3 and all(w.isalpha() for w in words):
            # A sign-off typed in lower case ("thanks\nkate").
            _lower_name(line, c)
        found = c._name_words(line)
        if (
            index < 4
            and 1 <= len(words) <= 6
            and found
            and (not name_taken or len(found) >= 2)
            and (all(w[:1].isupper() for w in words))
        ):
            c.name(line)
            name_taken = True
            continue
        if name_taken and not any(ch.isdigit() for ch in line) and len(line) <= 60:
            # practice or clinic name lines (allow-listed role lines such as
            # "Counselling Psychologist" are dropped by other())
            for part in re.split(r"\s*[,|\u2022]\s*", line):
                if part and part[:1].isupper() and not c.vocab.is_allowed_span(part):
                    if any(not c.vocab.not_a_name(w) for w in part.split()):
                        c.other(part)


def _lower_name(run: str, c: _Collector) -> None:
    """Seed a lower-case run after a client trigger, up to the first ordinary word. The first word
    must not be English at all; later words ("jones", which is also a verb) only not inflected."""
    words: list[str] = []
    for w in run.split():
        if len(w) < 2 or (_ordinary(w, c.vocab) if not words else _plainly_ordinary(w, c.vocab)):
            break
        words.append(w)
    if words:
        c.name(" ".join(words), lower_ok=True)
    elif len(run.split()) >= 2 and lower_apposition(" ".join(run.split()[:2]), c.vocab):
        # A given name that is also a word, with a surname that is none: "my client bill kowalski".
        c.name(" ".join(run.split()[:2]), lower_ok=True)


def _scan_filename(filename: str, c: _Collector) -> None:
    """Attachment names often carry the client's name ("Letter re Jane Doe.pdf", "J Doe - Plumm.docx")."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    words = [w for w in _FILENAME_SPLIT.split(stem) if w]
    run: list[str] = []
    before = ""
    named = False
    for w in [*words, ""]:
        if (
            len(w) > 1
            and w[:1].isupper()
            and w.isalpha()
            and not c.vocab.not_a_name(w)
            and not _MONTH_OR_DAY.fullmatch(w)
        ):
            run.append(w)
            continue
        # One capitalised word counts after an initial or "re"/"for" ("J Doe", "Letter re Doe").
        if len(run) > 1 or (run and (len(before) == 1 or before.casefold() in ("re", "for", "regarding"))):
            c.name(" ".join(run))
            named = True
        run = []
        before = w
    if named:
        # The letter may cite the attachment by its name ("see Letter_Jane_Doe.pdf"), where the
        # name's words, joined by underscores, are no separate words to match.
        c.other(filename)


def seed_identifiers(mail: ParsedMail, letter: Letter, *, vocabulary: Vocabulary | None = None) -> KnownIdentifiers:
    """The identifiers a message itself gives away; ``vocabulary`` is the redactor's (from the rules the
    process loaded), the packaged rules' when none is given (tests and tools)."""
    c = _Collector(vocabulary or _default_vocabulary())
    for addr in (mail.sender, *mail.reply_to, *mail.to, *mail.cc):
        c.address(addr)
    if mail.subject:
        _scan_text(mail.subject.replace("\n", " "), c)
    for attachment in mail.attachments:
        if attachment.filename:
            _scan_filename(attachment.filename, c)
    _scan_text(letter.text, c)
    _scan_text(letter.removed_text, c)
    c.organisations(letter.text)
    for text in (letter.text, letter.removed_text):
        for word in joined_names(text or "", c.names, c.vocab):
            c.name(word)
    return KnownIdentifiers(names=tuple(c.names), emails=tuple(c.emails), other=tuple(c.others))
