"""Which blind round is the fresh one: the newest nobody has read (no SEEN.md in its folder)."""

from __future__ import annotations

import pytest

from bench import blind


def _round(base, name, *, seen: bool = False):
    folder = base / name
    folder.mkdir()
    (folder / "manifest.json").write_text("[]", encoding="utf-8")
    if seen:
        (folder / blind.SEEN).write_text("read and fixed", encoding="utf-8")
    return folder


def test_the_newest_round_is_fresh_when_nobody_has_read_it(tmp_path):
    _round(tmp_path, "round9")
    _round(tmp_path, "round10")
    assert blind.fresh_round(tmp_path).name == "round10"


def test_a_seen_development_round_leaves_the_older_unread_round_fresh(tmp_path):
    _round(tmp_path, "round11")
    _round(tmp_path, "round12", seen=True)
    assert blind.fresh_round(tmp_path).name == "round11"
    assert [r.name for r in blind.rounds(tmp_path)] == ["round11", "round12"]


def test_no_fresh_round_when_every_round_is_seen(tmp_path):
    _round(tmp_path, "round12", seen=True)
    with pytest.raises(FileNotFoundError):
        blind.fresh_round(tmp_path)
