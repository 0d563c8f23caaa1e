"""The web console: CSMs, the team lead and revealers work cases in a browser.

Server-rendered (Starlette and Jinja2, no script, no build step, no external asset): ``app`` builds
the application (routes, middleware, templates), ``sessions`` signs people in and out (argon2 via
:mod:`pipeline.users`, a signed HttpOnly cookie that expires), ``csrf`` guards every state-changing
POST, ``views`` turns cases into what a page shows (placeholders highlighted, letter text always
escaped), ``routes`` answers the pages and actions through the one service layer
(:mod:`pipeline.cases.service`, which checks permissions), and ``health`` serves ``/healthz`` and
``/metrics``. Nothing a page, header, log line or error shows holds a vault value, except the one
page a revealer asks for with a reason, shown once and never cached.
"""
