"""Redaction stage: letter text + known identifiers -> redacted text, vault and counts; then verify.

``redactor.py`` holds the :class:`Redactor` (analyse once with Presidio on the one spaCy model,
then substitute; :meth:`Redactor.verify` fails closed), ``recognizers/`` one recognizer per
concern, ``rules.py`` the validated ``rules/redaction.yaml`` and ``rules/allow.yaml``, and
``vocabulary.py`` the word lists that tell names from ordinary and clinical words.
"""

from pipeline.stages.redaction.redactor import Redactor, decrypt_vault, encrypt_vault, get_redactor
from pipeline.stages.redaction.rules import RedactionRules, load_redaction_rules

__all__ = ["RedactionRules", "Redactor", "decrypt_vault", "encrypt_vault", "get_redactor", "load_redaction_rules"]
