"""Console users: who may sign in, with which role, and the sign-in check shared by the console
and the CLI (``plumm cases show --reveal --as USER``).

Contract: passwords are stored only as argon2id hashes (argon2-cffi); :func:`authenticate` returns
the signed-in :class:`~pipeline.cases.permissions.Actor` or raises :class:`SignInRefused` with a
fixed reason. Every sign-in, failed sign-in and refused (throttled) sign-in is an ``AuditEvent``;
after ``PLUMM_SIGN_IN_ATTEMPTS`` failures in 15 minutes for one user, or from one client, sign-in is
refused without looking at the password until the window has passed. A failed attempt for a name
that is no user is recorded as ``(unknown user)``: a password typed into the name field is never
stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from pipeline import store
from pipeline.cases.permissions import CONSOLE_ROLES, Actor, Role

THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
UNKNOWN_USER = "(unknown user)"
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UserError(Exception):
    """A user cannot be added or changed as asked; the message says why."""


class SignInRefused(Exception):
    """Sign-in refused; ``reason`` is ``bad-credentials`` or ``throttled`` (never which part was wrong)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def audit(db: store.Session, *, actor: str, kind: str, client: str = "", note: str = "") -> None:
    db.add(store.AuditEvent(actor=actor, kind=kind, client=client, note=note))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def add_user(
    engine: Engine,
    name: str,
    *,
    role: str,
    accounts: Sequence[str] = (),
    known_accounts: Iterable[str],
    password: str,
    by: str,
) -> store.ConsoleUser:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise UserError("a user name is 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter")
    if role not in CONSOLE_ROLES:
        raise UserError(f"role must be one of {', '.join(CONSOLE_ROLES)}")
    unknown = sorted(set(accounts) - set(known_accounts))
    if unknown:
        raise UserError(f"no account {', '.join(unknown)} in accounts.yaml")
    if role == Role.CSM and not accounts:
        raise UserError("a CSM looks after at least one account: add --account ID")
    _check_password(password)
    with store.session(engine) as db:
        if db.execute(select(store.ConsoleUser).where(col(store.ConsoleUser.name) == name)).first():
            raise UserError(f"user {name} exists already")
        user = store.ConsoleUser(
            name=name, role=role, accounts=sorted(set(accounts)), password_hash=_hasher.hash(password)
        )
        db.add(user)
        audit(
            db,
            actor=by,
            kind="user-added",
            note=f"{name} as {role}" + (f" for {','.join(user.accounts)}" if accounts else ""),
        )
        db.commit()
        return user


def list_users(engine: Engine) -> list[store.ConsoleUser]:
    with store.session(engine) as db:
        return list(db.execute(select(store.ConsoleUser).order_by(col(store.ConsoleUser.name))).scalars())


def _user(db: store.Session, name: str) -> store.ConsoleUser:
    user = db.execute(
        select(store.ConsoleUser).where(col(store.ConsoleUser.name) == name.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise UserError(f"no user {name.strip().lower()}")
    return user


def set_disabled(engine: Engine, name: str, *, disabled: bool, by: str) -> None:
    """Disable (or enable again) a user; a disabled user's open sessions stop at their next request."""
    with store.session(engine) as db:
        user = _user(db, name)
        user.disabled = disabled
        db.add(user)
        audit(db, actor=by, kind="user-disabled" if disabled else "user-enabled", note=user.name)
        db.commit()


def set_password(engine: Engine, name: str, *, password: str, by: str) -> None:
    _check_password(password)
    with store.session(engine) as db:
        user = _user(db, name)
        user.password_hash = _hasher.hash(password)
        db.add(user)
        audit(db, actor=by, kind="password-set", note=user.name)
        db.commit()


def actor_of(user: store.ConsoleUser) -> Actor:
    return Actor(name=user.name, role=Role(user.role), accounts=frozenset(user.accounts))


def signed_in_actor(engine: Engine, user_id: int) -> Actor | None:
    """The actor behind a session: None once the user is disabled or gone."""
    with store.session(engine) as db:
        user = db.get(store.ConsoleUser, user_id)
        return None if user is None or user.disabled else actor_of(user)


def _recent_failures(db: store.Session, *, actor: str, client: str, now: datetime) -> int:
    A = store.AuditEvent
    who = [col(A.actor) == actor] if actor != UNKNOWN_USER else []
    if client:
        who.append(col(A.client) == client)
    if not who:
        return 0
    return int(
        db.execute(
            select(func.count())
            .select_from(A)
            .where(col(A.kind) == "sign-in-failed", col(A.at) >= now - THROTTLE_WINDOW, or_(*who))
        ).scalar_one()
    )


def authenticate(
    engine: Engine, name: str, password: str, *, client: str, attempts: int, now: datetime | None = None
) -> tuple[int, Actor]:
    """(user id, actor) for a right name and password of an enabled user; else :class:`SignInRefused`.

    ``client`` says where the attempt came from (a keyed hash of the address, or ``cli:<os user>``)."""
    now = now or store.utcnow()
    with store.session(engine) as db:
        user = db.execute(
            select(store.ConsoleUser).where(col(store.ConsoleUser.name) == name.strip().lower())
        ).scalar_one_or_none()
        who = user.name if user is not None else UNKNOWN_USER
        if _recent_failures(db, actor=who, client=client, now=now) >= attempts:
            audit(db, actor=who, kind="sign-in-throttled", client=client)
            db.commit()
            raise SignInRefused("throttled")
        try:
            _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
            ok = user is not None and not user.disabled
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            audit(
                db, actor=who, kind="sign-in-failed", client=client, note="disabled" if user and user.disabled else ""
            )
            db.commit()
            raise SignInRefused("bad-credentials")
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
            db.add(user)
        audit(db, actor=who, kind="sign-in", client=client)
        db.commit()
        assert user.id is not None
        return user.id, actor_of(user)
