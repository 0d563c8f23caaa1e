"""Compliance replay: determinism, golden drift, ground-truth leaks, and the SMTP path.

The first tests use hand-made results (no NLP); the rest replay the real fixtures. No test
prints a value from a letter or a ground-truth string: assertions name types, stems and indices.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.compliance.replay import (
    ReplayResult,
    ReplayRun,
    Scrubber,
    check_ground_truth,
    check_outcome,
    compare_golden,
    envelope_sender,
    golden_changes,
    replaced_by,
    replay,
    report_data,
    survives,
    write_golden,
    write_report,
)
from tests.conftest import FIXTURES, ROOT, expected, fixture_stems, free_port

PLUMM = ROOT / ".venv" / "bin" / "plumm"
# Fixtures whose registration numbers only the registration recognizer removes (found by
# emptying its vocabulary; see test_weakened_rule_fails_expect_and_ground_truth_with_readable_diff).
REGISTRATION_LEAKERS = ["body-and-pdf-both-substance", "process-question-only", "rfc2047-encoded-subject-and-names"]


def _summary(**more):
    base = {
        "status": "ready_for_assessment",
        "reason": None,
        "stage": None,
        "sections": {"needs": True, "recommendation": True},
        "sessions_requested": 6,
        "period": "weekly",
        "entity_counts": {"PERSON": 2, "EMAIL": 1},
        "sources": ["body"],
        "acknowledged": True,
    }
    return base | more


def _settings(tmp: Path, **more):
    from cryptography.fernet import Fernet

    from pipeline.config import load_settings

    return load_settings(
        data_dir=tmp / "data",
        vault_key=Fernet.generate_key().decode(),
        hash_key="replay-test-hash-key",
        worker_poll_seconds=0.05,
        **more,
    )


def _all_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "run.json"}


def _ground_truth_values() -> list[tuple[str, str, int, str]]:
    values = []
    for stem in fixture_stems():
        if (FIXTURES / f"{stem}.expected.json").exists():
            for etype, strings in expected(stem).get("must_not_survive", {}).items():
                values += [(stem, etype, i, v) for i, v in enumerate(strings) if v.strip()]
    return values


# -- unit: hand-made outputs ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text", "found"),
    [
        ("Jane Doe", "my client Jane\nDoe has", True),  # a line break between words
        ("jane", "JANE attended", True),  # case-insensitive
        ("Doe", "Doering attended", False),  # whole words only
        ("j.doe@example.org", "write to J.Doe@example.org.", True),
        ("Will", "I will recommend", False),  # the ordinary word survives
        ("Will", "Will attended", True),
        ("Hope", "there is real hope", False),
        ("Acme & Sons", "works at acme & sons now", True),
    ],
)
def test_survives_is_case_insensitive_whole_word_but_spares_ordinary_words(value, text, found):
    assert survives(value, text) is found


def test_ground_truth_reports_leak_type_and_index_and_kept_rate():
    result = ReplayResult("stem-a", _summary(), "Dear Plumm, [PERSON_1] and Zed. CORE-10 weekly.", 0.1)
    truth = {
        "must_not_survive": {"PERSON": ["Jane"], "RELATIVE": ["Bob", "Zed"]},
        "must_keep": ["CORE-10", "six sessions"],
    }
    gt = check_ground_truth(result, truth)
    assert [(x.entity_type, x.index, x.where) for x in gt.leaks] == [("RELATIVE", 1, "letter")]
    assert (gt.strings, gt.must_keep, gt.kept, gt.missing_kept) == (3, 2, 1, (1,))
    assert "Zed" not in gt.leaks[0].describe()
    assert gt.leaks[0].describe() == "stem-a: RELATIVE[1] survived in the letter output"


def _truth(**more):
    base = {
        "outcome": {"status": "ready_for_assessment", "reason": None},
        "sections": {"needs": True, "recommendation": True},
        "sessions_requested": 6,
        "period": "weekly",
        "acknowledge": True,
        "must_not_survive": {},
    }
    return base | more


def test_an_outcome_as_expected_has_no_disagreement():
    assert check_outcome(ReplayResult("s", _summary(), "text", 0), _truth(), None) == ()


@pytest.mark.parametrize(
    ("summary", "field"),
    [
        ({"status": "awaiting_information"}, "status"),
        ({"reason": "missing-sections:needs"}, "reason"),
        ({"sections": {"needs": True, "recommendation": False}}, "sections"),
        ({"sessions_requested": 8}, "sessions_requested"),
        ({"period": None}, "period"),
        ({"acknowledged": False}, "acknowledged"),
    ],
)
def test_each_outcome_field_that_differs_from_expected_json_is_a_disagreement(summary, field):
    [found] = check_outcome(ReplayResult("s", _summary(**summary), "text", 0), _truth(), None)
    assert (found.stem, found.field) == ("s", field)
    assert found.expected != found.actual


def test_an_expected_json_without_an_outcome_field_is_a_disagreement_not_a_pass():
    truth = _truth()
    del truth["acknowledge"]
    [found] = check_outcome(ReplayResult("s", _summary(), "text", 0), truth, None)
    assert found.field == "acknowledge" and found.actual == "none written"


def test_adjacent_identifiers_are_each_aligned_with_their_own_placeholder():
    letter = "Kind regards,\nAda Lovegood\nNMC 09C1234E\nada@clinic.example\n"
    redacted = "Kind regards,\n[PERSON_2]\nNMC [REGISTRATION_1]\n[EMAIL_1]\n"
    assert replaced_by(letter, redacted, "09C1234E") == [{"REGISTRATION"}]
    assert replaced_by(letter, redacted, "ada@clinic.example") == [{"EMAIL"}]
    assert replaced_by(letter, redacted, "Ada Lovegood") == [{"PERSON"}]


def test_a_street_shown_as_a_person_is_a_placeholder_kind_disagreement():
    letter = "They rent a flat in Marsh Lane with Tom."
    result = ReplayResult("s", _summary(), "They rent a flat in [PERSON_2] with [PERSON_3].", 0)
    truth = _truth(must_not_survive={"ADDRESS": ["Marsh Lane"], "RELATIVE": ["Tom"]})
    [found] = check_outcome(result, truth, letter)
    assert found.field == "ADDRESS[0] replaced by" and found.actual == ["PERSON"]
    assert "Marsh" not in found.describe()


def test_golden_changes_say_what_a_refresh_changes_by_type_never_by_value(tmp_path):
    old = ReplayResult("s", _summary(), "In [PERSON_2], [PERSON_1] is low.", 0)
    write_golden(tmp_path, old)
    assert golden_changes(tmp_path, old) == []
    new = ReplayResult(
        "s",
        _summary(status="awaiting_information", entity_counts={"PERSON": 1, "LOCATION": 1}),
        "In [LOCATION_1], [PERSON_1] is low.",
        0,
    )
    assert golden_changes(tmp_path, new) == [
        "status: 'ready_for_assessment' -> 'awaiting_information'",
        "placeholders [LOCATION]: 0 -> 1",
        "placeholders [PERSON]: 2 -> 1",
        "removed EMAIL: 1 -> 0",
        "removed LOCATION: 0 -> 1",
        "removed PERSON: 2 -> 1",
    ]
    assert golden_changes(tmp_path / "nowhere", new) == ["new golden files"]


def test_drift_diff_masks_ground_truth_and_new_identifier_shaped_words(tmp_path):
    old = ReplayResult("stem-a", _summary(), "Dear Plumm,\n[PERSON_1] has anxiety.\nI recommend six.", 0)
    write_golden(tmp_path, old)
    text = "Dear Plumm,\nSecretname has anxiety, call 07700 900123 or x@y.example.\nI recommend six."
    new = ReplayResult("stem-a", _summary(entity_counts={"PERSON": 1}), text, 0)
    scrub = Scrubber({"stem-a": {"must_not_survive": {"PERSON": ["Secretname"]}}})
    [drift] = compare_golden(tmp_path, [new], scrub)
    assert drift.stem == "stem-a" and not drift.missing
    for secret in ("Secretname", "07700", "900123", "x@y.example"):
        assert secret not in drift.diff
    assert "[LEAK:PERSON]" in drift.diff and "+[LEAK:PERSON] has anxiety, call [?] [?] or [?]." in drift.diff
    assert "-[PERSON_1] has anxiety." in drift.diff  # golden lines are redacted text, shown as is
    assert '-    "PERSON": 2' in drift.diff and '+    "PERSON": 1' in drift.diff


def test_missing_golden_counts_as_drift(tmp_path):
    [drift] = compare_golden(tmp_path, [ReplayResult("stem-b", _summary(), "text", 0)], Scrubber({}))
    assert drift.missing and drift.diff == ""


def test_html_report_escapes_text_and_marks_placeholders_by_type(tmp_path):
    letter = "Dear <b>Plumm</b> & co,\n[PERSON_1] said [they] would email [EMAIL_2]. [TITLE] [PERSON_1]"
    run = ReplayRun([ReplayResult("stem-c", _summary(), letter, 0)], drifts=[], ground_truth=[])
    write_report(tmp_path, run)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;Plumm&lt;/b&gt; &amp; co" in html and "<b>Plumm</b>" not in html
    assert '<mark class="ph ph-person">[PERSON_1]</mark>' in html
    assert '<mark class="ph ph-email">[EMAIL_2]</mark>' in html
    assert '<mark class="ph ph-pronoun">[they]</mark>' in html
    assert "<script" not in html.lower()
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["summary"]["passed"] is True and data["messages"][0]["golden"] == "same"


def test_report_is_the_same_whatever_order_counts_arrive_in(tmp_path):
    a = ReplayRun([ReplayResult("s", _summary(entity_counts={"PERSON": 2, "EMAIL": 1}), "x", 0.1)])
    b = ReplayRun([ReplayResult("s", _summary(entity_counts={"EMAIL": 1, "PERSON": 2}), "x", 9.9)])
    assert report_data(a) == report_data(b)
    for name, run in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        write_report(tmp_path / name, run)
    assert _all_files(tmp_path / "a") == _all_files(tmp_path / "b")


# -- the subject line ---------------------------------------------------------------------------
def test_the_subject_goes_in_the_json_and_the_txt_stays_the_letter(tmp_path):
    """DESIGN.md: ``<stem>.txt`` is the redacted letter exactly as a CSM sees it (the scorer reads it
    as the letter); the redacted subject the CSM sees beside it is the JSON's ``subject``."""
    from pipeline.compliance.replay import write_outputs

    result = ReplayResult("s", _summary(subject="More sessions for [CLIENT_1]", subject_withheld=False), "Dear", 0)
    write_outputs(tmp_path, result)
    assert (tmp_path / "s.txt").read_text(encoding="utf-8") == "Dear\n"
    data = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert (data["subject"], data["subject_withheld"]) == ("More sessions for [CLIENT_1]", False)


def test_a_name_left_in_the_subject_is_a_leak_in_the_json_output():
    result = ReplayResult("stem-s", _summary(subject="More sessions for Jane Doe"), "Dear Plumm, [CLIENT_1].", 0)
    gt = check_ground_truth(result, {"must_not_survive": {"PERSON": ["Jane Doe"]}})
    assert [leak.describe() for leak in gt.leaks] == ["stem-s: PERSON[0] survived in the json output"]


def test_golden_changes_and_drift_name_the_subjects_placeholders_never_its_words(tmp_path):
    old = ReplayResult("stem-s", _summary(), "Dear Plumm,\n[PERSON_1] is low.", 0)
    write_golden(tmp_path, old)
    new = ReplayResult("stem-s", _summary(subject="Sessions for Secretname [CLIENT_1]", subject_withheld=False),
                       old.letter, 0)  # fmt: skip
    assert golden_changes(tmp_path, new) == ["subject: not recorded -> shown with [CLIENT] x1"]
    withheld = ReplayResult("stem-s", _summary(subject=None, subject_withheld=True), old.letter, 0)
    assert golden_changes(tmp_path, withheld) == ["subject: not recorded -> withheld"]
    [drift] = compare_golden(tmp_path, [new], Scrubber({}))
    assert "Secretname" not in drift.diff
    assert '+  "subject": "[?] for [?] [CLIENT_1]",' in drift.diff


def test_html_report_shows_the_subject_scrubbed_or_says_it_was_withheld(tmp_path):
    shown = ReplayResult("stem-d", _summary(subject="Sessions for <i>Jane</i> [CLIENT_1]"), "Dear", 0)
    held = ReplayResult("stem-e", _summary(subject=None, subject_withheld=True), "Dear", 0)
    scrub = Scrubber({"stem-d": {"must_not_survive": {"PERSON": ["Jane"]}}})
    write_report(tmp_path, ReplayRun([shown, held], scrubber=scrub))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Subject: <strong>Sessions for &lt;i&gt;" in html and "Jane" not in html
    assert '<mark class="ph ph-client">[CLIENT_1]</mark>' in html
    assert "Subject: withheld (its redaction could not be verified)." in html


def test_a_replayed_message_carries_its_redacted_subject(tmp_path):
    """The real pipeline: a client named only in the subject is shown as a placeholder in the JSON."""
    from tests.test_worker import mail_bytes

    source = tmp_path / "in"
    source.mkdir()
    body = (
        "Dear Plumm team,\n\nMy client has panic attacks and their GAD-7 score remains 15.\n\n"
        "I recommend six additional sessions, weekly.\n\nKind regards,\nDr Ada Lovegood\n"
    )
    (source / "name-in-subject.eml").write_bytes(mail_bytes("More sessions for Perpetua Vanderkloot", body, "r-1"))
    run = replay(source, tmp_path / "out", settings=_settings(tmp_path))
    [result] = run.results
    subject = result.summary["subject"]
    assert subject.startswith("More sessions for [") and result.summary["subject_withheld"] is False
    assert "Perpetua" not in subject and "Vanderkloot" not in subject
    assert (tmp_path / "out" / "name-in-subject.txt").read_text(encoding="utf-8") == result.txt


def test_envelope_sender_is_the_from_address_or_a_fixed_one():
    assert envelope_sender(b"From: Dr A <a@b.example>\nSubject: x\n\nbody") == "a@b.example"
    assert envelope_sender(b"Subject: x\n\nbody") == "replay@heyplumm.com"


def test_usage_errors_exit_2(tmp_path):
    from pipeline.cli import app

    runner = CliRunner()
    base = ["replay", str(FIXTURES), "--out", str(tmp_path)]
    result = runner.invoke(app, [*base, "--via-smtp", "127.0.0.1:1"])  # without --db
    assert result.exit_code == 2, result.output
    result = runner.invoke(app, [*base, "--expect", "--update-golden"])
    assert result.exit_code == 2, result.output
    result = runner.invoke(app, [*base, "--via-smtp", "nonsense", "--db", "sqlite:///x.db"])
    assert result.exit_code == 2, result.output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        app,
        [
            "replay",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "o"),
            "--via-smtp",
            "127.0.0.1:1",
            "--db",
            "sqlite:///x.db",
        ],
    )
    assert result.exit_code == 2, result.output


# -- the real fixtures ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay-a")
    run = replay(FIXTURES, tmp / "out", settings=_settings(tmp), expect=True, ground_truth=True)
    return tmp / "out", run


@pytest.mark.slow
def test_two_runs_give_byte_identical_outputs(in_process, tmp_path):
    """The second run is the CLI in another process with another hash seed, so set or dict
    ordering that depends on the seed would show up as a difference."""
    first_out, _first = in_process
    env = {
        **os.environ,
        "PYTHONHASHSEED": "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2",
        "PLUMM_DATA_DIR": str(tmp_path / "data"),
        "PLUMM_HASH_KEY": "another-hash-key",
    }
    command = [str(PLUMM), "replay", str(FIXTURES), "--out", str(tmp_path / "out"), "--expect", "--ground-truth"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == _first.exit_code, proc.stderr[-2000:]
    first_files, second_files = _all_files(first_out), _all_files(tmp_path / "out")
    assert sorted(first_files) == sorted(second_files)
    differing = [name for name in first_files if first_files[name] != second_files[name]]
    assert differing == []
    assert {"report.json", "report.txt", "report.html"} <= set(first_files)
    for text in (first_files["report.json"], first_files["report.html"], first_files["report.txt"]):
        assert str(tmp_path).encode() not in text and b"/tmp" not in text


@pytest.mark.slow
def test_fixtures_match_their_golden_files_and_do_not_leak(in_process):
    _out, run = in_process
    assert [d.stem for d in run.drifts or []] == [], "drift: review with `make replay`, then --update-golden"
    assert [leak.describe() for leak in run.leaks] == []


def _disagreements(run: ReplayRun, stem: str, *, kinds: bool) -> list[str]:
    [truth] = [gt for gt in run.ground_truth or [] if gt.stem == stem]
    return [d.describe() for d in truth.disagreements if d.field.endswith(" replaced by") is kinds]


@pytest.mark.slow
@pytest.mark.parametrize("stem", fixture_stems())
def test_fixture_outcome_is_what_its_expected_json_says(in_process, stem):
    """Status, reason, sections, sessions, period and acknowledgement against the hand-written truth."""
    _out, run = in_process
    assert _disagreements(run, stem, kinds=False) == []


# Fixtures whose golden output replaces an identifier with a placeholder of the wrong kind (a street
# or an employer shown to the CSM as a person, relatives as organisations). Found by the alignment
# check when it was written; nothing leaks in them. Remove a fixture from here when the redaction
# fix lands: the strict xfail then fails until it is removed.
WRONG_PLACEHOLDER_KIND = {
    "arabic-name-bin-al-angle-email-linkedin": "registration number inside a URL",
    "brand-names-as-people-mercedes-tiffany": "a relative named like a brand becomes [ORG]",
    "hyphenated-first-names-apostrophe-possessive": "relatives become [ORG]",
    "mislabelled-charset-utf8-latin1-bytes": "a client name becomes [ORG]",
    "ni-lowercase-odd-spacing-unspaced-mobile-birth-year-email": "an e-mail becomes [PERSON]",
    "null-bytes-in-body": "the employer becomes [PERSON]",
    "outlook-html-only-signature-table-handle": "employer and address become [PERSON]",
    "outlook-reply-with-quoted-history": "a registration number becomes [NHS]",
    "pdf-yoruba-name-quoted-nickname-gp": "relatives become [ORG], a street [PERSON]",
    "place-like-names-ivy-church-sandy-brook": "a street becomes [PERSON]; and the age beside a job title"
    " ([AGE_1] [JOB_TITLE_1]) cannot be split by the alignment, so the age is read as the job title's",
    "place-names-as-people": "a relative becomes [ORG]",
    "polish-diacritics-nickname-nhs-unspaced": "a street becomes [PERSON]",
    "rfc2047-encoded-subject-and-names": "the client's name becomes [ORG]",
    "rfc2231-attachment-filename-hyphenated-name": "a street becomes [PERSON]",
    "school-age-children-named-and-school": "a village becomes [PERSON]",
    "they-client-and-spouse-two-people-pronouns": "a street becomes [PERSON]",
    "welsh-gaelic-names-with-mutations": "relatives become [ORG]",
    "windows-1252-curly-quotes-and-pound": "a street becomes [PERSON]",
    "word-template-pdf-letterhead-block": "a website becomes [ORG]",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "stem",
    [
        pytest.param(stem, marks=pytest.mark.xfail(strict=True, reason=WRONG_PLACEHOLDER_KIND[stem]))
        if stem in WRONG_PLACEHOLDER_KIND
        else stem
        for stem in fixture_stems()
    ],
)
def test_each_identifier_is_replaced_by_a_placeholder_of_its_kind(in_process, stem):
    _out, run = in_process
    assert _disagreements(run, stem, kinds=True) == []


def test_update_golden_refuses_an_output_that_contradicts_expected_json(tmp_path):
    stem = "plain-text-letter-with-headings"
    source = tmp_path / "fixtures"
    source.mkdir()
    shutil.copy(FIXTURES / f"{stem}.eml", source)
    truth = expected(stem)
    truth["sections"]["recommendation"] = False  # the hand-written truth now says otherwise
    (source / f"{stem}.expected.json").write_text(json.dumps(truth), encoding="utf-8")
    run = replay(source, tmp_path / "out", settings=_settings(tmp_path), update_golden=True)
    assert run.golden_refused == [stem] and run.golden_written == []
    assert run.golden_changes == {stem: ["new golden files"]}
    assert not list(source.glob("*.replay.*"))
    assert run.exit_code == 1


def _weakened_rules(tmp: Path) -> Path:
    rules = tmp / "rules"
    shutil.copytree(ROOT / "rules", rules)
    doc = yaml.safe_load((rules / "redaction.yaml").read_text(encoding="utf-8"))
    doc["registration"]["bodies"] = ["NOSUCHBODY"]  # the recognizer loses its vocabulary
    doc["registration"]["context"] = ["nosuchword"]
    (rules / "redaction.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    # The fail-closed catch-all would still take the numbers as [ID]: it is weakened too.
    structured = yaml.safe_load((rules / "structured.yaml").read_text(encoding="utf-8"))
    structured["catch_all"].update(min_digits=99, mixed_min_length=99)
    (rules / "structured.yaml").write_text(yaml.safe_dump(structured), encoding="utf-8")
    return rules


@pytest.mark.slow
def test_weakened_rule_fails_expect_and_ground_truth_with_readable_diff(tmp_path):
    stems = [s for s in REGISTRATION_LEAKERS if (FIXTURES / f"{s}.eml").exists()]
    assert stems, "none of the registration fixtures exists any more: pick another weakened rule"
    source = tmp_path / "fixtures"
    source.mkdir()
    for stem in stems:
        for suffix in (".eml", ".expected.json", ".replay.txt", ".replay.json"):
            shutil.copy(FIXTURES / f"{stem}{suffix}", source)
    env = {**os.environ, "PLUMM_RULES_DIR": str(_weakened_rules(tmp_path)), "PLUMM_DATA_DIR": str(tmp_path)}
    command = [str(PLUMM), "replay", str(source), "--out", str(tmp_path / "out"), "--expect", "--ground-truth"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    output = proc.stdout
    leaking = [s for s in stems if f"LEAK {s}: REGISTRATION_NUMBER[" in output]
    assert leaking, "the weakened rule leaked nothing: the test no longer proves anything"
    for stem in leaking:
        assert f"DRIFT {stem}:" in output
        assert f"--- golden/{stem}.txt" in output and f"+++ replay/{stem}.txt" in output
        assert f"--- golden/{stem}.json" in output
    assert "[LEAK:REGISTRATION_NUMBER]" in output  # the diff says what leaked, by type
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["passed"] is False
    assert report["summary"]["ground_truth"]["leaks_by_type"]["REGISTRATION_NUMBER"]["leaked"] >= 1
    everything = (
        output + proc.stderr + "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("report.*"))
    )
    # Booleans only: an assertion on the value itself would make pytest print it.
    shown = [(stem, etype, i) for stem, etype, i, v in _ground_truth_values() if survives(v, everything)]
    assert shown == []
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '<mark class="ph ph-leak">[LEAK:REGISTRATION_NUMBER]</mark>' in html

    # --update-golden never turns a leak into a golden file.
    before = {p.name: p.read_bytes() for p in source.glob("*.replay.*")}
    command = [str(PLUMM), "replay", str(source), "--out", str(tmp_path / "out2"), "--update-golden"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    for stem in leaking:
        assert f"golden {stem}: REFUSED (leaks or contradicts expected.json)" in proc.stdout
        for suffix in (".replay.txt", ".replay.json"):
            assert (source / f"{stem}{suffix}").read_bytes() == before[f"{stem}{suffix}"]


# -- via SMTP -------------------------------------------------------------------------------
@pytest.mark.slow
def test_via_smtp_and_in_process_agree_on_every_fixture(in_process, tmp_path):
    from pipeline import store
    from pipeline.intake.smtp import build_controller
    from pipeline.runtime import Runtime
    from pipeline.worker import Worker

    _out, local = in_process
    db_url = f"sqlite:///{tmp_path / 'listener.db'}"
    settings = _settings(tmp_path, database_url=db_url, smtp_port=free_port())
    store.migrate(db_url)
    rt = Runtime(settings)
    rt.load_rules()
    controller = build_controller(settings, rt.engine, rt.cipher, rt.hash_key)
    controller.start()
    stop = threading.Event()
    worker = threading.Thread(target=Worker(rt, worker_id="test").run, kwargs={"stop": stop.is_set}, daemon=True)
    worker.start()
    try:
        remote = replay(
            FIXTURES,
            tmp_path / "out",
            settings=settings,
            db_url=db_url,
            smtp_timeout=240,
            via_smtp=f"{settings.smtp_host}:{settings.smtp_port}",
            expect=True,
            ground_truth=True,
        )
    finally:
        stop.set()
        worker.join(timeout=30)
        controller.stop()
    assert [r.stem for r in remote.results] == [r.stem for r in local.results]
    # The one real reason to differ: a line over RFC 5321's 998 bytes, which no SMTP server takes
    # (the sender's MTA would bounce it); in process the parser sees it and quarantines it.
    over_long = {
        stem
        for stem in fixture_stems()
        if max(map(len, (FIXTURES / f"{stem}.eml").read_bytes().splitlines() or [b""])) > 998
    }
    refused = {r.stem for r in remote.results if r.summary["status"] == "refused"}
    assert refused == over_long
    assert all(r.summary["reason"].startswith("smtp-refused:5") for r in remote.results if r.stem in refused)
    disagree = [
        (a.stem, sorted(k for k in a.summary if a.summary[k] != b.summary.get(k)))
        for a, b in zip(local.results, remote.results, strict=True)
        if a.stem not in refused and (a.summary != b.summary or a.letter != b.letter)
    ]
    assert disagree == []
    assert [r.stem for r in remote.results if r.notes] == []  # nothing threaded onto another case
    assert remote.not_compared == sorted(over_long)  # --expect: reported, not counted as drift
    assert [d.stem for d in remote.drifts or []] == [d.stem for d in local.drifts or []]
