"""UK identifiers: NHS numbers (checksum verified) and National Insurance numbers."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from pipeline.stages.redaction.rules import ContextRules


def nhs_checksum_ok(number: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", number)]
    if len(digits) != 10:
        return False
    total = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


class NhsNumberRecognizer(PatternRecognizer):
    """NHS numbers (10 digits, 3-3-4 groups optional) that pass the modulus 11 check digit."""

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="NHS",
            name="NhsNumberRecognizer",
            patterns=[Pattern("nhs", r"(?<![\w\-])\d{3}[ \t\-]?\d{3}[ \t\-]?\d{4}(?![\w\-])", rules.score)],
            context=rules.context,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return nhs_checksum_ok(pattern_text)


class NiNumberRecognizer(PatternRecognizer):
    """National Insurance numbers: two letters, six digits (spaces optional), a final letter A-D."""

    INVALID_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="NI",
            name="NiNumberRecognizer",
            patterns=[
                Pattern("ni", r"(?<![\w])[A-Z]{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?[A-D](?!\w)", rules.score)
            ],
            context=rules.context,
            global_regex_flags=re.IGNORECASE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return pattern_text[:2].upper() not in self.INVALID_PREFIXES
