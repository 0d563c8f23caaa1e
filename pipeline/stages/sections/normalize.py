"""One canonical form of a redacted sentence for the sentence classifier, whatever the redaction's style.

Redaction has written the client two ways: placeholders for pronouns with the verb left as it was
("[they] has", "[their] GP", "[PERSON_1]") and, since the role placeholders, plain neutral pronouns
with verb agreement ("they have", "[CLIENT]", "[CLIENT'S PARTNER]", "[PERSON_2]"). The training
sentences are in the second form. Both become one form here, so a sentence scores the same in
either: pronoun placeholders lose their brackets and "[they] has" agrees ("they have"), the client
and any other person become ``xperson``, a partner or relative placeholder ``xpartner``, every other
placeholder ``x<type>`` ("[EMPLOYER_1]" -> ``xemployer``), digits ``0``, and the text is lower case.

Only the classifier reads this form; evidence is always quoted from the redacted letter itself.
"""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"\[([A-Za-z][A-Za-z_'’ ]*?)(?:_\d+)?\]")
_PRONOUNS = frozenset({"they", "them", "their", "theirs", "themself", "themselves"})
_PERSONS = frozenset({"client", "person", "title", "therapist", "name", "nickname"})
_RELATIVES = ("partner", "spouse", "relative", "husband", "wife", "child", "parent", "family")

# "[they] has" -> "they have": the verb after a pronoun placeholder, optionally after an adverb
_IRREGULAR = {
    "has": "have",
    "is": "are",
    "was": "were",
    "does": "do",
    "hasn't": "haven't",
    "isn't": "aren't",
    "wasn't": "weren't",
    "doesn't": "don't",
    "'s": "'re",
}
_AFTER_THEY = re.compile(
    r"\[they\](\s+(?:[a-z]+ly|still|now|also|often|never|always|just|only|no longer)){0,2}\s+"
    r"([a-z]+(?:n't)?|'s)\b"
)


def plural_verb(verb: str) -> str:
    """The verb that agrees with "they": "has" -> "have", "continues" -> "continue", "tries" -> "try"."""
    fixed = _IRREGULAR.get(verb)
    if fixed is not None:
        return fixed
    if len(verb) > 3 and verb.endswith("ies"):
        return verb[:-3] + "y"
    if re.search(r"(?:ss|sh|ch|x|z|o)es$", verb):
        return verb[:-2]
    if len(verb) > 2 and verb.endswith("s") and not verb.endswith(("ss", "us", "is")):
        return verb[:-1]
    return verb


def _agree(match: re.Match[str]) -> str:
    verb = match.group(2)
    whole = match.group(0)
    return whole[: len(whole) - len(verb)] + plural_verb(verb)


def _token(match: re.Match[str]) -> str:
    kind = match.group(1).lower().replace("’", "'")
    if kind in _PRONOUNS:
        return f"[{kind}]"  # unbracketed below, once verb agreement has been read
    if any(r in kind for r in _RELATIVES):
        return " xpartner "
    if kind in _PERSONS:
        return " xperson "
    return " x" + re.sub(r"[^a-z]", "", kind) + " "


def canonical(text: str) -> str:
    """The classifier's form of one redacted sentence (see the module docstring)."""
    text = text.replace("’", "'").replace("‘", "'")
    text = _PLACEHOLDER.sub(_token, text)
    text = _AFTER_THEY.sub(_agree, text)
    text = re.sub(r"\[(they|them|their|theirs|themself|themselves)\]", r"\1", text)
    text = re.sub(r"(?:\bxperson\s+)+xperson\b", "xperson", text)
    text = re.sub(r"\d+", "0", text)
    return re.sub(r" (?=[,.;:!?)])", "", " ".join(text.lower().split()))
