"""Web addresses and social-media handles.

Presidio's own UrlRecognizer makes no network call, but it is not used: its domain pattern has no
right-hand boundary, so it cuts "www.meadowsweet-counselling.example" to "www.me" (a ccTLD prefix)
and takes a sentence joined without a space ("improved.It") as a domain, and it misses a scheme URL
on a domain outside its list. Ours takes any host after a scheme or "www." and bare domains on the
top-level domains of ``rules/redaction.yaml``.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from pipeline.stages.redaction.rules import ContextRules, UrlRules
from pipeline.stages.redaction.vocabulary import Vocabulary


class UrlRecognizer(PatternRecognizer):
    """Web addresses (a practice website identifies the therapist); our own domain is kept."""

    def __init__(self, rules: UrlRules, vocab: Vocabulary) -> None:
        self._vocab = vocab
        tld_alts = "|".join(sorted((re.escape(t) for t in rules.tlds), key=len, reverse=True))
        patterns = [
            Pattern("url_scheme", r"\b(?:https?://|www\.)[^\s<>\"')\]]+[^\s<>\"').,;:\]]", rules.score),
            Pattern(
                "bare_domain",
                rf"(?<![@\w.\-])(?:[A-Za-z0-9\-]+\.)+(?:{tld_alts})\b(?![@\-])(?:/[^\s<>\"')]*[^\s<>\"').,;:])?",
                rules.score,
            ),
        ]
        super().__init__(
            supported_entity="URL", name="UrlRecognizer", patterns=patterns, global_regex_flags=re.IGNORECASE
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", pattern_text, flags=re.I).split("/")[0]
        return self._vocab.is_own_address(host)


class HandleRecognizer(PatternRecognizer):
    """Social-media handles ("@sarahj_art"): an @ that starts a word, not the middle of an email."""

    PATTERN = r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])"

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="HANDLE",
            name="HandleRecognizer",
            patterns=[Pattern("handle", self.PATTERN, rules.score)],
            context=rules.context,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # "@ 3pm", "@10" are times and prices, not handles.
        return not any(c.isalpha() for c in pattern_text)


# "0161 496 0312 ext. 204", "x204", "extension 12": the extension is part of the number.
