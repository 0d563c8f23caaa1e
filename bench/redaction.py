"""Redaction benchmark: our redactor against plain Presidio, side by side, on the fixture letters.

For every ``fixtures/emails/<stem>.eml`` that has a golden ``<stem>.letter.txt``, the message is parsed
and extracted as the worker does (the golden letter text stands in when extraction yields nothing),
then the same letter text goes through two redactors:

* ``ours``: :func:`pipeline.stages.identifiers.seed_identifiers` + ``get_redactor().redact(...)``;
* ``presidio``: a plain ``AnalyzerEngine`` as a new user builds it (the default predefined
  recognizers, all entities) on the same spaCy model (:func:`pipeline.nlp.presidio_nlp_engine`),
  then ``AnonymizerEngine`` with its default ``replace`` operator (``<PERSON>``...).

Measured for each: identifiers leaked (every ``must_not_survive`` string of ``<stem>.expected.json``,
by type, with :func:`pipeline.compliance.replay.survives`, the rule the compliance replay uses), gendered
pronouns, neopronouns and titles left outside placeholders, ``must_keep`` phrases kept (case-insensitive,
whitespace-normalised, as the replay checks them), letters per second (3 timed passes after a warm-up
pass) and memory (process VmHWM after each redactor's stage, with the high-water mark reset between
stages where the kernel allows it, and the tracemalloc peak of one pass). For ours also the cost of
the fail-closed catch-all: the words it removed as ``[ID_n]`` (the type of the catch-all and of
shape-only ID numbers) that no ``must_not_survive`` value asked to remove.

Never prints or returns a letter value: entity types and counts only. Everything but the timings and
memory figures is deterministic.

Presidio's default ``EmailRecognizer`` validates domains with ``tldextract``, which fetches the public
suffix list over the network on first use. Here that recognizer is swapped for a subclass whose
extractor has no suffix-list URLs and no disk cache: it uses the snapshot bundled with tldextract and
never opens a socket.

Standalone: ``python -m bench.redaction [--fixtures DIR] [--passes N] [--json PATH]``.
For ``python -m bench``: :func:`run` returns the results dict and prints nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.patterns import PLACEHOLDER_RE

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
TIMED_PASSES = 3
NAME = "redaction"
COLUMNS = ("ours", "presidio")
COLUMN_TITLES = {"ours": "ours", "presidio": "plain Presidio"}

# Gendered pronouns and neopronouns, any case, whole words.
_PRONOUNS = re.compile(r"\b(?:he|she|him|her|his|hers|himself|herself|xe|xem|xyr|ze|zir|hir)\b", re.IGNORECASE)
# Gendered titles: "Mr", "Mrs", "Ms", "Mx" as title case or capitals (an optional full stop);
# "Miss" (a verb too) and "MS" (multiple sclerosis too) only before a capitalised word or a placeholder.
_TITLES = re.compile(r"\b(?:(?:Mr|Mrs|Ms|Mx|MR|MRS|MX)\b|(?:Miss|MISS|MS)(?=\.?[ \t]+[A-Z]))")
# Placeholders of either redactor: ours "[PERSON_1]", "[they]", "[TITLE]"; Presidio's "<PERSON>".
# They are replaced by a neutral capitalised word before counting, so "Miss [PERSON_1]" still counts.
_PLACEHOLDERS = re.compile(PLACEHOLDER_RE.pattern + r"|<[A-Z][A-Z_0-9]*>")


# -- inputs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    stem: str
    text: str  # the letter both redactors see
    source: str  # "extracted" or "golden" (extraction gave no letter)
    mail: Any  # ParsedMail, or None when the message would not parse
    letter: Any  # pipeline.models.Letter
    must_not_survive: dict[str, list[str]]
    must_keep: list[str]


def fixture_stems(fixtures: Path = FIXTURES) -> list[str]:
    """Stems of the fixtures with a golden letter, sorted."""
    return sorted(p.name[: -len(".letter.txt")] for p in fixtures.glob("*.letter.txt"))


def load_cases(stems: Iterable[str] | None = None, fixtures: Path = FIXTURES) -> list[Case]:
    from pipeline.models import IntakeOutcome, Letter, ParsedMail
    from pipeline.stages.extract import extract
    from pipeline.stages.parse import parse

    cases = []
    for stem in sorted(stems) if stems is not None else fixture_stems(fixtures):
        golden = (fixtures / f"{stem}.letter.txt").read_text(encoding="utf-8")
        truth = json.loads((fixtures / f"{stem}.expected.json").read_text(encoding="utf-8"))
        mail: Any = None
        letter: Any = None
        try:
            mail = parse((fixtures / f"{stem}.eml").read_bytes())
            letter = extract(mail)
        except IntakeOutcome:
            letter = None
        source = "extracted"
        if letter is None or not letter.text.strip():
            letter, source = Letter(text=golden, sources=("golden",)), "golden"
        if mail is None:
            mail = ParsedMail()
        cases.append(
            Case(
                stem=stem,
                text=letter.text,
                source=source,
                mail=mail,
                letter=letter,
                must_not_survive={
                    t: [v for v in vs if v.strip()] for t, vs in sorted((truth.get("must_not_survive") or {}).items())
                },
                must_keep=[p for p in truth.get("must_keep") or [] if p.strip()],
            )
        )
    return cases


# -- the two redactors --------------------------------------------------------------------------
def ours() -> Callable[[Case], str]:
    from pipeline.stages.identifiers import seed_identifiers
    from pipeline.stages.redaction import get_redactor

    redactor = get_redactor()

    def redact(case: Case) -> str:
        return redactor.redact(case.text, seed_identifiers(case.mail, case.letter)).text

    return redact


def offline_email_recognizer_class() -> type:
    """Presidio's EmailRecognizer with a tldextract that never touches the network or the disk."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extractor = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extractor(pattern_text).fqdn != ""

    return OfflineEmailRecognizer


@contextmanager
def _presidio_own_recognizer_classes(overrides: dict[str, type]) -> Iterator[None]:
    """While building, resolve the default configuration's recognizer names to Presidio's own classes.

    Presidio's YAML loader looks a predefined recognizer up by class ``__name__`` among *all*
    ``EntityRecognizer`` subclasses in the process, an unordered set. ``pipeline.stages.redaction.recognizers``
    defines its own ``EmailRecognizer`` and ``UrlRecognizer``, so once it is imported a default
    ``AnalyzerEngine`` would get one of ours at random, or fail (our ``UrlRecognizer`` takes no
    ``name``). Plain Presidio must be plain: only classes from ``presidio_analyzer`` (or the offline
    email override) are considered here.
    """
    from presidio_analyzer.recognizer_registry.recognizers_loader_utils import RecognizerListLoader

    original = RecognizerListLoader.__dict__["get_existing_recognizer_cls"]

    def resolve(recognizer_name: str) -> type:
        if recognizer_name in overrides:
            return overrides[recognizer_name]
        own = sorted(
            (
                c
                for c in RecognizerListLoader.get_all_existing_recognizers()
                if c.__name__ == recognizer_name and c.__module__.split(".")[0] == "presidio_analyzer"
            ),
            key=lambda c: c.__module__,
        )
        return own[0] if own else original.__func__(recognizer_name)

    RecognizerListLoader.get_existing_recognizer_cls = staticmethod(resolve)  # type: ignore[method-assign]
    try:
        yield
    finally:
        RecognizerListLoader.get_existing_recognizer_cls = original  # type: ignore[method-assign]


def plain_presidio_analyzer() -> Any:
    """``AnalyzerEngine`` as a new user builds it (default configuration, all predefined recognizers),
    on our spaCy model, with Presidio's own recognizer classes and email validation offline."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    from pipeline.nlp import presidio_nlp_engine

    offline = offline_email_recognizer_class()
    with _presidio_own_recognizer_classes({"EmailRecognizer": offline}):
        analyzer = AnalyzerEngine(nlp_engine=presidio_nlp_engine(), supported_languages=["en"])
    for rec in analyzer.registry.recognizers:
        module = type(rec).__module__.split(".")[0]
        if module != "presidio_analyzer" and not isinstance(rec, offline):
            raise RuntimeError(f"plain Presidio got a foreign recognizer: {type(rec).__name__}")
        if isinstance(rec, EmailRecognizer) and not isinstance(rec, offline):
            raise RuntimeError("plain Presidio's EmailRecognizer would go online")
    return analyzer


def presidio() -> Callable[[Case], str]:
    from presidio_anonymizer import AnonymizerEngine

    analyzer = plain_presidio_analyzer()
    anonymizer = AnonymizerEngine()

    def redact(case: Case) -> str:
        results = analyzer.analyze(text=case.text, language="en")
        return anonymizer.anonymize(text=case.text, analyzer_results=results).text

    return redact


REDACTORS: dict[str, Callable[[], Callable[[Case], str]]] = {"ours": ours, "presidio": presidio}


# -- scoring ------------------------------------------------------------------------------------
CATCH_ALL_TYPE = "ID"


def catch_all_over_redaction(cases: list[Case]) -> dict[str, Any]:
    """Words our redactor removed as ``[ID_n]`` that no ``must_not_survive`` value of the letter
    covers: what failing closed on digit runs costs. Counts only."""
    from pipeline.compliance.replay import survives
    from pipeline.stages.identifiers import seed_identifiers
    from pipeline.stages.redaction import get_redactor

    redactor = get_redactor()
    removals = over = words = 0
    letters: set[str] = set()
    for case in cases:
        redaction = redactor.redact(case.text, seed_identifiers(case.mail, case.letter))
        values = [v for vs in case.must_not_survive.values() for v in vs]
        for match in PLACEHOLDER_RE.finditer(redaction.text):
            if match.group("type") != CATCH_ALL_TYPE:
                continue
            removals += 1
            original = redaction.vault.get(match.group(0), "")
            if any(survives(v, original) or survives(original, v) for v in values):
                continue
            over += 1
            words += len(original.split())
            letters.add(case.stem)
    return {"id_removals": removals, "not_asked_for": over, "words": words, "letters": len(letters)}


def gendered_left(text: str) -> dict[str, int]:
    """Gendered pronouns/neopronouns and titles left outside placeholders (counts only)."""
    masked = _PLACEHOLDERS.sub("Placeholder", text)
    return {"pronouns": len(_PRONOUNS.findall(masked)), "titles": len(_TITLES.findall(masked))}


def _normalised(text: str) -> str:
    return " ".join(text.split()).lower()


def score(cases: list[Case], outputs: list[str]) -> dict[str, Any]:
    """Leaks by type, gendered words left and phrases kept; types and counts only, never values."""
    from pipeline.compliance.replay import survives

    by_type: dict[str, dict[str, int]] = {}
    strings = present = leaked = leaked_present = 0
    pronouns = titles = keep = kept = 0
    fixtures_leaking = fixtures_gendered = 0
    for case, out in zip(cases, outputs, strict=True):
        case_leaks = 0
        for etype, values in case.must_not_survive.items():
            row = by_type.setdefault(etype, {"strings": 0, "present": 0, "leaked": 0})
            for value in values:
                in_letter = survives(value, case.text)
                leak = survives(value, out)
                strings += 1
                present += in_letter
                leaked += leak
                leaked_present += leak and in_letter
                row["strings"] += 1
                row["present"] += in_letter
                row["leaked"] += leak
                case_leaks += leak
        g = gendered_left(out)
        pronouns += g["pronouns"]
        titles += g["titles"]
        fixtures_leaking += case_leaks > 0
        fixtures_gendered += (g["pronouns"] + g["titles"]) > 0
        normalised = _normalised(out)
        keep += len(case.must_keep)
        kept += sum(_normalised(p) in normalised for p in case.must_keep)
    return {
        "letters": len(cases),
        "identifiers": {
            "strings": strings,
            "present_in_letter": present,
            "leaked": leaked,
            "leak_rate": _rate(leaked, strings),
            "leak_rate_of_present": _rate(leaked_present, present),
            "fixtures_leaking": fixtures_leaking,
            "by_type": dict(sorted(by_type.items())),
        },
        "gendered_left": {
            "pronouns": pronouns,
            "titles": titles,
            "total": pronouns + titles,
            "fixtures_with_any": fixtures_gendered,
        },
        "must_keep": {"phrases": keep, "kept": kept, "kept_rate": _rate(kept, keep)},
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- memory -------------------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


# -- measuring ----------------------------------------------------------------------------------
def measure(
    cases: list[Case],
    *,
    passes: int = TIMED_PASSES,
    redactors: Iterable[str] = COLUMNS,
    trace_memory: bool = True,
) -> dict[str, Any]:
    """Run each redactor over ``cases``: one warm-up pass that is also the scored pass (output is
    deterministic), ``passes`` timed passes, then (optionally) one pass under tracemalloc."""
    from pipeline.nlp import presidio_nlp_engine

    t0 = time.perf_counter()
    presidio_nlp_engine()  # the shared spaCy model: loaded once, before either stage
    model_seconds = time.perf_counter() - t0
    baseline = _status_kib("VmRSS")
    columns: dict[str, Any] = {}
    for name in redactors:
        gc.collect()
        hwm_reset = _reset_hwm()
        t0 = time.perf_counter()
        redact = REDACTORS[name]()
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        outputs = [redact(c) for c in cases]
        warmup = time.perf_counter() - t0
        result = score(cases, outputs)
        if name == "ours":
            result["catch_all"] = catch_all_over_redaction(cases)
        # The same text twice must give the same output (our placeholders are stable per case).
        result["deterministic"] = [redact(c) for c in cases[:2]] == outputs[:2]
        t0 = time.perf_counter()
        for _ in range(passes):
            for c in cases:
                redact(c)
        timed = time.perf_counter() - t0
        hwm = _status_kib("VmHWM")
        traced = None
        t0 = time.perf_counter()
        if trace_memory and cases:
            gc.collect()
            tracemalloc.start()
            for c in cases:
                redact(c)
            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        trace_seconds = time.perf_counter() - t0
        n = len(cases) * passes
        result["speed"] = {
            "build_seconds": round(build, 3),
            "warmup_seconds": round(warmup, 3),
            "timed_passes": passes,
            "timed_seconds": round(timed, 3),
            "letters_per_second": round(n / timed, 2) if timed > 0 and n else None,
            "tracemalloc_pass_seconds": round(trace_seconds, 3),
        }
        result["memory"] = {
            "vm_hwm_mib": _mib(hwm),
            "hwm_reset_before_stage": hwm_reset,
            "tracemalloc_peak_mib_one_pass": None if traced is None else round(traced / 2**20, 2),
        }
        columns[name] = result
    return {
        "fixtures": [c.stem for c in cases],
        "letter_source": {c.stem: c.source for c in cases},
        "model_load_seconds": round(model_seconds, 3),
        "rss_after_model_mib": _mib(baseline),
        "columns": columns,
    }


def run(fixtures: Path = FIXTURES, *, passes: int = TIMED_PASSES, stems: Iterable[str] | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the results (for ``python -m bench``'s combined JSON)."""
    _quiet_presidio()
    t0 = time.perf_counter()
    cases = load_cases(stems, fixtures)
    load = time.perf_counter() - t0
    results = measure(cases, passes=passes)
    results["load_seconds"] = round(load, 3)
    results["total_seconds"] = round(time.perf_counter() - t0, 3)
    results["vm_hwm_process_mib"] = _mib(_status_kib("VmHWM"))
    return {"name": NAME, **results}


def _quiet_presidio() -> None:
    # Presidio logs each recognizer it loads or skips at INFO/WARNING; none of it carries letter text.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)


# -- output -------------------------------------------------------------------------------------
def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def table_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """(metric, ours, plain Presidio) rows: types and counts only."""
    cols = [results["columns"][c] for c in COLUMNS if c in results["columns"]]
    rows: list[tuple[str, ...]] = []

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        rows.append((label, *(fn(c) for c in cols)))

    row("letters", lambda c: str(c["letters"]))
    row(
        "identifiers leaked",
        lambda c: (
            f"{c['identifiers']['leaked']} / {c['identifiers']['strings']} ({_pct(c['identifiers']['leak_rate'])})"
        ),
    )
    row(
        "  of those in the letter",
        lambda c: (
            f"{c['identifiers']['leaked']} / "
            f"{c['identifiers']['present_in_letter']} ({_pct(c['identifiers']['leak_rate_of_present'])})"
        ),
    )
    row("  letters with a leak", lambda c: str(c["identifiers"]["fixtures_leaking"]))
    types = sorted({t for c in cols for t in c["identifiers"]["by_type"]})
    for t in types:

        def by_type(c: dict[str, Any], t: str = t) -> str:
            v = c["identifiers"]["by_type"].get(t)
            return "-" if v is None else f"{v['leaked']} / {v['strings']}"

        row(f"  {t}", by_type)
    row("gendered pronouns left", lambda c: str(c["gendered_left"]["pronouns"]))
    row("gendered titles left", lambda c: str(c["gendered_left"]["titles"]))
    row(
        "must-keep phrases kept",
        lambda c: f"{c['must_keep']['kept']} / {c['must_keep']['phrases']} ({_pct(c['must_keep']['kept_rate'])})",
    )
    row(
        "catch-all over-redaction",
        lambda c: (
            f"{c['catch_all']['words']} words ({c['catch_all']['not_asked_for']} of "
            f"{c['catch_all']['id_removals']} [ID] removals, {c['catch_all']['letters']} letters)"
            if "catch_all" in c
            else "n/a"
        ),
    )
    row("deterministic", lambda c: "yes" if c["deterministic"] else "NO")
    row("letters / second", lambda c: f"{c['speed']['letters_per_second']}")
    row("engine build (s)", lambda c: f"{c['speed']['build_seconds']}")
    row("peak RSS, VmHWM (MiB)", lambda c: f"{c['memory']['vm_hwm_mib']}")
    row("tracemalloc peak, 1 pass (MiB)", lambda c: f"{c['memory']['tracemalloc_peak_mib_one_pass']}")
    return rows


def render(results: dict[str, Any]) -> str:
    cols = [COLUMN_TITLES[c] for c in COLUMNS if c in results["columns"]]
    rows = [("", *cols), *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        f"Redaction: {len(results['fixtures'])} fixture letters, "
        f"{results['columns'][next(iter(results['columns']))]['speed']['timed_passes']} timed passes"
    ]
    for i, r in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if j == 0 else cell.rjust(w) for j, (cell, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [
        f"golden letter used for {s} (extraction gave none)"
        for s, src in results["letter_source"].items()
        if src == "golden"
    ]
    hwm_note = (
        "VmHWM reset before each stage; the spaCy model "
        f"({results['rss_after_model_mib']} MiB RSS after loading) counts in both"
        if all(c["memory"]["hwm_reset_before_stage"] for c in results["columns"].values())
        else "VmHWM could not be reset: the second column includes the first"
    )
    lines += ["", *(f"note: {n}" for n in [*notes, hwm_note])]
    lines.append(f"total {results['total_seconds']} s, process VmHWM {results['vm_hwm_process_mib']} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.redaction", description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", type=Path, default=FIXTURES)
    ap.add_argument("--passes", type=int, default=TIMED_PASSES)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    results = run(args.fixtures, passes=args.passes)
    print(render(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
