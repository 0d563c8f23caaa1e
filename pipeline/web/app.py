"""The console's application: routes, middleware and templates, built once per process.

Contract: :func:`create_app` takes a :class:`~pipeline.runtime.Runtime` and returns a Starlette app.
Every response carries a strict Content-Security-Policy (``default-src 'self'``, no inline script or
style), ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``, ``X-Content-Type-Options:
nosniff`` and, for pages, ``Cache-Control: no-store``. Any request without a signed-in session, but
for ``/login``, ``/healthz``, ``/metrics`` and ``/static``, is redirected to ``/login`` (a browser)
or answered 401. An unexpected error is logged by its type only and answered with a plain 500 page:
no traceback, no exception text, reaches a log or a page.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.compliance.keys import load_web_secret
from pipeline.runtime import Runtime
from pipeline.telemetry import Beat
from pipeline.web import health, routes, sessions

log = logging.getLogger("plumm.web")
HERE = Path(__file__).resolve().parent
PUBLIC = ("/login", "/healthz", "/metrics", "/static/")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
        b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]
ERROR_PAGE = (
    "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Error</title>"
    '<link rel=stylesheet href="/static/console.css"></head><body><main><h1>Something went wrong</h1>'
    '<p>The error is logged. <a href="/cases">Back to the cases</a></p></main></body></html>'
)


class Guard:
    """Outermost: security headers on every response, and an unexpected error becomes a plain 500
    logged by its type only (a traceback can hold values)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or static]
                headers += SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:  # never a traceback: it could carry a value
            log.error("console: unexpected %s on %s %s", type(error).__name__, scope.get("method"), scope.get("path"))
            if not started:
                await HTMLResponse(ERROR_PAGE, status_code=500)(scope, receive, send_with_headers)


class RequireSignIn(BaseHTTPMiddleware):
    """Who is signed in goes to ``request.state.actor``; anyone else sees only the public paths."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        rt: Runtime = request.app.state.rt
        path = request.url.path
        request.state.actor = None
        if not path.startswith(("/healthz", "/metrics", "/static/")):
            request.state.actor = await _actor(rt, request)
        if request.state.actor is None and not path.startswith(PUBLIC):
            if "text/html" in request.headers.get("accept", "") and request.method == "GET":
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            return PlainTextResponse("sign in first", status_code=401)
        return await call_next(request)


async def _actor(rt: Runtime, request: Request) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(sessions.current_actor, rt, request)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        400: "That request is not understood.",
        401: "Sign in first.",
        403: "Refused: the form was missing its security token, or you may not do this. Nothing changed.",
        404: "Not found (or not yours to see).",
        405: "Not allowed.",
    }
    text = messages.get(exc.status_code, "That did not work.")
    env = request.app.state.templates
    html = env.get_template("error.html.j2").render(
        status=exc.status_code,
        message=text,
        actor=getattr(request.state, "actor", None),
        csrf_token=request.session.get("csrf", "") if "session" in request.scope else "",
        flash=None,
    )
    return HTMLResponse(html, status_code=exc.status_code)


def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every value, letter text included, is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def create_app(rt: Runtime) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        beat = Beat(rt.engine, kind="web")
        beat.start()
        try:
            yield
        finally:
            beat.stop()

    app = Starlette(
        routes=[
            Route("/", routes.home),
            Route("/login", routes.login_page, methods=["GET"]),
            Route("/login", routes.login, methods=["POST"]),
            Route("/logout", routes.logout, methods=["POST"]),
            Route("/cases", routes.cases_page, methods=["GET"]),
            Route("/cases/{reference}", routes.case_page, methods=["GET"]),
            Route("/cases/{reference}/{action}", routes.case_action, methods=["POST"]),
            Route("/healthz", health.healthz, methods=["GET"]),
            Route("/metrics", health.metrics, methods=["GET"]),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[
            Middleware(Guard),
            Middleware(
                SessionMiddleware,
                secret_key=load_web_secret(rt.settings),
                session_cookie=sessions.COOKIE,
                max_age=int(rt.settings.web_session_hours * 3600),
                same_site="lax",
                https_only=rt.settings.web_secure_cookies,
            ),
            Middleware(RequireSignIn),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.rt = rt
    app.state.templates = templates()
    return app
