"""The composition root: everything a process loads once, built at start-up and passed down.

``Runtime`` holds the settings, the database engine, the keys, and the validated rules with their
compiled matchers (the redactor and its recognizers on the one spaCy model, the section rules, the
therapist directory, the accounts). A process builds one (``plumm`` commands, the worker, a replay)
and hands it to the modules that act on cases and mail; the stages never see it, they get the one
rule object they need. ``load_rules`` loads everything now, so a bad rules file stops start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from pipeline import store
from pipeline.cases.routing import AccountsFile, load_accounts
from pipeline.compliance.keys import load_cipher, load_hash_key
from pipeline.config import Settings
from pipeline.outbound.messages import ReasonTexts, load_reason_texts
from pipeline.stages.redaction import Redactor, get_redactor
from pipeline.stages.sections import SectionRules, load_section_rules
from pipeline.stages.signals import TherapistDirectory, load_therapist_directory

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


class Runtime:
    """Everything loaded once per process: settings, database, keys, rules and the NLP model."""

    def __init__(
        self, settings: Settings, *, engine: Engine | None = None, clock: Callable[[], datetime] = store.utcnow
    ) -> None:
        self.settings = settings
        self.engine = engine or store.make_engine(settings.effective_database_url)
        # The queues' notion of now (leases, backoff): tests move it instead of waiting.
        self.clock = clock

    @cached_property
    def cipher(self) -> MultiFernet:
        return load_cipher(self.settings)

    @cached_property
    def hash_key(self) -> bytes:
        return load_hash_key(self.settings)

    @cached_property
    def redactor(self) -> Redactor:
        return get_redactor(self.settings.rules_dir)

    @cached_property
    def section_rules(self) -> SectionRules:
        return load_section_rules(self.settings.rules_dir)

    @cached_property
    def therapists(self) -> TherapistDirectory:
        return load_therapist_directory(self.settings.rules_dir)

    @cached_property
    def accounts(self) -> AccountsFile:
        return load_accounts(self.settings.rules_dir)

    @cached_property
    def reason_texts(self) -> ReasonTexts:
        return load_reason_texts(self.settings.rules_dir)

    def load_rules(self) -> None:
        """Validate every rules file and load the model now, so a bad file fails start-up."""
        _ = self.redactor, self.section_rules, self.therapists, self.accounts, self.reason_texts
