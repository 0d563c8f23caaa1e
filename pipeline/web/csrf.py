"""CSRF: every state-changing POST carries the session's token in a hidden ``csrf_token`` field.

Contract: :func:`token` gives the session's token (making one on first use; a sign-in makes a new
one). :func:`checked_form` reads a POST's form and raises a 403 unless its ``csrf_token`` equals the
session's (compared in constant time); a route calls it before doing anything, so a forged or
token-less POST changes nothing.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

FIELD = "csrf_token"


def token(request: Request) -> str:
    value = request.session.get("csrf")
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        request.session["csrf"] = value
    return value


async def checked_form(request: Request) -> FormData:
    form = await request.form()
    sent = form.get(FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise HTTPException(status_code=403, detail="missing or invalid csrf_token")
    return form
