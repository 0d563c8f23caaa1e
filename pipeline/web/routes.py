"""The console's pages and actions.

Contract: every GET page renders a template with plain values (:mod:`pipeline.web.views`); every
POST first checks the CSRF token (:func:`pipeline.web.csrf.checked_form`, 403 and nothing changed
without it), then calls the one service layer (:mod:`pipeline.cases.service`), which checks the
permission and the life cycle. A refusal is shown on the case page with the service's message
(references, statuses and counts only); a success redirects back to the case (303).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pipeline import users
from pipeline.cases import reading
from pipeline.cases import service as csm
from pipeline.cases.permissions import Actor, PermissionRefused
from pipeline.cases.routing import UNASSIGNED
from pipeline.models import CaseStatus
from pipeline.runtime import Runtime
from pipeline.web import csrf, sessions, views

log = logging.getLogger("plumm.web")


def _rt(request: Request) -> Runtime:
    return request.app.state.rt  # type: ignore[no-any-return]


def _actor(request: Request) -> Actor:
    actor = getattr(request.state, "actor", None)
    if actor is None:  # the sign-in middleware lets no anonymous request reach a page
        raise HTTPException(status_code=401)
    return actor  # type: ignore[no-any-return]


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    env = request.app.state.templates
    actor = getattr(request.state, "actor", None)
    flash = request.session.pop("flash", None) if actor is not None else None
    html = env.get_template(template).render(
        actor=actor, csrf_token=csrf.token(request), flash=flash, request_path=request.url.path, **values
    )
    return HTMLResponse(html, status_code=status_code)


# -- signing in ----------------------------------------------------------------------------------
def _safe_next(value: str | None) -> str:
    """Only a path of this console (never another site): an open redirect would help phishing."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/cases"


async def login_page(request: Request) -> Response:
    if getattr(request.state, "actor", None) is not None:
        return RedirectResponse("/cases", status_code=303)
    return render(request, "login.html.j2", next=_safe_next(request.query_params.get("next")), failed=None)


async def login(request: Request) -> Response:
    form = await csrf.checked_form(request)
    rt = _rt(request)
    name, password = str(form.get("username") or ""), str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    try:
        user_id, _actor = await run_in_threadpool(
            users.authenticate,
            rt.engine,
            name,
            password,
            client=sessions.client_key(rt, request),
            attempts=rt.settings.sign_in_attempts,
        )
    except users.SignInRefused as refused:
        throttled = refused.reason == "throttled"
        return render(
            request, "login.html.j2", status_code=429 if throttled else 401, next=target, failed=refused.reason
        )
    sessions.sign_in(request, user_id)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    await csrf.checked_form(request)
    sessions.sign_out(request)
    return RedirectResponse("/login", status_code=303)


async def home(request: Request) -> Response:
    return RedirectResponse("/cases", status_code=303)


# -- pages ---------------------------------------------------------------------------------------
def _filters(request: Request, actor: Actor) -> reading.Filters:
    q = request.query_params
    queue = q.get("queue") or "open"
    status = q.get("status") or None
    account = q.get("account") or None
    if queue not in reading.QUEUES or (queue in ("unassigned", "quarantined") and not actor.sees_every_case):
        raise HTTPException(status_code=400, detail="unknown queue")
    if status is not None and status not in {s.value for s in CaseStatus}:
        raise HTTPException(status_code=400, detail="unknown status")
    try:
        waited = int(q["waited_days"]) if q.get("waited_days") else None
        page = int(q.get("page") or 1)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="waited_days and page are numbers") from exc
    return reading.Filters(queue=queue, status=status, account=account, waited_days=waited, page=page)


async def cases_page(request: Request) -> Response:
    actor, rt = _actor(request), _rt(request)
    filters = _filters(request, actor)
    page = await run_in_threadpool(reading.list_cases, rt, actor, filters)
    now = rt.clock()
    accounts = [a.id for a in rt.accounts.accounts if actor.sees_every_case or a.id in actor.accounts]
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        "cases.html.j2",
        rows=[views.row(c, now) for c in page.cases],
        page=page,
        filters=filters,
        statuses=[s.value for s in CaseStatus],
        accounts=accounts + ([UNASSIGNED] if actor.sees_every_case else []),
        queues=reading.QUEUES if actor.sees_every_case else ("open", "all"),
        page_link=lambda n: "/cases?" + urlencode({**query, "page": n}),
    )


async def _case_response(request: Request, reference: str, *, error: str | None = None, status: int = 200) -> Response:
    actor, rt = _actor(request), _rt(request)
    try:
        detail = await run_in_threadpool(reading.case_detail, rt, actor, reference)
    except csm.CaseNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    case = views.case_page(detail, actor, rt.clock())
    accounts = [a.id for a in rt.accounts.accounts]
    return render(request, "case.html.j2", status_code=status, case=case, error=error, accounts=accounts)


async def case_page(request: Request) -> Response:
    return await _case_response(request, request.path_params["reference"])


# -- actions -------------------------------------------------------------------------------------
def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


ACTIONS: dict[str, Callable[[Runtime, str, Actor, FormData], Any]] = {
    "approve": lambda rt, ref, actor, f: csm.approve(rt, ref, actor=actor, note=_text(f, "note")),
    "decline": lambda rt, ref, actor, f: csm.decline(rt, ref, actor=actor, reason=_text(f, "reason")),
    "request-employer": lambda rt, ref, actor, f: csm.request_employer(rt, ref, actor=actor, note=_text(f, "note")),
    "record-employer": lambda rt, ref, actor, f: csm.record_employer(
        rt, ref, _text(f, "decision"), actor=actor, note=_text(f, "note")
    ),
    "notify-client": lambda rt, ref, actor, f: csm.notify_client(
        rt,
        ref,
        actor=actor,
        to=_text(f, "to") or None,
        work_address_reason=_text(f, "work_address_reason"),
        note=_text(f, "note"),
    ),
    "close": lambda rt, ref, actor, f: csm.close(rt, ref, actor=actor, note=_text(f, "note")),
    "reprocess": lambda rt, ref, actor, f: csm.reprocess(rt, ref, actor=actor, note=_text(f, "note")),
    "assign": lambda rt, ref, actor, f: csm.assign(rt, ref, _text(f, "account"), actor=actor, note=_text(f, "note")),
}
DONE = {
    "approve": "approved",
    "decline": "declined",
    "request-employer": "the employer's HR contact has been asked",
    "record-employer": "the employer's answer is recorded",
    "notify-client": "the client is being told",
    "close": "closed",
    "reprocess": "the quarantined message is queued to run again",
    "assign": "assigned",
}


async def case_action(request: Request) -> Response:
    reference, action = request.path_params["reference"], request.path_params["action"]
    form = await csrf.checked_form(request)
    actor, rt = _actor(request), _rt(request)
    if action == "reveal":
        return await _reveal(request, rt, actor, reference, form)
    handler = ACTIONS.get(action)
    if handler is None:
        raise HTTPException(status_code=404, detail="no such action")
    try:
        await run_in_threadpool(handler, rt, reference, actor, form)
    except csm.CaseNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except PermissionRefused as refused:
        return await _case_response(request, reference, error=str(refused), status=403)
    except (csm.ActionRefused, csm.TransitionRefused) as refused:
        return await _case_response(request, reference, error=str(refused), status=409)
    log.info("%s: %s by %s", reference.strip().upper(), action, actor.label)
    request.session["flash"] = DONE[action]
    return RedirectResponse(f"/cases/{reference.strip().upper()}", status_code=303)


async def _reveal(request: Request, rt: Runtime, actor: Actor, reference: str, form: FormData) -> Response:
    try:
        vault = await run_in_threadpool(csm.reveal, rt, reference, actor=actor, reason=_text(form, "reason"))
    except csm.CaseNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except csm.RevealRefused as refused:
        return await _case_response(request, reference, error=str(refused), status=403)
    response = render(request, "revealed.html.j2", reference=reference.strip().upper(), values=sorted(vault.items()))
    response.headers["Cache-Control"] = "no-store"
    return response
