"""Signing in and out, and who is signed in.

Contract: the session is Starlette's signed cookie (itsdangerous, the secret from
``PLUMM_WEB_SECRET`` or ``<data dir>/web.key``): HttpOnly, SameSite=Lax, Secure when
``PLUMM_WEB_SECURE_COOKIES`` is set, and it holds only the user's id, when they signed in and the
CSRF token. A sign-in lasts ``PLUMM_WEB_SESSION_HOURS`` at most, idle or not; a user disabled with
``plumm users disable`` is signed out at their next request (the user is looked up every time).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request

from pipeline import store, users
from pipeline.cases.permissions import Actor
from pipeline.runtime import Runtime
from pipeline.web import csrf

COOKIE = "plumm_session"


def client_key(rt: Runtime, request: Request) -> str:
    """Where a request came from, as a keyed hash (failed sign-ins are counted per client)."""
    host = request.client.host if request.client else ""
    return store.keyed_hash(rt.hash_key, f"web:{host}")


def clock() -> datetime:
    """Now, for a session's age (a test moves it on instead of sleeping)."""
    return store.utcnow()


def sign_in(request: Request, user_id: int) -> None:
    """A new session for the user: the anonymous one (and its CSRF token) is dropped."""
    request.session.clear()
    request.session.update({"uid": user_id, "at": store.utcnow().isoformat()})
    csrf.token(request)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_actor(rt: Runtime, request: Request) -> Actor | None:
    """The signed-in actor, or None (no session, expired, or the user disabled or gone)."""
    uid, at = request.session.get("uid"), request.session.get("at")
    if not isinstance(uid, int) or not isinstance(at, str):
        return None
    try:
        signed_in = datetime.fromisoformat(at)
    except ValueError:
        return None
    if clock() - store.aware(signed_in) > timedelta(hours=rt.settings.web_session_hours):
        sign_out(request)
        return None
    actor = users.signed_in_actor(rt.engine, uid)
    if actor is None:
        sign_out(request)
    return actor
