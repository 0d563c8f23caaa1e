"""The replay report: ``report.json`` and ``report.txt`` from :func:`report_data` (deterministic:
sorted keys and lists, no times or paths), and ``report.html``, one page for compliance staff with
no JavaScript and inline CSS only.

Contract: :func:`render_html` takes the deterministic report data and the
redacted letters and subject lines (the text a CSM sees, with any surviving ground-truth value
already masked as ``[LEAK:TYPE]`` by the caller) and returns the same bytes for the same inputs. Every text is
HTML-escaped; placeholders (``[PERSON_1]``, ``[EMAIL_2]``, ``[they]``, ``[LEAK:PERSON]``) are marked
with ``<mark class="ph ph-<type>">``. Nothing else reaches the page, so a removed value never does.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from pipeline.compliance.replay.matching import Scrubber
from pipeline.compliance.replay.results import ReplayRun
from pipeline.patterns import NEUTRAL_PRONOUNS, PLACEHOLDER_RE

# A placeholder as redaction writes it ("[PERSON_1]", "[TITLE]", "[they]"), or a surviving
# ground-truth value masked by the replay ("[LEAK:PERSON]").
MARKED = re.compile(r"\[LEAK:(?P<leak>[A-Z_]+)\]|" + PLACEHOLDER_RE.pattern)

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
 background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:0 0 8px} h3{font-size:15px;margin:16px 0 6px}
.verdict{display:inline-block;padding:4px 12px;border-radius:6px;font-weight:700;color:#fff}
.pass{background:#1a7f37} .fail{background:#c62828} .muted{color:#5b6472}
section{background:#fff;border:1px solid #d9dde3;border-radius:8px;padding:16px 20px;margin:16px 0}
table{border-collapse:collapse;margin:4px 0 8px}
td,th{border-bottom:1px solid #e6e9ee;padding:3px 12px 3px 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#3b4350}
.grid{display:flex;flex-wrap:wrap;gap:24px}
.status{font-weight:700} .yes{color:#1a7f37;font-weight:600} .no{color:#c62828;font-weight:600}
.leak{color:#c62828;font-weight:700}
pre.letter{white-space:pre-wrap;word-wrap:break-word;background:#fbfbfc;border:1px solid #e6e9ee;
 border-radius:6px;padding:12px;max-width:100%;
 font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
mark.ph{border-radius:3px;padding:0 2px;background:#fff3b0;color:#1d2330}
mark.ph-person,mark.ph-therapist,mark.ph-relative{background:#ffd6d6}
mark.ph-email,mark.ph-url{background:#d6e8ff}
mark.ph-phone,mark.ph-phone_number{background:#d9f2e3}
mark.ph-address,mark.ph-postcode,mark.ph-uk_postcode,mark.ph-location{background:#eadcff}
mark.ph-employer,mark.ph-org{background:#ffe2c2}
mark.ph-nhs,mark.ph-ni,mark.ph-uk_nhs,mark.ph-uk_nino,mark.ph-dob,mark.ph-date_of_birth,mark.ph-registration,mark.ph-employee_id{background:#ffd1ec}
mark.ph-pronoun{background:#e3e6ea;font-style:italic}
mark.ph-leak{background:#c62828;color:#fff;font-weight:700}
nav a{margin-right:12px}
q.evidence{display:inline-block;margin-top:2px;font-style:italic;color:#3b4350}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def highlight(letter: str) -> str:
    """HTML-escape the redacted letter and mark each placeholder with a class per type."""
    pieces: list[str] = []
    position = 0
    for match in MARKED.finditer(letter):
        pieces.append(_e(letter[position : match.start()]))
        neutral = match.group("neutral")
        kind = "leak" if match.group("leak") else (match.group("type") or neutral).lower()
        kind = "pronoun" if neutral in NEUTRAL_PRONOUNS else kind
        pieces.append(f'<mark class="ph ph-{_e(kind)}">{_e(match.group(0))}</mark>')
        position = match.end()
    pieces.append(_e(letter[position:]))
    return "".join(pieces)


def _table(rows: list[tuple[str, str]], head: tuple[str, str] | None = None) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    top = f"<tr><th>{_e(head[0])}</th><th>{_e(head[1])}</th></tr>" if head else ""
    body = "".join(f"<tr><td>{_e(a)}</td><td>{b}</td></tr>" for a, b in rows)
    return f"<table>{top}{body}</table>"


def _anchor(stem: str) -> str:
    return "m-" + re.sub(r"[^A-Za-z0-9_-]", "-", stem)


def _summary(summary: dict[str, Any], leaks: list[str]) -> str:
    parts = ['<section id="summary"><h2>Summary</h2>']
    if "passed" in summary:
        ok = summary["passed"]
        verdict = '<span class="verdict pass">PASS</span>' if ok else '<span class="verdict fail">FAIL</span>'
        parts.append(f"<p>{verdict}</p>")
    parts.append(f"<p>Messages replayed: <strong>{_e(summary['messages'])}</strong></p>")
    parts.append('<div class="grid"><div>')
    parts.append(
        "<h3>By status</h3>"
        + _table([(k, _e(v)) for k, v in sorted(summary["by_status"].items())], ("status", "messages"))
    )
    parts.append("</div><div><h3>Identifiers removed, by type</h3>")
    removed = [(k, _e(v)) for k, v in sorted(summary["entities_removed"].items())]
    parts.append(_table(removed, ("type", "removed")))
    parts.append("</div>")
    if "expect" in summary:
        e = summary["expect"]
        result = '<span class="yes">no drift</span>' if e["passed"] else '<span class="no">DRIFT</span>'
        rows = [("result", result)]
        rows += [("drifted", _e(stem)) for stem in e["drifted"]]
        rows += [("no golden file", _e(stem)) for stem in e["missing_golden"]]
        rows += [
            ("not compared: refused over SMTP (line over 998 bytes)", _e(stem))
            for stem in e.get("not_compared_refused_over_smtp", [])
        ]
        parts.append("<div><h3>Golden comparison (--expect)</h3>" + _table(rows) + "</div>")
    if "ground_truth" in summary:
        g = summary["ground_truth"]
        rate = "n/a" if g["leak_rate"] is None else f"{g['leak_rate'] * 100:.1f}%"
        kept = "n/a" if g["kept_rate"] is None else f"{g['kept_rate'] * 100:.1f}%"
        rows = [
            ("result", '<span class="yes">no leak</span>' if g["passed"] else '<span class="no">LEAK</span>'),
            ("fixtures with ground truth", _e(g["fixtures"])),
            ("must-not-survive strings", _e(g["strings"])),
            ("leaked", f"{_e(g['leaked_strings'])} ({_e(rate)})"),
            ("kept phrases", f"{_e(g['kept'])} of {_e(g['must_keep'])} ({_e(kept)})"),
            ("disagreements with expected.json", _e(g.get("disagreements", 0))),
        ]
        by_type = [(t, f"{_e(v['leaked'])} of {_e(v['strings'])}") for t, v in sorted(g["leaks_by_type"].items())]
        parts.append(
            "<div><h3>Ground truth (--ground-truth)</h3>"
            + _table(rows)
            + _table(by_type, ("type", "leaked"))
            + "</div>"
        )
    parts.append("</div>")
    if leaks:
        parts.append('<h3 class="leak">Leaks (type, fixture and list index; values are never shown)</h3><ul>')
        parts += [f'<li class="leak">{_e(leak)}</li>' for leak in leaks]
        parts.append("</ul>")
    for stem in summary.get("golden_refused", []):
        parts.append(
            f'<p class="leak">Golden files not written for {_e(stem)}: it leaks or contradicts expected.json.</p>'
        )
    parts.append("</section>")
    return "".join(parts)


def _message(m: dict[str, Any], letter: str, evidence: dict[str, str], subject: str = "") -> str:
    stem = m["message"]
    parts = [f'<section id="{_anchor(stem)}" class="message"><h2>{_e(stem)}</h2>']
    rows = [("outcome", f'<span class="status">{_e(m["status"])}</span>'), ("reason", _e(m["reason"] or "—"))]
    if m.get("stage"):
        rows.append(("stage", _e(m["stage"])))
    reasons = m.get("section_reasons") or {}
    for key, present in sorted((m["sections"] or {}).items()):
        verdict = '<span class="yes">present</span>' if present else '<span class="no">missing</span>'
        if reasons.get(key):
            verdict += f'<br><span class="muted">{_e(reasons[key])}</span>'
        if evidence.get(key):
            verdict += f'<br><q class="evidence">{highlight(evidence[key])}</q>'
        rows.append((f"section: {key}", verdict))
    if m.get("sessions_requested") is not None:
        rows.append(("sessions requested", _e(f"{m['sessions_requested']} {m.get('period') or ''}".strip())))
    elif m.get("period"):
        rows.append(("period", _e(m["period"])))
    if m.get("therapy"):
        rows.append(("therapy", _e(m["therapy"])))
    rows.append(("letter from", _e(", ".join(m.get("sources") or []) or "—")))
    rows.append(("acknowledged", "yes" if m.get("acknowledged") else "no"))
    if "golden" in m:
        cls = "yes" if m["golden"] == "same" else "no"
        rows.append(("golden", f'<span class="{cls}">{_e(m["golden"])}</span>'))
    gt = m.get("ground_truth")
    if gt is not None:
        leak_text = ", ".join(f"{x['type']}[{x['index']}] in {x['where']}" for x in gt["leaks"])
        rows.append(
            ("leaks", f'<span class="leak">{_e(leak_text)}</span>' if gt["leaks"] else '<span class="yes">none</span>')
        )
        rows.append(("kept phrases", _e(f"{gt['kept']} of {gt['must_keep']}")))
        for d in gt.get("disagreements", []):
            rows.append(
                (
                    f"disagrees: {d['field']}",
                    f'<span class="no">expected {_e(d["expected"])}, replay gave {_e(d["actual"])}</span>',
                )
            )
    parts.append('<div class="grid"><div>' + _table(rows) + "</div><div><h3>Removed, by type</h3>")
    parts.append(_table([(k, _e(v)) for k, v in sorted(m["entity_counts"].items())], ("type", "count")))
    parts.append("</div></div>")
    parts.append("<h3>Redacted letter (as a CSM sees it)</h3>")
    if m.get("subject_withheld"):
        parts.append('<p class="muted">Subject: withheld (its redaction could not be verified).</p>')
    elif subject:
        parts.append(f"<p>Subject: <strong>{highlight(subject)}</strong></p>")
    if letter:
        parts.append(f'<pre class="letter">{highlight(letter)}</pre>')
    else:
        parts.append('<p class="muted">No letter is shown for this outcome.</p>')
    parts.append("</section>")
    return "".join(parts)


def render_html(
    data: dict[str, Any],
    letters: dict[str, str],
    *,
    leaks: list[str] | None = None,
    evidence: dict[str, dict[str, str]] | None = None,
    subjects: dict[str, str] | None = None,
) -> str:
    messages = data["messages"]
    nav = " ".join(f'<a href="#{_anchor(m["message"])}">{_e(m["message"])}</a>' for m in messages)
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Plumm replay report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>Plumm replay report</h1>",
        '<p class="muted">What the intake pipeline kept and removed for each message. '
        "Removed values are never shown: only their types and counts.</p>",
        _summary(data["summary"], leaks or []),
        f"<nav>{nav}</nav>",
        *(
            _message(
                m,
                letters.get(m["message"], ""),
                (evidence or {}).get(m["message"], {}),
                (subjects or {}).get(m["message"], ""),
            )
            for m in messages
        ),
        "</main></body></html>",
    ]
    return "\n".join(body) + "\n"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report_data(run: ReplayRun) -> dict[str, Any]:
    """Everything the reports show, deterministic (sorted keys and lists, no times or paths)."""
    results = run.results
    by_status = Counter(r.summary["status"] for r in results)
    entities: Counter[str] = Counter()
    for r in results:
        entities.update(r.summary["entity_counts"])
    summary: dict[str, Any] = {
        "messages": len(results),
        "by_status": dict(sorted(by_status.items())),
        "entities_removed": dict(sorted(entities.items())),
    }
    drift_by_stem = {d.stem: d for d in run.drifts or []}
    truth_by_stem = {gt.stem: gt for gt in run.ground_truth or []}
    if run.drifts is not None:
        summary["expect"] = {
            "passed": not run.drifts,
            "drifted": sorted(d.stem for d in run.drifts if not d.missing),
            "missing_golden": sorted(d.stem for d in run.drifts if d.missing),
        }
        if run.not_compared:
            summary["expect"]["not_compared_refused_over_smtp"] = run.not_compared
    if run.ground_truth is not None:
        leaks = run.leaks
        leaked_strings = {(leak.stem, leak.entity_type, leak.index) for leak in leaks}
        strings_by_type: Counter[str] = Counter()
        for gt in run.ground_truth:
            strings_by_type.update(gt.by_type)
        leaks_by_type = Counter(etype for _stem, etype, _i in leaked_strings)
        strings = sum(gt.strings for gt in run.ground_truth)
        must_keep = sum(gt.must_keep for gt in run.ground_truth)
        kept = sum(gt.kept for gt in run.ground_truth)
        disagreements = run.disagreements
        summary["ground_truth"] = {
            "passed": not leaks and not disagreements,
            "disagreements": len(disagreements),
            "disagreements_by_field": dict(sorted(Counter(_field_kind(d.field) for d in disagreements).items())),
            "fixtures": len(run.ground_truth),
            "strings": strings,
            "leaked_strings": len(leaked_strings),
            "leak_rate": _rate(len(leaked_strings), strings),
            "leaks_by_type": {
                t: {"strings": n, "leaked": leaks_by_type.get(t, 0)} for t, n in sorted(strings_by_type.items())
            },
            "must_keep": must_keep,
            "kept": kept,
            "kept_rate": _rate(kept, must_keep),
        }
    if run.golden_refused:
        summary["golden_refused"] = sorted(run.golden_refused)
    if run.drifts is not None or run.ground_truth is not None or run.golden_refused:
        summary["passed"] = run.passed
    messages = []
    for r in results:
        entry: dict[str, Any] = {"message": r.stem, **r.summary}
        if run.drifts is not None:
            drift = drift_by_stem.get(r.stem)
            entry["golden"] = (
                "not-compared"
                if r.stem in run.not_compared
                else "same"
                if drift is None
                else "missing"
                if drift.missing
                else "drift"
            )
        truth = truth_by_stem.get(r.stem)
        if truth is not None:
            entry["ground_truth"] = {
                "strings": truth.strings,
                "leaks": [{"type": leak.entity_type, "index": leak.index, "where": leak.where} for leak in truth.leaks],
                "must_keep": truth.must_keep,
                "kept": truth.kept,
                "missing_kept": list(truth.missing_kept),
                "disagreements": [
                    {"field": d.field, "expected": d.expected, "actual": d.actual} for d in truth.disagreements
                ],
            }
        messages.append(entry)
    return {"summary": summary, "messages": messages}


def _field_kind(field_name: str) -> str:
    """``status`` stays ``status``; ``ADDRESS[2] replaced by`` becomes ``placeholder kind``."""
    return "placeholder kind" if field_name.endswith(" replaced by") else field_name


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def report_text(data: dict[str, Any], run: ReplayRun) -> str:
    s = data["summary"]
    lines = [f"Replay of {s['messages']} messages", ""]
    if "passed" in s:
        lines += [f"RESULT: {'PASS' if s['passed'] else 'FAIL'}", ""]
    lines += [f"  {status:<22} {count}" for status, count in sorted(s["by_status"].items())]
    lines += ["", "Identifiers removed, by type:"]
    lines += [f"  {etype:<22} {count}" for etype, count in sorted(s["entities_removed"].items())]
    if "expect" in s:
        e = s["expect"]
        lines += ["", f"Golden comparison: {'no drift' if e['passed'] else 'DRIFT'}"]
        lines += [f"  drifted: {stem}" for stem in e["drifted"]]
        lines += [f"  no golden file: {stem}" for stem in e["missing_golden"]]
        lines += [
            f"  not compared (line over 998 bytes, refused over SMTP): {stem}"
            for stem in e.get("not_compared_refused_over_smtp", [])
        ]
    if "ground_truth" in s:
        g = s["ground_truth"]
        lines += [
            "",
            f"Ground truth ({g['fixtures']} fixtures): {g['leaked_strings']} of {g['strings']} "
            f"must-not-survive strings leaked ({_pct(g['leak_rate'])}); kept phrases "
            f"{g['kept']}/{g['must_keep']} ({_pct(g['kept_rate'])})",
        ]
        lines += [
            f"  {etype:<22} {v['leaked']} leaked of {v['strings']}" for etype, v in sorted(g["leaks_by_type"].items())
        ]
        lines += [f"  LEAK {leak.describe()}" for leak in run.leaks]
        lines += ["", f"Outcome against expected.json: {g['disagreements']} disagreement(s)"]
        lines += [f"  {kind:<22} {count}" for kind, count in g["disagreements_by_field"].items()]
        lines += [f"  DISAGREE {d.describe()}" for d in run.disagreements]
    for stem in s.get("golden_refused", []):
        lines.append(f"  golden NOT written for {stem}: it leaks or contradicts expected.json")
    lines += ["", "Per message:"]
    for m in data["messages"]:
        flags = " ".join(f"{k}={'yes' if v else 'NO'}" for k, v in sorted((m["sections"] or {}).items()))
        extra = ""
        if "golden" in m:
            extra += f" golden={m['golden']}"
        if "ground_truth" in m:
            gt = m["ground_truth"]
            extra += f" leaks={len(gt['leaks'])} kept={gt['kept']}/{gt['must_keep']}"
            extra += f" disagreements={len(gt['disagreements'])}" if gt["disagreements"] else ""
        line = f"  {m['message']:<45} {m['status']:<22} {m['reason'] or '-':<38} {flags}{extra}"
        lines.append(line.rstrip())
        lines += [f"      {why}" for _key, why in sorted((m.get("section_reasons") or {}).items()) if why]
    return "\n".join(lines) + "\n"


def write_report(out: Path, run: ReplayRun) -> None:
    data = report_data(run)
    (out / "report.json").write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n"
    )
    (out / "report.txt").write_text(report_text(data, run), encoding="utf-8", newline="\n")
    # The page shows the letter as a CSM sees it, except a ground-truth value that survived,
    # which is shown as [LEAK:TYPE]: the report proves the leak without repeating it.
    scrub = run.scrubber or Scrubber({})
    letters = {r.stem: scrub.known(r.letter) for r in run.results}
    subjects = {r.stem: scrub.known(r.summary.get("subject") or "") for r in run.results}
    evidence = {r.stem: {key: scrub.known(sentence) for key, sentence in r.evidence} for r in run.results}
    leaks = [leak.describe() for leak in run.leaks]
    (out / "report.html").write_text(
        render_html(data, letters, leaks=leaks, evidence=evidence, subjects=subjects),
        encoding="utf-8",
        newline="\n",
    )
