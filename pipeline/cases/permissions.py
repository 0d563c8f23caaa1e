"""Who may do what to which case: one table, checked by the service layer for every caller.

Contract: an :class:`Actor` is a console user (signed in, with a role and, for a CSM, the accounts
they look after) or an operator at the host's command line (``plumm cases ...``, recorded as
``cli:<os user>``). :func:`check` raises :class:`PermissionRefused` when the actor's role may not do
``action`` on ``case``; :func:`visible` says which cases an actor may list. Templates and the CLI
never decide this; they ask.

| role     | sees                          | assess (*)            | assign, reprocess | reveal |
|----------|-------------------------------|-----------------------|-------------------|--------|
| csm      | their accounts' cases         | their accounts' cases | no                | no     |
| lead     | every case and every queue    | yes                   | yes               | no     |
| admin    | every case and every queue    | yes                   | yes               | no     |
| revealer | every case                    | no                    | no                | yes    |
| operator | every case (the host's shell) | yes                   | yes               | no     |

(*) approve, decline, ask the employer, record its answer, tell the client, close.

Reveal is for a signed-in ``revealer`` only: an operator's shell is not enough (``plumm cases show
--reveal --as USER`` signs in a console user).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline import store


class Role(enum.StrEnum):
    CSM = "csm"
    LEAD = "lead"
    REVEALER = "revealer"
    ADMIN = "admin"
    OPERATOR = "operator"  # the host's command line; never a console user's role


CONSOLE_ROLES = (Role.CSM, Role.LEAD, Role.REVEALER, Role.ADMIN)


class Action(enum.StrEnum):
    VIEW = "view"
    ASSESS = "assess"  # approve, decline, ask the employer, record its answer, tell the client, close
    ROUTE = "route"  # assign an account, re-run quarantined messages
    REVEAL = "reveal"


class PermissionRefused(Exception):
    """The actor's role may not do this (the message names the actor, the role and the action)."""


_ALL_CASES: dict[Role, set[Action]] = {
    Role.LEAD: {Action.VIEW, Action.ASSESS, Action.ROUTE},
    Role.ADMIN: {Action.VIEW, Action.ASSESS, Action.ROUTE},
    Role.REVEALER: {Action.VIEW, Action.REVEAL},
    Role.OPERATOR: {Action.VIEW, Action.ASSESS, Action.ROUTE},
}
_OWN_ACCOUNTS: dict[Role, set[Action]] = {Role.CSM: {Action.VIEW, Action.ASSESS}}


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: Role
    accounts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def operator(cls, os_user: str) -> Actor:
        """Someone at the host's command line, named by their login."""
        return cls(name=os_user, role=Role.OPERATOR)

    @property
    def label(self) -> str:
        """How the audit trail names them."""
        return f"cli:{self.name}" if self.role == Role.OPERATOR else self.name

    @property
    def sees_every_case(self) -> bool:
        return Action.VIEW in _ALL_CASES.get(self.role, set())

    def may(self, action: Action, case: store.Case | None = None) -> bool:
        if action in _ALL_CASES.get(self.role, set()):
            return True
        if action in _OWN_ACCOUNTS.get(self.role, set()):
            return case is None or (case.account is not None and case.account in self.accounts)
        return False


def check(actor: Actor, action: Action, case: store.Case) -> None:
    if not actor.may(action, case):
        scope = " on this account" if action in _OWN_ACCOUNTS.get(actor.role, set()) else ""
        raise PermissionRefused(f"{case.reference}: {actor.label} ({actor.role}) may not {action}{scope}")


def visible_accounts(actor: Actor) -> Iterable[str] | None:
    """The accounts whose cases the actor may list; None for every case (unassigned included)."""
    return None if actor.sees_every_case else sorted(actor.accounts) if actor.may(Action.VIEW) else []
