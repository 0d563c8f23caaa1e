"""UK (and international) phone numbers, an extension included."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from pipeline.stages.redaction.rules import ContextRules

PHONE_EXTENSION = r"(?:[ \t]*,?[ \t]*(?:ext(?:ension)?\.?|x)[ \t]*\d{1,5}(?!\d))?"


class UkPhoneRecognizer(PatternRecognizer):
    """UK phone numbers: mobiles (07..., +44 7...), London (020 ...), (0xx) and 01/03/08 numbers."""

    SEP = r"[ \t.\-]?"
    PATTERNS = (
        # +44 (0)20 7946 0000, +44 7700 900123, 0044 ...
        r"(?<![\w+])(?:\+|00)\s?44[ \t]?(?:\(0\)[ \t]?)?\(?\d(?:[ \t\-)]{0,2}\d){8,9}(?!\d)",
        # (020) 7946 0000, (01632) 960 001
        r"(?<![\w)])\(0\d{2,4}\)[ \t]?\d(?:[ \t\-]?\d){5,7}(?!\d)",
        # 07700 900123, 020 7946 0000, 01632 960001, 0161-496-0000
        r"(?<![\w/.\-])0\d(?:[ \t\-]?\d){8,9}(?![\d/])",
    )

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="PHONE",
            name="UkPhoneRecognizer",
            patterns=[Pattern(f"uk_phone_{i}", p + PHONE_EXTENSION, rules.score) for i, p in enumerate(self.PATTERNS)],
            context=rules.context,
            global_regex_flags=re.UNICODE,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", re.sub(PHONE_EXTENSION + "$", "", pattern_text))
        if digits.startswith("0044"):
            digits = "0" + digits[4:]
        elif digits.startswith("44"):
            digits = "0" + digits[2:]
        if digits.startswith("00"):
            digits = "0" + digits[2:].lstrip("0")
        return not (10 <= len(digits) <= 11 and digits[1] in "1235789")
