"""The shapes of a name's words (capitalised, lower case, particles) and the judgement of whether a
word is an ordinary one, for the identifiers seeded from a message (:mod:`pipeline.stages.identifiers`);
with two cues of their own: a lower-case full name in apposition to "a client", and the other words
of a run joined by a particle that holds a known name."""

from __future__ import annotations

import re

from pipeline.stages.redaction.recognizers.known import listed_nicknames
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, common_words, fold

UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u017f"
# Lower-case letters of the Latin scripts our writers use ("päivi", "žaneta"): a careless lower-case name.
LOWER = "a-z\u00df-\u00f6\u00f8-\u00ff\u0100-\u017f"
WORD = rf"[{UPPER}][\w'\u2019\-]*"
PARTICLE = (
    r"(?:van|von|der|den|de|da|di|du|del|della|dos|das|le|la|bin|ibn|al|el|ter|ten|mac|ap|ní|ní|nic|ó|o'|"
    r"an|mhic|uí|ui|ua)"
)
# An Irish surname word after "Mac an", "Ó"... may open with a lower-case mutation: "tSaoir", "hUiginn".
MUTATED = re.compile(r"(?:bh|[tnhmgdb])[A-Z\u00c1\u00c9\u00cd\u00d3\u00da][\w'\u2019\-]*")
NAME_RUN = rf"{WORD}(?:[ \t]+(?:{PARTICLE}[ \t]+)?{WORD}){{0,3}}"

# Words after "my client ..." that are ordinary nouns although not in the spaCy word tables.
_CLIENT_COMPOUNDS = frozenset(
    "group base list work load notes note record records file files session sessions feedback contact "
    "contacts care consent portal account accounts details information info case cases caseload team "
    "appointment appointments relationship relationships review reviews confidentiality agreement "
    "meeting meetings history".split()
)


def plainly_ordinary(word: str, vocab: Vocabulary) -> bool:
    w = word.casefold().strip("'")
    return w in _CLIENT_COMPOUNDS or vocab.not_a_name(w) or w in vocab.ambiguous or inflected(w)


def ordinary(word: str, vocab: Vocabulary) -> bool:
    return plainly_ordinary(word, vocab) or word.casefold().strip("'") in common_words()


def inflected(word: str) -> bool:
    """An inflection of an ordinary verb or adjective ("reports", "attended", "recently")."""
    w = word.casefold()
    stems: set[str] = set()
    if w.endswith("ies"):
        stems |= {w[:-3] + "y"}
    elif w.endswith("es"):
        stems |= {w[:-2], w[:-1]}
    elif w.endswith("s"):
        stems |= {w[:-1]}
    if w.endswith("ed"):
        stems |= {w[:-2], w[:-1], w[:-3], w[:-3] + "y" if w.endswith("ied") else w[:-2]}
    if w.endswith("ing"):
        stems |= {w[:-3], w[:-3] + "e", w[:-4]}
    if w.endswith("ly"):
        stems |= {w[:-2], w[:-3] + "y", w[:-2] + "e"}
    common = common_words()
    return any(len(x) > 2 and x in common for x in stems)


# A lower-case full name in apposition to "a client" a few words on, between commas: "ive got a
# client through yous, <given> <surname>, hes used his 4". Judged in ``lower_apposition``.
LOWER_APPOSITION = re.compile(
    r"(?i:\b(?:a|an|my|our|the|this|one|new)[ \t]+(?:new[ \t]+)?(?:client|patient|service[ \t]+user))"
    r"(?:[ \t]+[^\s,.;:!?()]+){0,4}[ \t]*,[ \t]*"
    rf"(?P<name>[{LOWER}][{LOWER}'\u2019\-]+[ \t]+[{LOWER}][{LOWER}'\u2019\-]+)[ \t]*(?=[,(;]|[ \t]+-[ \t])"
)


def lower_apposition(run: str, vocab: Vocabulary) -> bool:
    """Whether "<given> <surname>" in lower case after "a client ...," (or after "my client", where the
    given name is also a word: "bill", "will") is a name: the first word a
    given name of the kept nickname list ("will") or no word of English, the second no verb,
    adjective or adverb, nor an inflected one (not "really lovely" nor "lovely guy")."""
    first, last = run.split()
    given = bool(listed_nicknames({fold(first).casefold()})) or fold(first).casefold() not in _english_words()
    if not given or (plainly_ordinary(first, vocab) and first.casefold() not in vocab.ambiguous):
        return False
    return len(last) >= 2 and not ordinary(last, vocab)


# Capitalised words joined by a particle ("María del Carmen Ruiz", "Anna van der Berg"): one name.
_JOINED_RUN = re.compile(
    rf"(?<![\w'\u2019\-])(?:{WORD}[ \t]+)*{WORD}(?:[ \t]+{PARTICLE})+(?:[ \t]+{WORD})+(?![\w'\u2019\-])"
)


def joined_names(text: str, names: list[str], vocab: Vocabulary) -> list[str]:
    """The other words of a run of capitalised words joined by a particle that holds a word of a name
    the message gave ("Mari Carmen" ... "María del Carmen Ruiz Ibáñez"): the run is that person's
    name, so they are names too (a full given name of which only a short form was known), each on
    its own (the particles stay, as around any name: "de la <surname>")."""
    known = {fold(w).casefold() for n in names for w in re.split(r"[\s\-]+", n) if len(w) >= 3}
    known -= {w for w in known if re.fullmatch(PARTICLE, w)}
    out: list[str] = []
    if not known:
        return out
    for m in _JOINED_RUN.finditer(text):
        words = m.group(0).split()
        if len(words) > 7 or not any(fold(w).casefold() in known for w in words if w[:1].isupper()):
            continue
        joined = False
        for w in words:
            low = fold(w).casefold()
            joined = joined or not w[:1].isupper()
            if not w[:1].isupper() or low in known or vocab.not_a_name(w):
                continue
            # As written: "María" with its accent is no word of English, though "maria" is one.
            written = w.casefold()
            noun = written in _english_words() and written not in common_words() and low not in vocab.ambiguous
            if noun and not joined:
                continue  # a noun of English opens a place's name ("Hospital del Carmen"), not a person's
            out.append(w)
    return out
