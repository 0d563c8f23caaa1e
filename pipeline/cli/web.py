"""``plumm web``: the web console alone (uvicorn), and the helper ``plumm serve`` uses to run it as
one more process beside the listener and the worker."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer

from pipeline import store
from pipeline.cli.common import State, csm_runtime, out
from pipeline.config import Settings

WebHost = Annotated[str | None, typer.Option(help="PLUMM_WEB_HOST")]
WebPort = Annotated[int | None, typer.Option(help="PLUMM_WEB_PORT")]


def web_cmd(web_host: WebHost = None, web_port: WebPort = None) -> None:
    """Run the web console until interrupted (sign in with a user made by `plumm users add`)."""
    import uvicorn

    from pipeline.web.app import create_app

    settings = State.settings(web_host=web_host, web_port=web_port)
    store.migrate(settings.effective_database_url)
    rt = csm_runtime(settings)
    app = create_app(rt)
    out.print(f"Plumm console on http://{settings.web_host}:{settings.web_port} (users: `plumm users add`)")
    # Our logging (set up by `plumm`), not uvicorn's; the access log shows paths (case references) only.
    uvicorn.run(app, host=settings.web_host, port=settings.web_port, log_config=None, server_header=False)


def start_web_process(settings: Settings) -> subprocess.Popen[bytes]:
    """The console as a child process of `plumm serve`, with the same settings (flags become PLUMM_*)."""
    env = dict(os.environ)
    for name, value in State.overrides.items():
        if value is not None:
            env[f"PLUMM_{name.upper()}"] = str(value)
    env["PLUMM_WEB_HOST"], env["PLUMM_WEB_PORT"] = settings.web_host, str(settings.web_port)
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "web"], env=env)


def stop_web_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
