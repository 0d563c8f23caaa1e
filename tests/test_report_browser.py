"""The HTML replay report renders in a real headless browser (Debian's chromium), with no removed value.

The screenshot is kept as a CI artefact: ``out/replay-report.png`` (``out/`` is git-ignored).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from pipeline.compliance.replay import replay, survives
from pipeline.config import load_settings
from tests.conftest import FIXTURES, ROOT, expected, fixture_stems, unavailable

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARTEFACT = ROOT / "out" / "replay-report.png"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(autouse=True)
def chromium_installed():
    if CHROMIUM is None:
        unavailable("chromium not installed (apt-get install -y chromium): report not rendered")


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        CHROMIUM or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        "--window-size=1280,2000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_html_renders_in_headless_chromium_without_removed_values(tmp_path):
    key = Fernet.generate_key().decode()
    settings = load_settings(data_dir=tmp_path / "data", vault_key=key, hash_key="browser-test-hash-key")
    out = tmp_path / "out"
    replay(FIXTURES, out, settings=settings, expect=True, ground_truth=True)
    page = out / "report.html"
    url = page.resolve().as_uri()

    ARTEFACT.parent.mkdir(exist_ok=True)
    ARTEFACT.unlink(missing_ok=True)
    shot = _chromium(tmp_path, f"--screenshot={ARTEFACT}", url)
    assert ARTEFACT.exists(), f"no screenshot (exit {shot.returncode})"
    png = ARTEFACT.read_bytes()
    assert _png_size(png) == (1280, 2000)
    assert len(png) > 50_000  # a blank page compresses to a few kB

    dom = _chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0 and "<body" in dom.stdout
    assert "Summary" in dom.stdout and "Messages replayed" in dom.stdout
    assert "Identifiers removed, by type" in dom.stdout and "Ground truth" in dom.stdout
    assert "PASS" in dom.stdout or "FAIL" in dom.stdout
    missing = [stem for stem in fixture_stems() if f"<h2>{stem}</h2>" not in dom.stdout]
    assert missing == []
    assert 'class="ph ph-person"' in dom.stdout and 'class="ph ph-pronoun"' in dom.stdout
    assert "<script" not in page.read_text(encoding="utf-8").lower()

    html = page.read_text(encoding="utf-8") + dom.stdout
    # Booleans only: an assertion showing the value would print it.
    shown = [
        (stem, etype, i)
        for stem in fixture_stems()
        if (FIXTURES / f"{stem}.expected.json").exists()
        for etype, values in expected(stem).get("must_not_survive", {}).items()
        for i, value in enumerate(values)
        if value.strip() and survives(value, html)
    ]
    assert shown == []
