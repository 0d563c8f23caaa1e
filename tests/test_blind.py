"""The blind rounds: letters nobody tuned on, scored by the shared scorer, held from getting worse.

Each round in ``fixtures/blind/<round>/`` is replayed through the full pipeline and scored with
``bench/eval_score.py`` (a verbatim copy of the shared evaluation scorer). Every letter is checked on
each count that applies to it: no client identifier left, no client pronoun left, every clinical
phrase kept (genuine letters only: a non-letter shows nothing), both section verdicts right, and a
genuine letter not quarantined. The misses recorded when a round was first scored, before any fix,
are in its ``known-misses.json`` and run as strict xfails: a fix that clears one turns its test red
until the entry is removed, so the record only ever shrinks. Nobody tunes rules on these letters
until they are read to be fixed; the newest round nobody has read (no ``SEEN.md`` in its folder) is
the fresh one.
"""

from __future__ import annotations

import json

import pytest

from bench import blind

ROUNDS = blind.rounds()
MANIFESTS = {r.name: blind.load_manifest(r) for r in ROUNDS}
KNOWN_MISSES: dict[str, dict[str, dict[str, int]]] = {
    r.name: json.loads((r / "known-misses.json").read_text(encoding="utf-8")) for r in ROUNDS
}
CHECKS = blind.CHECKS

pytestmark = pytest.mark.slow


def _cases():
    for name, manifest in MANIFESTS.items():
        for entry in manifest:
            for check in CHECKS:
                if not blind.applies(entry, check):
                    continue
                known = KNOWN_MISSES[name].get(entry["file"], {}).get(check)
                marks = (
                    [pytest.mark.xfail(strict=True, reason=f"blind miss recorded before any fix ({known})")]
                    if known
                    else []
                )
                yield pytest.param(name, entry["file"], check, marks=marks, id=f"{name}-{entry['file'][:-4]}-{check}")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Each round replayed and scored once for the module: {round: (out, {file: scored entry})}."""
    results = {}
    for folder in ROUNDS:
        out = tmp_path_factory.mktemp(folder.name) / "out"
        blind.replay_folder(folder, out)
        report = blind.score(out, MANIFESTS[folder.name])
        results[folder.name] = (out, {f["file"]: f for f in report["files"]})
    return results


def test_known_misses_name_only_files_and_checks_that_exist():
    for name, manifest in MANIFESTS.items():
        files = {entry["file"] for entry in manifest}
        misses_of = KNOWN_MISSES[name]
        assert set(misses_of) <= files
        assert all(set(m) <= set(CHECKS) and all(n > 0 for n in m.values()) for m in misses_of.values())


def test_every_round_is_a_folder_of_messages_with_their_manifest():
    assert len(ROUNDS) >= 1
    for folder in ROUNDS:
        emls = {p.name for p in folder.glob("*.eml")}
        assert emls == {entry["file"] for entry in MANIFESTS[folder.name]}, folder.name


@pytest.mark.parametrize(("round_name", "file", "check"), list(_cases()))
def test_blind_letter(scored, round_name, file, check):
    out, files = scored[round_name]
    result = files[file]
    assert not result.get("missing_output"), "the replay wrote no output for this letter"
    # Counts only: the scorer's entries quote the leaked strings, which a failing assert must not print.
    if check == "client_pii":
        assert len(result["client_leaks"]) == 0
    elif check == "pronouns":
        assert sum(p["leaked"] for p in result["pronoun_leaks"]) == 0
    elif check == "must_keep":
        assert len(result["must_keep_missing"]) == 0
    elif check == "sections":
        assert result["sections"]["correct"] is True
    else:
        summary = json.loads((out / f"{file[:-4]}.json").read_text(encoding="utf-8"))
        assert summary["status"] != "quarantined"
