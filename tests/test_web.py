"""The web console over HTTP (Starlette's test client): sign-in, sessions, CSRF, security headers, the
queue, the case page, actions through the service layer, reveal, /healthz and /metrics.

A CSM must see no vault value anywhere: every page a CSM is shown here is checked against the vault.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pipeline import store, telemetry, users
from pipeline.models import CaseStatus
from pipeline.runtime import Runtime
from pipeline.web.app import create_app
from tests.test_csm import REDACTED, VAULT, add_reply, assert_no_vault_value, events, make_case, reload

S = CaseStatus
PASSWORD = "correct horse battery staple"
HTML = {"accept": "text/html"}


@pytest.fixture
def rt(settings):
    rt = Runtime(settings)
    known = [a.id for a in rt.accounts.accounts]
    for name, role, accounts in [
        ("alex", "csm", ["brightwater", "fenwick-rowe"]),
        ("jo", "csm", ["northgate"]),
        ("morgan", "lead", []),
        ("river", "revealer", []),
    ]:
        users.add_user(
            rt.engine, name, role=role, accounts=accounts, known_accounts=known, password=PASSWORD, by="test"
        )
    return rt


@pytest.fixture
def client(rt):
    with TestClient(create_app(rt), follow_redirects=False) as c:
        yield c


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD):
    page = client.get("/login", headers=HTML)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token_of(page.text)})


def post(client: TestClient, path: str, page: str, **data):
    """A form on ``page`` posted to ``path``, as the browser would (with the page's token)."""
    return client.post(path, data={"csrf_token": token_of(client.get(page).text), **data})


# -- anonymous ----------------------------------------------------------------------------------
def test_anonymous_requests_are_sent_to_login_or_refused_and_change_nothing(rt, client):
    case = make_case(rt)
    for path in ("/cases", f"/cases/{case.reference}", "/"):
        answer = client.get(path, headers=HTML)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
        assert client.get(path, headers={"accept": "application/json"}).status_code == 401
    assert client.post(f"/cases/{case.reference}/approve", data={"note": "x"}).status_code == 401
    assert reload(rt, case).status == S.READY_FOR_ASSESSMENT and events(rt, case) == []
    assert client.get("/login").status_code == 200
    assert client.get("/metrics").status_code == 200 and client.get("/healthz").status_code in (200, 503)


def test_the_login_form_posts_username_password_and_a_hidden_csrf_token(client):
    html = client.get("/login").text
    assert re.search(r'<form method="post" action="/login">', html)
    assert 'name="username"' in html and 'name="password"' in html and 'type="password"' in html
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]{40,}">', html)


@pytest.mark.parametrize("path", ["/login", "/cases", "/static/console.css", "/nope", "/healthz", "/metrics"])
def test_every_response_carries_the_security_headers(client, path):
    if path == "/cases":
        sign_in(client, "alex")
    answer = client.get(path, headers=HTML)
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_pages_have_no_script_no_inline_style_and_no_external_asset(rt, client):
    case = make_case(rt)
    sign_in(client, "alex")
    for path in ("/login", "/cases", f"/cases/{case.reference}"):
        html = client.get(path).text
        assert "<script" not in html.lower() and " style=" not in html.lower() and "<style" not in html.lower()
        assert not re.search(r'(src|href)="(https?:)?//', html)


# -- signing in ----------------------------------------------------------------------------------
def test_sign_in_sets_a_signed_httponly_samesite_cookie_with_an_expiry(client):
    answer = sign_in(client, "alex")
    assert answer.status_code == 303 and answer.headers["location"] == "/cases"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("plumm_session=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "max-age=43200" in cookie  # PLUMM_WEB_SESSION_HOURS, 12 by default
    assert client.get("/cases").status_code == 200


def test_a_login_post_without_its_csrf_token_is_refused(client):
    client.get("/login")
    answer = client.post("/login", data={"username": "alex", "password": PASSWORD})
    assert answer.status_code == 403
    assert client.get("/cases", headers=HTML).status_code == 303  # still not signed in


def test_failed_sign_ins_are_audited_then_throttled(rt, client):
    for _ in range(rt.settings.sign_in_attempts):
        assert sign_in(client, "alex", "wrong password!").status_code == 401
    assert sign_in(client, "alex").status_code == 429  # the right password, too late
    assert sign_in(client, "not-a-user", "whatever").status_code == 429  # the same client, too
    with store.session(rt.engine) as db:
        trail = [(e.actor, e.kind) for e in db.execute(select(store.AuditEvent)).scalars()]
    assert trail.count(("alex", "sign-in-failed")) == rt.settings.sign_in_attempts
    assert ("alex", "sign-in-throttled") in trail and ("(unknown user)", "sign-in-throttled") in trail
    assert all(PASSWORD not in actor and "wrong" not in actor for actor, _kind in trail)


def test_a_session_expires_and_a_disabled_user_is_signed_out(rt, monkeypatch):
    from pipeline.web import sessions

    with TestClient(create_app(rt), follow_redirects=False) as client:
        sign_in(client, "alex")
        assert client.get("/cases").status_code == 200
        later = store.utcnow() + timedelta(hours=rt.settings.web_session_hours, minutes=1)
        monkeypatch.setattr(sessions, "clock", lambda: later)  # the session's hours have passed
        assert client.get("/cases", headers=HTML).status_code == 303
    monkeypatch.undo()
    with TestClient(create_app(rt), follow_redirects=False) as client:
        sign_in(client, "morgan")
        users.set_disabled(rt.engine, "morgan", disabled=True, by="test")
        assert client.get("/cases", headers=HTML).status_code == 303
        assert sign_in(client, "morgan").status_code == 401


def test_next_never_leads_off_the_console(client):
    page = client.get("/login?next=//evil.example/x")
    answer = client.post(
        "/login", data={"username": "alex", "password": PASSWORD, "csrf_token": token_of(page.text), "next": "//evil"}
    )
    assert answer.headers["location"] == "/cases"


# -- the queue -----------------------------------------------------------------------------------
def test_a_csm_sees_their_accounts_and_a_lead_sees_every_queue(rt, client):
    mine = make_case(rt, account="brightwater")
    theirs = make_case(rt, account="northgate")
    unassigned = make_case(rt, account="unassigned")
    quarantined = make_case(rt, status=S.QUARANTINED, account=None, reason="pdf-encrypted")
    sign_in(client, "alex")
    html = client.get("/cases").text
    assert mine.reference in html and theirs.reference not in html and unassigned.reference not in html
    assert client.get(f"/cases/{theirs.reference}").status_code == 404
    assert client.get("/cases?queue=unassigned").status_code == 400
    client.cookies.clear()
    sign_in(client, "morgan")
    everything = client.get("/cases").text
    assert all(c.reference in everything for c in (mine, theirs, unassigned, quarantined))
    queue = client.get("/cases?queue=unassigned").text
    assert unassigned.reference in queue and mine.reference not in queue
    assert quarantined.reference in client.get("/cases?queue=quarantined").text


def test_the_queue_filters_by_status_account_and_waiting_time_and_pages(rt, client):
    old = make_case(rt, status=S.EMPLOYER_CONTACTED)
    with store.session(rt.engine) as db:
        row = db.get(store.Case, old.id)
        row.status_since = store.utcnow() - timedelta(days=9)
        db.add(row)
        db.commit()
    many = [make_case(rt, account="fenwick-rowe") for _ in range(55)]
    sign_in(client, "alex")
    assert old.reference in client.get("/cases?status=employer_contacted").text
    assert many[0].reference not in client.get("/cases?status=employer_contacted").text
    waited = client.get("/cases?waited_days=7").text
    assert old.reference in waited and many[0].reference not in waited
    by_account = client.get("/cases?account=fenwick-rowe").text
    assert "55 cases" in by_account and "page 1 of 2" in by_account and old.reference not in by_account
    second = client.get("/cases?account=fenwick-rowe&page=2").text
    assert many[-1].reference in second and many[0].reference not in second
    assert client.get("/cases?status=bogus").status_code == 400


# -- the case page -------------------------------------------------------------------------------
def test_the_case_page_highlights_placeholders_and_keeps_a_script_in_a_letter_inert(rt, client):
    hostile = REDACTED + '\n<script>alert("x")</script><img src=x onerror="alert(1)">\n'
    case = make_case(rt, letter=hostile)
    sign_in(client, "alex")
    html = client.get(f"/cases/{case.reference}").text
    assert '<mark class="ph ph-person">[PERSON_1]</mark>' in html
    assert '<mark class="ph ph-employer">[EMPLOYER_1]</mark>' in html
    assert "&lt;script&gt;alert(" in html and "<script" not in html and "<img src=x" not in html
    assert "Therapy needs" in html and "present" in html and "GAD-7 score remains 15" in html
    assert "known therapist" in html
    assert_no_vault_value(html, VAULT)


def test_an_action_without_its_csrf_token_gets_403_and_changes_nothing(rt, client):
    case = make_case(rt)
    sign_in(client, "alex")
    for data in ({"note": "x"}, {"note": "x", "csrf_token": "forged-token-" + "x" * 40}):
        answer = client.post(f"/cases/{case.reference}/approve", data=data)
        assert answer.status_code == 403
    assert reload(rt, case).status == S.READY_FOR_ASSESSMENT and events(rt, case) == []


def test_actions_go_through_the_service_layer_with_the_signed_in_user_as_actor(rt, client):
    case = make_case(rt)
    page = f"/cases/{case.reference}"
    sign_in(client, "alex")
    answer = post(client, f"{page}/approve", page, note="clear rationale")
    assert answer.status_code == 303 and answer.headers["location"] == page
    assert "approved" in client.get(page).text  # the flash message
    refused = post(client, f"{page}/approve", page)
    assert refused.status_code == 409 and "cannot go from approved to approved" in refused.text
    assert post(client, f"{page}/assign", page, account="northgate").status_code == 403  # a lead's action
    assert post(client, f"{page}/close", page).status_code == 409  # early: needs a reason
    for action, data in [
        ("request-employer", {}),
        ("record-employer", {"decision": "approved"}),
        ("notify-client", {}),
        ("close", {}),
    ]:
        assert post(client, f"{page}/{action}", page, **data).status_code == 303, action
    assert reload(rt, case).status == S.CLOSED
    trail = [(e.actor, e.to_status) for e in events(rt, case) if e.to_status]
    assert trail == [
        ("alex", S.APPROVED),
        ("alex", S.EMPLOYER_CONTACTED),
        ("alex", S.EMPLOYER_APPROVED),
        ("alex", S.CLIENT_NOTIFIED),
        ("alex", S.CLOSED),
    ]
    assert_no_vault_value(client.get(page).text, VAULT)


def test_the_employers_answer_is_shown_and_offered_for_recording(rt, client):
    case = make_case(rt, status=S.EMPLOYER_CONTACTED)
    add_reply(rt, case, "Approved for [EMPLOYER_1], thanks. [PERSON_3]")
    sign_in(client, "alex")
    page = f"/cases/{case.reference}"
    html = client.get(page).text
    assert "Answer from the employer" in html and "Record this answer" in html
    assert '<mark class="ph ph-person">[PERSON_3]</mark>' in html
    assert post(client, f"{page}/record-employer", page, decision="approved", note="HR answered").status_code == 303
    assert reload(rt, case).status == S.EMPLOYER_APPROVED


def add_letter(rt: Runtime, case: store.Case, text: str, *, subject: str | None, withheld: bool = False) -> None:
    """A therapist's letter on the case with its subject line, as the worker records one."""
    with store.session(rt.engine) as db:
        message = store.InboundMessage(raw_encrypted=rt.cipher.encrypt(b"x"), size=1, status="done", case_id=case.id)
        db.add(message)
        db.flush()
        db.add(
            store.CaseLetter(
                case_id=case.id,
                message_id=message.id,
                seq=1,
                redacted_text=text,
                subject_redacted=subject,
                subject_withheld=withheld,
            )
        )
        db.commit()


def test_the_case_page_shows_each_letters_redacted_subject_with_its_placeholders(rt, client):
    case = make_case(rt)
    add_letter(rt, case, REDACTED, subject='5 more sessions for [PERSON_1], fortnightly <b>"please"</b>')
    sign_in(client, "alex")
    html = client.get(f"/cases/{case.reference}").text
    assert re.search(
        r'<p class="subject">Subject: <strong>5 more sessions for <mark class="ph ph-person">\[PERSON_1\]</mark>, '
        r"fortnightly &lt;b&gt;&#34;please&#34;&lt;/b&gt;</strong></p>",
        html,
    )
    assert "withheld" not in html
    assert_no_vault_value(html, VAULT)


def test_a_withheld_subject_is_said_to_be_withheld_and_nothing_of_it_shown(rt, client):
    case = make_case(rt)
    add_letter(rt, case, REDACTED, subject=None, withheld=True)
    sign_in(client, "alex")
    html = client.get(f"/cases/{case.reference}").text
    assert "Subject: withheld (its redaction could not be verified)." in html
    assert '<p class="subject">' not in html
    assert_no_vault_value(html, VAULT)


# -- reveal --------------------------------------------------------------------------------------
def test_a_csms_reveal_is_refused_and_a_revealers_is_shown_once_and_audited(rt, client):
    case = make_case(rt)
    page = f"/cases/{case.reference}"
    sign_in(client, "alex")
    assert "Reveal" not in client.get(page).text  # not offered...
    refused = post(client, f"{page}/reveal", page, reason="curious")  # ...and refused when posted anyway
    assert refused.status_code == 403 and "may not reveal" in refused.text
    assert_no_vault_value(refused.text, VAULT)
    client.cookies.clear()
    sign_in(client, "river")
    assert "Reveal once" in client.get(page).text
    assert post(client, f"{page}/reveal", page, reason="").status_code == 403  # a reason is required
    shown = post(client, f"{page}/reveal", page, reason="subject access request")
    assert shown.status_code == 200 and "Marigold Featherstonehaugh" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert "Marigold" not in client.get(page).text  # once: the case page shows placeholders again
    trail = [(e.kind, e.actor, e.note) for e in events(rt, case)]
    assert trail[0][:2] == ("vault-reveal-refused", "alex")
    assert trail[-1][:2] == ("vault-revealed", "river") and "subject access request" in trail[-1][2]


# -- health and metrics --------------------------------------------------------------------------
def test_healthz_reports_the_database_listener_and_worker(rt, client):
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["database"] == "ok" and down.json()["worker"]["status"] == "down"
    telemetry.Telemetry().flush(rt.engine, kind="listener")
    telemetry.Telemetry().flush(rt.engine, kind="worker")
    up = client.get("/healthz")
    assert up.status_code == 200 and up.json()["status"] == "ok"


def test_metrics_are_prometheus_text_with_the_queues_refusals_latency_and_quarantine(rt, client):
    make_case(rt, status=S.QUARANTINED, reason="pdf-encrypted")
    with store.session(rt.engine) as db:
        db.add(store.InboundMessage(raw_encrypted=rt.cipher.encrypt(b"x"), size=1))
        db.commit()
    counts = telemetry.Telemetry()
    counts.count("smtp_refused", code="550")
    counts.observe("stage_seconds", 0.2, stage="redact")
    counts.flush(rt.engine, kind="listener")
    answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert "plumm_messages_accepted_total 1.0" in text
    assert 'plumm_queue_depth{queue="inbound",status="pending"} 1.0' in text
    assert 'plumm_queue_depth{queue="outbound",status="failed"} 0.0' in text
    assert 'plumm_smtp_refused_total{code="550"} 1.0' in text
    assert 'plumm_stage_latency_seconds_bucket{le="0.25",stage="redact"} 1.0' in text
    assert 'plumm_stage_latency_seconds_count{stage="redact"} 1.0' in text
    assert 'plumm_cases_quarantined{reason="pdf-encrypted"} 1.0' in text
    assert_no_vault_value(text, VAULT)
