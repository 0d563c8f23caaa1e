"""E-mail addresses, written plainly or spelled out to dodge harvesters (``jane dot doe at example dot
com``); our own addresses are left alone."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from pipeline.stages.redaction.rules import EmailRules
from pipeline.stages.redaction.vocabulary import Vocabulary


class EmailRecognizer(PatternRecognizer):
    """Email addresses with any top-level domain, including ``name@localhost`` (no network lookups)."""

    PATTERN = r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+'\-]*@(?=[A-Za-z0-9.\-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"  # noqa: E501 (a regex reads best on one line)

    # Written out to dodge harvesters: "jane dot doe at example dot com", "jane.doe (at) example (dot) com",
    # "jane[at]example[dot]org". The domain must use a spelled-out dot, so "looked at home. Then" is not one.
    _DOT = r"(?:[ \t]+dot[ \t]+|[ \t]*[(\[{]dot[)\]}][ \t]*)"
    _AT = r"(?:[ \t]+at[ \t]+|[ \t]*[(\[{]at[)\]}][ \t]*|[ \t]+@[ \t]+)"
    _BRACKET_AT = r"(?:[ \t]*[(\[{]at[)\]}][ \t]*|[ \t]+AT[ \t]+)"
    _LOCAL = rf"(?<![\w.@])[a-z0-9][a-z0-9_%+'\-]*(?:(?:{_DOT}|\.)[a-z0-9][a-z0-9_%+'\-]*)*"
    OBFUSCATED = (
        rf"{_LOCAL}(?:{_AT}[a-z0-9][a-z0-9\-]*(?:(?:{_DOT}|\.)[a-z0-9][a-z0-9\-]*)*{_DOT}"
        rf"|(?-i:{_BRACKET_AT})[a-z0-9][a-z0-9\-]*(?:(?:{_DOT}|\.)[a-z0-9][a-z0-9\-]*)*(?:{_DOT}|\.))"
        rf"[a-z]{{2,12}}(?![\w@])"
    )

    def __init__(self, rules: EmailRules, vocab: Vocabulary) -> None:
        self._vocab = vocab
        super().__init__(
            supported_entity="EMAIL",
            name="EmailRecognizer",
            patterns=[
                Pattern("email", self.PATTERN, rules.score),
                Pattern("email_obfuscated", self.OBFUSCATED, rules.score),
            ],
            global_regex_flags=re.UNICODE | re.IGNORECASE,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return self._vocab.is_own_address(pattern_text)
