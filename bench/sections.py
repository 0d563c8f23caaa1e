"""The section verdicts by option, on the blind folder and the tuned corpus (issue 14's measurement).

Each letter goes through parse, extract, identifiers and redact in process; a letter whose redaction
would be quarantined by verify is assessed anyway ("as if redacted"), and counted apart, so the
section logic is measured on every letter. The options, all on the same witnesses:

* ``rules``: today's phrase rules alone (headings, patterns, negation cues, third parties);
* ``classifier``: the sentence classifier alone, a letter-level "any sentence above 0.5";
* ``rules or classifier``: either witness, no clause readings;
* ``chosen``: what ``assess_sections`` does (both witnesses, clause readings veto, letter frames).

Only counts are printed: letters with both verdicts right, each verdict right, and the letters
redaction does not quarantine. Standalone: ``python -m bench.sections``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.blind import TUNED, fresh_round, load_manifest, manifest_from_expected

NAME = "sections"
OPTIONS = ("rules", "classifier", "rules or classifier", "chosen")


def _letters(folder: Path) -> dict[str, tuple[str | None, bool]]:
    """stem -> (redacted text or None when no letter, quarantined by verify)."""
    from cryptography.fernet import Fernet

    from pipeline.config import load_settings
    from pipeline.models import IntakeOutcome
    from pipeline.runtime import Runtime
    from pipeline.stages.extract import extract
    from pipeline.stages.identifiers import seed_identifiers
    from pipeline.stages.parse import parse

    with tempfile.TemporaryDirectory(prefix="plumm-sections-") as tmp:
        settings = load_settings(data_dir=tmp, vault_key=Fernet.generate_key().decode(), hash_key="sections-bench")
        rt = Runtime(settings)
        out: dict[str, tuple[str | None, bool]] = {}
        for eml in sorted(folder.glob("*.eml")):
            try:
                mail = parse(eml.read_bytes())
                letter = extract(mail)
                known = seed_identifiers(mail, letter, vocabulary=rt.redactor.vocab)
                redaction = rt.redactor.redact(letter.text, known)
            except IntakeOutcome:
                out[eml.stem] = (None, False)
                continue
            try:
                rt.redactor.verify(redaction, known)
                quarantined = False
            except IntakeOutcome:
                quarantined = True
            out[eml.stem] = (redaction.text, quarantined)
        return out


def _verdicts(text: str | None, rules: Any) -> dict[str, dict[str, bool]]:
    from pipeline.models import LetterMissing
    from pipeline.stages.sections import assess_sections, read_letter

    none = {"needs": False, "recommendation": False}
    if text is None:
        return dict.fromkeys(OPTIONS, none)
    try:
        seen = read_letter(text, rules=rules)
    except LetterMissing:
        return dict.fromkeys(OPTIONS, none)
    threshold = 0.5
    by_rules = {k: any(e.rules for e in ev) for k, ev in seen.evidence.items()}
    by_classifier = {k: any(e.probability > threshold for e in ev) for k, ev in seen.evidence.items()}
    return {
        "rules": by_rules,
        "classifier": by_classifier,
        "rules or classifier": {k: by_rules[k] or by_classifier[k] for k in by_rules},
        "chosen": assess_sections(text, rules=rules).as_flags(),
    }


def measure(folder: Path, manifest: list[dict[str, Any]]) -> dict[str, Any]:
    from pipeline.rules import DEFAULT_RULES_DIR
    from pipeline.stages.sections import load_section_rules

    rules = load_section_rules(DEFAULT_RULES_DIR)
    letters = _letters(folder)
    truth = {Path(e["file"]).stem: e["sections"] for e in manifest if "sections" in e}
    counts = {o: {"both": 0, "needs": 0, "recommendation": 0, "both_not_quarantined": 0} for o in OPTIONS}
    quarantined = 0
    for stem, expected in sorted(truth.items()):
        text, held = letters.get(stem, (None, False))
        quarantined += held
        for option, got in _verdicts(text, rules).items():
            needs, rec = got["needs"] == expected["needs"], got["recommendation"] == expected["recommendation"]
            c = counts[option]
            c["needs"] += needs
            c["recommendation"] += rec
            c["both"] += needs and rec
            c["both_not_quarantined"] += needs and rec and not held
    return {"letters": len(truth), "quarantined": quarantined, "options": counts}


def run() -> dict[str, Any]:
    return {
        "name": NAME,
        "blind": measure(fresh_round(), load_manifest(fresh_round())),
        "tuned": measure(TUNED, manifest_from_expected(TUNED)),
    }


def render(results: dict[str, Any]) -> str:
    lines = ["Section verdicts by option (quarantined letters assessed as if redacted)"]
    for corpus in ("blind", "tuned"):
        r = results[corpus]
        n, q = r["letters"], r["quarantined"]
        lines.append(f"  {corpus}: {n} letters, {q} quarantined by redaction")
        lines.append(f"    {'option':<22}{'both':>10}{'needs':>10}{'recommendation':>16}{'both, not quarantined':>24}")
        for option in OPTIONS:
            c = r["options"][option]
            lines.append(
                f"    {option:<22}{c['both']:>7}/{n:<2}{c['needs']:>7}/{n:<2}{c['recommendation']:>13}/{n:<2}"
                f"{c['both_not_quarantined']:>21}/{n - q:<2}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(run()))
