"""The web console in a real browser: Debian's chromium, driven by Playwright, against `plumm web` on a
free port. A CSM signs in, sees the queue, opens a case, approves it, asks the employer, records the
employer's answer, tells the client and closes it; a CSM's reveal is refused and a revealer's is
audited; a POST without its CSRF token gets 403 and changes nothing; a letter holding a ``<script>``
stays inert. Screenshots of the queue and a case go to ``out/`` (git-ignored).

Playwright never downloads a browser here (``playwright install`` is never run): it launches the
system chromium by path.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from pipeline import store, users
from pipeline.config import load_settings
from pipeline.models import CaseStatus
from pipeline.runtime import Runtime
from tests.conftest import ROOT, free_port, plumm_environment, unavailable
from tests.test_csm import REDACTED, VAULT, add_reply, events, make_case, reload

pytestmark = [pytest.mark.slow, pytest.mark.browser]
S = CaseStatus
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = ROOT / "out"
PASSWORD = "correct horse battery staple"
PLUMM = str(Path(sys.executable).parent / "plumm")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        unavailable("chromium not installed (apt-get install -y chromium): the console is not driven")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def console(tmp_path):
    """`plumm web` on a free port, over a migrated SQLite database with three users."""
    key, port = Fernet.generate_key().decode(), free_port()
    url = f"sqlite:///{tmp_path / 'plumm.db'}"
    settings = load_settings(data_dir=tmp_path / "data", database_url=url, vault_key=key, hash_key="browser-hash")
    store.migrate(url)
    rt = Runtime(settings)
    known = [a.id for a in rt.accounts.accounts]
    for name, role, accounts in [("alex", "csm", ["brightwater"]), ("river", "revealer", [])]:
        users.add_user(rt.engine, name, role=role, accounts=accounts, known_accounts=known, password=PASSWORD, by="t")
    env = plumm_environment(
        database_url=url, data_dir=tmp_path / "data", vault_key=key, hash_key="browser-hash", PLUMM_WEB_PORT=str(port)
    )
    process = subprocess.Popen([PLUMM, "web"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            break
        except urllib.error.HTTPError:  # 503: up, but no listener or worker; enough for the console
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("plumm web did not start")
    yield rt, base
    process.terminate()
    _out, err = process.communicate(timeout=20)
    # The console's own log never holds a value from the vault.
    assert not any(v.encode() in err for v in VAULT.values())


def sign_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/cases")
    assert page.url.startswith(f"{base}/login")  # anonymous: sent to sign in
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/cases")


def click(page, form_action: str, button: str = "button[type=submit]") -> None:
    page.locator(f"form[action$='/{form_action}'] {button}").first.click()
    page.wait_for_load_state()


def test_a_csm_works_a_case_from_queue_to_closed_in_chromium(browser, console):
    rt, base = console
    case = make_case(rt)
    OUT.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    sign_in(page, base, "alex")
    assert page.locator(f"a:has-text('{case.reference}')").count() == 1
    page.screenshot(path=str(OUT / "console-queue.png"), full_page=True)

    page.click(f"a:has-text('{case.reference}')")
    page.wait_for_url(f"{base}/cases/{case.reference}")
    assert page.locator("mark.ph-person").count() >= 2
    page.screenshot(path=str(OUT / "console-case.png"), full_page=True)

    click(page, "approve")
    assert "approved" in page.locator(".flash").inner_text()
    click(page, "request-employer")
    assert reload(rt, case).status == S.EMPLOYER_CONTACTED

    # HR's answer arrives (the worker records it on the case; see test_csm_end_to_end for the mail).
    add_reply(rt, case, "Approved. [PERSON_3]")
    page.reload()
    assert page.locator("text=Answer from the employer").count() == 1
    page.locator("form.offer button[value=approved]").click()
    page.wait_for_load_state()
    assert reload(rt, case).status == S.EMPLOYER_APPROVED

    click(page, "notify-client")
    assert reload(rt, case).status == S.CLIENT_NOTIFIED
    click(page, "close")
    assert reload(rt, case).status == S.CLOSED
    assert [e.actor for e in events(rt, case) if e.to_status] == ["alex"] * 5
    text = page.content()
    assert not any(value in text for value in VAULT.values())
    assert problems == []
    context.close()


def test_reveal_csrf_and_a_hostile_letter_in_chromium(browser, console):
    rt, base = console
    case = make_case(rt)
    hostile = make_case(rt, letter=REDACTED + "\n<script>window.pwned = 1; document.title = 'pwned'</script>\n")

    csm = browser.new_context()
    page = csm.new_page()
    sign_in(page, base, "alex")
    page.goto(f"{base}/cases/{case.reference}")
    assert page.locator("form[action$='/reveal']").count() == 0  # not offered to a CSM
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"{base}/cases/{case.reference}/reveal", form={"csrf_token": token, "reason": "x"})
    assert refused.status == 403 and not any(v in refused.text() for v in VAULT.values())

    # A POST without its token (as a forged form on another site would send) changes nothing.
    forged = page.request.post(f"{base}/cases/{case.reference}/approve", form={"note": "forged"})
    assert forged.status == 403 and reload(rt, case).status == S.READY_FOR_ASSESSMENT

    # A letter holding a script shows it as text; the script never runs (escaped, and the CSP forbids it).
    page.goto(f"{base}/cases/{hostile.reference}")
    assert "<script>window.pwned" in page.locator("pre.letter").first.inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined" and page.title() != "pwned"
    csm.close()

    revealer = browser.new_context()
    page = revealer.new_page()
    sign_in(page, base, "river")
    page.goto(f"{base}/cases/{case.reference}")
    page.fill("#reveal-reason", "subject access request")
    click(page, "reveal")
    assert "Marigold Featherstonehaugh" in page.content()
    page.goto(f"{base}/cases/{case.reference}")
    assert "Marigold" not in page.content()  # shown once
    trail = [(e.kind, e.actor) for e in events(rt, case)]
    assert trail == [("vault-reveal-refused", "alex"), ("vault-revealed", "river")]
    assert "subject access request" in events(rt, case)[-1].note
    revealer.close()
