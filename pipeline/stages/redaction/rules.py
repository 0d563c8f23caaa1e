"""The rules of redaction (``rules/redaction.yaml`` with ``rules/allow.yaml`` as its allow-list),
loaded into validated models; a broken file raises ``RulesError`` naming the file and the key."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from pipeline.rules import RuleModel, load_rules


class EmailRules(RuleModel):
    score: float = Field(1.0, ge=0, le=1)


class UrlRules(RuleModel):
    score: float = Field(0.8, ge=0, le=1)
    tlds: list[str]


class ContextRules(RuleModel):
    score: float = Field(0.85, ge=0, le=1)
    context: list[str] = []


class PostcodeRules(RuleModel):
    score: float = Field(0.85, ge=0, le=1)


class DobRules(RuleModel):
    context: list[str]
    context_window: int = Field(40, ge=1)
    year_min: int = Field(1920, ge=1800, le=2100)
    year_max: int = Field(2012, ge=1800, le=2100)
    score_with_context: float = Field(0.95, ge=0, le=1)
    score_without_context: float = Field(0.8, ge=0, le=1)


class RegistrationRules(RuleModel):
    bodies: list[str]
    context: list[str]
    window: int = Field(40, ge=1)
    score: float = Field(0.85, ge=0, le=1)


class EmployeeIdRules(RuleModel):
    context: list[str]
    score: float = Field(0.9, ge=0, le=1)


class AddressRules(RuleModel):
    street_suffixes: list[str]
    bare_suffixes: list[str]
    unit_words: list[str]
    building_words: list[str]
    score: float = Field(0.85, ge=0, le=1)


class EmployerRules(RuleModel):
    context: list[str]
    company_suffixes: list[str]
    org_tail_words: list[str] = []
    # "the only paediatric audiologist at ...": a role held by one person names that person.
    unique_role_cues: list[str] = []
    score: float = Field(0.85, ge=0, le=1)
    org_score: float = Field(0.7, ge=0, le=1)


class LocationRules(RuleModel):
    labels: list[str]
    score: float = Field(0.6, ge=0, le=1)


class PersonRules(RuleModel):
    entity_score: float = Field(0.85, ge=0, le=1)
    trigger_score: float = Field(0.9, ge=0, le=1)
    propn_score: float = Field(0.65, ge=0, le=1)
    triggers: list[list[str]]
    ambiguous_names: list[str]
    name_verbs: list[str]
    human_verbs: list[str] = []


class RelativeRules(RuleModel):
    nouns: list[str]
    score: float = Field(0.9, ge=0, le=1)


class RoleReplacement(RuleModel):
    possessive: str
    other: str


class PronounRules(RuleModel):
    fixed: dict[str, str]
    by_role: dict[str, RoleReplacement]
    needs_pronoun_position: list[str] = []


class AllowRules(RuleModel):
    terms: list[str] = []
    words: list[str] = []


class RedactionRules(RuleModel):
    score_threshold: float = Field(0.45, ge=0, le=1)
    entity_priority: list[str]
    verify_types: list[str]
    own_domains: list[str] = []
    email: EmailRules
    url: UrlRules
    handle: ContextRules
    phone: ContextRules
    nhs: ContextRules
    ni: ContextRules
    postcode: PostcodeRules
    dob: DobRules
    registration: RegistrationRules
    employee_id: EmployeeIdRules
    reference: EmployeeIdRules
    address: AddressRules
    employer: EmployerRules
    location: LocationRules
    person: PersonRules
    relatives: RelativeRules
    pronouns: PronounRules
    titles: list[str]
    ambiguous_titles: list[str] = []
    allow: AllowRules = AllowRules()


REDACTION_FILE = "redaction.yaml"
ALLOW_FILE = "allow.yaml"


def load_redaction_rules(rules_dir: Path) -> RedactionRules:
    """``rules_dir/redaction.yaml`` with ``rules_dir/allow.yaml`` as its allow-list, validated."""
    rules = load_rules(Path(rules_dir) / REDACTION_FILE, RedactionRules)
    allow = load_rules(Path(rules_dir) / ALLOW_FILE, AllowRules)
    return rules.model_copy(update={"allow": allow})
