"""Blind figures beside tuned ones: the same scorer on letters nobody tuned on and on our fixtures.

``fixtures/blind/<round>/`` holds letters written by people who never saw the code, with a ``manifest.json``
in the schema of the shared evaluation scorer (``bench/eval_score.py``, a verbatim copy of
``shared/eval/score.py``). ``fixtures/emails/`` is the corpus the rules were tuned on; its
hand-written ``expected.json`` files are turned into a manifest of the same schema
(:func:`manifest_from_expected`), so both folders are measured by one scorer in one way.

Each folder is replayed in process through the full pipeline (:func:`pipeline.compliance.replay.replay`), the
scorer reads the outputs, and this module reports its totals: client identifiers left (by kind),
letters leaking, client pronouns left, clinical phrases kept, section accuracy, and genuine letters
quarantined. The blind figure is the one to believe; the tuned one only shows the rules still hold
on the letters they were written from.

Never prints a value: the scorer's per-file lines (which quote the leaked strings) are discarded;
only counts and kinds are read from its JSON report.

Standalone: ``python -m bench.blind [ROUND_FOLDER ...]`` (default: every round under
``fixtures/blind``). For ``python -m bench``: :func:`run` and
:func:`render`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BLIND = ROOT / "fixtures" / "blind"  # one folder per round: round5/, round6/, ... (newest = fresh)
TUNED = ROOT / "fixtures" / "emails"
SCORER = Path(__file__).resolve().parent / "eval_score.py"
NAME = "blind"
SEEN = "SEEN.md"  # in a round's folder: its misses were read and fixed (why, in its own words)

# expected.json entity types -> the scorer's client_pii kinds; THERAPIST is scored as other_pii.
_KINDS = {
    "PERSON": "name",
    "RELATIVE": "relative",
    "EMAIL": "email",
    "PHONE_NUMBER": "phone",
    "UK_NHS": "id",
    "UK_NINO": "id",
    "UK_POSTCODE": "postcode",
    "ADDRESS": "address",
    "DATE_OF_BIRTH": "dob",
    "EMPLOYER": "employer",
    "REGISTRATION_NUMBER": "other",
    "EMPLOYEE_ID": "id",
}


def _occurrences(value: str, text: str) -> tuple[int, int]:
    """Whole-word occurrences of ``value`` in ``text``, and how many of them are the ordinary word
    (a capitalised one-word name found in lower case: "will" for a client called Will), which the
    manifest schema calls ``allowed``."""
    body = r"\s+".join(re.escape(part) for part in value.split())
    if not body:
        return 0, 0
    found = re.findall(rf"(?<!\w){body}(?!\w)", text, re.IGNORECASE)
    ordinary = " " not in value.strip() and value != value.lower()
    return len(found), sum(1 for f in found if ordinary and f.islower())


def manifest_from_expected(folder: Path = TUNED) -> list[dict[str, Any]]:
    """A scorer manifest for a folder of tuned fixtures, from their hand-written expected.json.

    ``in_source`` counts whole-word occurrences in the reviewed unredacted letter
    (``<stem>.letter.txt``) and ``allowed`` those that are the ordinary word, the rule
    ``--ground-truth`` applies; a fixture without a letter has nothing present to leak."""
    manifest = []
    for truth_path in sorted(folder.glob("*.expected.json")):
        stem = truth_path.name[: -len(".expected.json")]
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        letter_path = folder / f"{stem}.letter.txt"
        letter = letter_path.read_text(encoding="utf-8") if letter_path.exists() else ""
        client, other = [], []
        for etype, values in sorted((truth.get("must_not_survive") or {}).items()):
            for value in values:
                if value.strip():
                    in_source, allowed = _occurrences(value, letter)
                    detail = {
                        "text": value,
                        "kind": _KINDS.get(etype, "other"),
                        "in_source": in_source,
                        "allowed": allowed,
                    }
                    (other if etype == "THERAPIST" else client).append(detail)
        manifest.append(
            {
                "file": f"{stem}.eml",
                "client_pii": [d["text"] for d in client],
                "client_pii_detail": client,
                "other_pii": [d["text"] for d in other],
                "other_pii_detail": other,
                "must_keep": list(truth.get("must_keep") or []),
                "sections": truth["sections"],
                "sessions_requested": truth.get("sessions_requested"),
                "period": truth.get("period"),
                "genuine_letter": bool(letter),
            }
        )
    return manifest


def replay_folder(folder: Path, out: Path) -> None:
    """Every message of ``folder`` through the full pipeline, outputs in ``out`` (fresh keys and data)."""
    from cryptography.fernet import Fernet

    from pipeline.compliance.replay import per_message_logs_quiet, replay
    from pipeline.config import load_settings

    settings = load_settings(
        data_dir=out.parent / "data", vault_key=Fernet.generate_key().decode(), hash_key="blind-bench-hash-key"
    )
    with per_message_logs_quiet():  # restored afterwards: a caller's own log capture stays as it was
        replay(folder, out, settings=settings)


def score(out: Path, manifest: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the shared scorer on replay outputs; its JSON report (its printed lines are discarded)."""
    with tempfile.TemporaryDirectory(prefix="plumm-score-") as tmp:
        manifest_path, report_path = Path(tmp) / "manifest.json", Path(tmp) / "report.json"
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        subprocess.run(
            [
                sys.executable,
                str(SCORER),
                str(out),
                "--manifest",
                str(manifest_path),
                "--quiet",
                "--json",
                str(report_path),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
        return json.loads(report_path.read_text(encoding="utf-8"))


def _rate(part: int, whole: int) -> dict[str, Any]:
    return {"part": part, "whole": whole, "rate": round(part / whole, 4) if whole else None}


def figures(report: dict[str, Any], manifest: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    """The scorer's totals plus what it does not compute: leaks by kind (from the manifest's
    ``kind``), sessions/period accuracy and genuine letters quarantined. Counts only."""
    totals = report["totals"]
    by_file = {entry["file"]: entry for entry in manifest}
    present: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    for entry in manifest:
        for detail in entry.get("client_pii_detail") or []:
            if detail.get("in_source", 1) > 0:
                present[detail.get("kind", "other")] += 1
    for scored in report["files"]:
        kinds = {
            d["text"].casefold(): d.get("kind", "other") for d in by_file[scored["file"]].get("client_pii_detail") or []
        }
        for leak in scored.get("client_leaks") or []:
            if leak["in_source"] > 0:
                leaked[kinds.get(leak["text"].casefold(), "other")] += 1
    asks = ok_sessions = ok_period = quarantined = genuine = 0
    for entry in manifest:
        summary = json.loads((out / f"{Path(entry['file']).stem}.json").read_text(encoding="utf-8"))
        if entry.get("genuine_letter", True):
            genuine += 1
            quarantined += summary["status"] == "quarantined"
        if entry.get("sessions_requested") is not None or entry.get("period") is not None:
            asks += 1
            ok_sessions += summary.get("sessions_requested") == entry.get("sessions_requested")
            ok_period += summary.get("period") == entry.get("period")
    return {
        "files": totals["files"],
        "client_pii_left": _rate(totals["c_leaked_present"], totals["c_present"]),
        "client_pii_left_by_kind": {k: _rate(leaked[k], present[k]) for k in sorted(present)},
        "letters_leaking": _rate(totals["c_files_leaking"], totals["scored"]),
        "client_pronouns_left": _rate(totals["p_leaked"], totals["p_client"]),
        "other_pii_left": _rate(totals["o_leaked_present"], totals["o_present"]),
        "must_keep_kept": _rate(totals["mk_kept"], totals["mk_total"]),
        "needs_right": _rate(totals["sec_needs_ok"], totals["sec_pred"]),
        "recommendation_right": _rate(totals["sec_rec_ok"], totals["sec_pred"]),
        "both_sections_right": _rate(totals["sec_both_ok"], totals["sec_expected"]),
        "sessions_right": _rate(ok_sessions, asks),
        "period_right": _rate(ok_period, asks),
        "genuine_letters_quarantined": _rate(quarantined, genuine),
    }


CHECKS = ("client_pii", "pronouns", "must_keep", "sections", "quarantined")


def applies(entry: dict[str, Any], check: str) -> bool:
    """Whether a manifest entry is scored on ``check`` (a non-letter keeps no phrase and cannot be
    a genuine letter quarantined)."""
    genuine = entry.get("genuine_letter", True)
    return {
        "must_keep": genuine and bool(entry.get("must_keep")),
        "quarantined": genuine,
        "pronouns": bool(entry.get("pronoun_counts")),
        "client_pii": bool(entry.get("client_pii")),
        "sections": "sections" in entry,
    }[check]


def misses(report: dict[str, Any], manifest: list[dict[str, Any]], out: Path) -> dict[str, dict[str, int]]:
    """Per file, the checks it fails and by how many (leaks, pronouns, phrases lost; 1 for a wrong
    verdict or a quarantined genuine letter): the content of a round's ``known-misses.json``. Counts
    only, never a value."""
    scored = {f["file"]: f for f in report["files"]}
    found: dict[str, dict[str, int]] = {}
    for entry in manifest:
        result = scored[entry["file"]]
        summary = json.loads((out / f"{Path(entry['file']).stem}.json").read_text(encoding="utf-8"))
        counts = {
            "client_pii": len(result["client_leaks"]),
            "pronouns": sum(p["leaked"] for p in result["pronoun_leaks"]),
            "must_keep": len(result["must_keep_missing"]),
            "sections": int(result["sections"]["correct"] is not True),
            "quarantined": int(summary["status"] == "quarantined"),
        }
        failed = {c: n for c, n in counts.items() if n and applies(entry, c)}
        if failed:
            found[entry["file"]] = failed
    return found


def record(folder: Path) -> dict[str, dict[str, int]]:
    """Replay and score one round and write its ``known-misses.json`` (run once, before any fix for
    the round; afterwards a fix only ever removes entries)."""
    manifest = load_manifest(folder)
    with tempfile.TemporaryDirectory(prefix="plumm-blind-") as tmp:
        out = Path(tmp) / "out"
        replay_folder(folder, out)
        found = misses(score(out, manifest), manifest, out)
    (folder / "known-misses.json").write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return found


def measure(folder: Path, manifest: list[dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="plumm-blind-") as tmp:
        out = Path(tmp) / "out"
        replay_folder(folder, out)
        return figures(score(out, manifest), manifest, out)


def load_manifest(folder: Path) -> list[dict[str, Any]]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def rounds(folder: Path = BLIND) -> list[Path]:
    """The blind rounds, oldest first. The newest one nobody has read is the fresh round, scored
    before any fix for it: its figures are the ones to believe. A round whose misses were read and
    fixed is seen: every round older than the fresh one, and any round with a ``SEEN.md`` saying
    why (a development round, written to be fixed on while an older one stays unread)."""
    found = sorted((p for p in folder.iterdir() if (p / "manifest.json").is_file()), key=_round_number)
    if not found:
        raise FileNotFoundError(f"no blind round (a folder with manifest.json) under {folder}")
    return found


def _round_number(path: Path) -> tuple[int, str]:
    digits = re.sub(r"\D", "", path.name)
    return (int(digits) if digits else -1, path.name)


def is_seen(round_folder: Path) -> bool:
    return (round_folder / SEEN).is_file()


def fresh_round(folder: Path = BLIND) -> Path:
    unread = [r for r in rounds(folder) if not is_seen(r)]
    if not unread:
        raise FileNotFoundError(f"every blind round under {folder} is seen (has {SEEN})")
    return unread[-1]


def run(folders: list[Path] | None = None) -> dict[str, Any]:
    chosen = folders or rounds()
    unread = [f for f in chosen if not is_seen(f)]
    return {
        "name": NAME,
        "rounds": {f.name: measure(f, load_manifest(f)) for f in chosen},
        "fresh": unread[-1].name if unread else None,
        "tuned": measure(TUNED, manifest_from_expected(TUNED)),
    }


_ROWS = [
    ("client identifiers left", "client_pii_left"),
    ("letters leaking", "letters_leaking"),
    ("client pronouns left", "client_pronouns_left"),
    ("other people's identifiers left", "other_pii_left"),
    ("clinical phrases kept", "must_keep_kept"),
    ("needs verdict right", "needs_right"),
    ("recommendation verdict right", "recommendation_right"),
    ("both verdicts right", "both_sections_right"),
    ("sessions right (letters stating them)", "sessions_right"),
    ("period right (letters stating them)", "period_right"),
    ("genuine letters quarantined", "genuine_letters_quarantined"),
]


def _cell(figure: dict[str, Any]) -> str:
    if not figure["whole"]:
        return "n/a"
    return f"{figure['part']}/{figure['whole']} = {figure['rate'] * 100:.1f}%"


def render(results: dict[str, Any]) -> str:
    columns = [
        (f"{name} ({'fresh: believe this' if name == results['fresh'] else 'seen'})", figures)
        for name, figures in results["rounds"].items()
    ] + [("tuned fixtures", results["tuned"])]
    rows = [("", *(title for title, _ in columns)), ("letters", *(str(c["files"]) for _, c in columns))]
    rows += [(label, *(_cell(c[key]) for _, c in columns)) for label, key in _ROWS]
    kinds = sorted(set().union(*(c["client_pii_left_by_kind"] for _, c in columns)))
    rows += [
        (
            f"  {kind} left",
            *(_cell(c["client_pii_left_by_kind"].get(kind, {"part": 0, "whole": 0})) for _, c in columns),
        )
        for kind in kinds
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["Blind rounds (fixtures/blind/<round>, never tuned on) beside the tuned corpus, one scorer (shared/eval)"]
    for i, r in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if j == 0 else cell.rjust(w) for j, (cell, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--record"]:  # python -m bench.blind --record ROUND_FOLDER
        for arg in sys.argv[2:]:
            recorded = record(Path(arg).resolve())
            print(f"{arg}: {len(recorded)} letters with a recorded miss")
    else:
        print(render(run([Path(a).resolve() for a in sys.argv[1:]] or None)))
