"""What a person may see: the queue listing and one case, for the web console (the read side of the
service layer; the actions are in :mod:`pipeline.cases.service`).

Contract: :func:`list_cases` returns one page of the cases an :class:`~pipeline.cases.permissions.Actor`
may see (a CSM: their accounts'; a lead, admin or revealer: every case, with the ``unassigned`` and
``quarantined`` queues), oldest waiting first, filtered by status, account and how long they have
waited. :func:`case_detail` returns one case with its messages (the therapist's letters, the
employer's and the client's replies, all redacted) and its audit trail, or raises
:class:`~pipeline.cases.service.CaseNotFound` when the actor may not see it. Nothing here opens a
vault: a quarantined case's letter is left out, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlmodel import col

from pipeline import store
from pipeline.cases.lifecycle import S
from pipeline.cases.permissions import Action, Actor
from pipeline.cases.routing import UNASSIGNED
from pipeline.cases.service import CaseNotFound
from pipeline.patterns import is_case_reference

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

PER_PAGE = 50
QUEUES = ("open", "unassigned", "quarantined", "all")  # "open": everything not closed


@dataclass(frozen=True, slots=True)
class Filters:
    queue: str = "open"
    status: str | None = None
    account: str | None = None
    waited_days: int | None = None  # only cases waiting in their status at least this long
    page: int = 1


@dataclass(frozen=True, slots=True)
class Page:
    cases: list[store.Case]
    total: int
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: store.Case
    messages: list[store.CaseLetter]
    events: list[store.CaseEvent]
    mail: list[store.OutboundMessage]  # what we sent for the case (kinds, statuses; never payloads)


def _conditions(rt: Runtime, actor: Actor, filters: Filters) -> list:
    C = store.Case
    where: list = []
    if not actor.sees_every_case:
        where.append(col(C.account).in_(sorted(actor.accounts) or [""]))
    unassigned = or_(col(C.account).is_(None), col(C.account) == UNASSIGNED)
    if filters.queue == "unassigned":
        where.append(unassigned)
    elif filters.queue == "quarantined":
        where.append(col(C.status) == S.QUARANTINED)
    elif filters.queue == "open" and not filters.status:
        where.append(col(C.status) != S.CLOSED)
    if filters.status:
        where.append(col(C.status) == filters.status)
    if filters.account:
        where.append(unassigned if filters.account == UNASSIGNED else col(C.account) == filters.account)
    if filters.waited_days:
        where.append(col(C.status_since) <= rt.clock() - timedelta(days=filters.waited_days))
    return where


def list_cases(rt: Runtime, actor: Actor, filters: Filters) -> Page:
    where = _conditions(rt, actor, filters)
    with store.session(rt.engine) as db:
        total = int(db.execute(select(func.count()).select_from(store.Case).where(*where)).scalar_one())
        pages = max(1, -(-total // PER_PAGE))
        page = min(max(1, filters.page), pages)
        rows = (
            db.execute(
                select(store.Case)
                .where(*where)
                .order_by(col(store.Case.status_since), col(store.Case.id))
                .offset((page - 1) * PER_PAGE)
                .limit(PER_PAGE)
            )
            .scalars()
            .all()
        )
    return Page(cases=list(rows), total=total, page=page, pages=pages)


def case_detail(rt: Runtime, actor: Actor, reference: str) -> CaseDetail:
    reference = reference.strip().upper()
    if not is_case_reference(reference):
        raise CaseNotFound("not a case reference (expected PLM-YYYY-NNNNNN)")
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case).where(col(store.Case.reference) == reference)).scalar_one_or_none()
        if case is None or not actor.may(Action.VIEW, case):
            raise CaseNotFound(f"no case {reference}")
        L, E, Out = store.CaseLetter, store.CaseEvent, store.OutboundMessage
        messages = db.execute(select(L).where(col(L.case_id) == case.id).order_by(col(L.seq))).scalars().all()
        events = db.execute(select(E).where(col(E.case_id) == case.id).order_by(col(E.id))).scalars().all()
        mail = db.execute(select(Out).where(col(Out.case_id) == case.id).order_by(col(Out.id))).scalars().all()
    if case.status == S.QUARANTINED:  # nothing from a quarantined message reaches a person
        messages = []
    return CaseDetail(case=case, messages=list(messages), events=list(events), mail=list(mail))
