"""`plumm serve` as an operator runs it: a real process, a real SMTP client, `plumm cases list`."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.test_worker import letter_bytes

PLUMM = str(Path(sys.executable).parent / "plumm")


@pytest.mark.slow
def test_serve_turns_a_sent_letter_into_a_listed_case(tmp_path):
    port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "PLUMM_DATA_DIR": str(tmp_path / "var"),
        "PLUMM_SMTP_PORT": str(port),
        "PLUMM_WEB_PORT": str(web_port),
        "PLUMM_WORKER_POLL_SECONDS": "0.2",
    }
    env.pop("PLUMM_DATABASE_URL", None)
    proc = subprocess.Popen(
        [PLUMM, "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the listener is up
        assert f"listening on smtp://127.0.0.1:{port}" in line
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("ada.lovegood@clinic.example", ["hello@heyplumm.com"], letter_bytes(1))
        deadline = time.monotonic() + 60
        listing = ""
        while time.monotonic() < deadline:
            listing = subprocess.run(
                [PLUMM, "cases", "list"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
            ).stdout
            if "ready_for_assessment" in listing:
                break
            time.sleep(0.5)
        lines = [x for x in listing.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("PLM-") and "ready_for_assessment" in lines[0]
        # The web console runs beside them, as its own process, and sees both alive.
        assert healthz(web_port, deadline=time.monotonic() + 30) == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    assert proc.returncode == 0
    assert "Marigold" not in stderr and "lovegood" not in stderr.lower()


def healthz(port: int, *, deadline: float) -> int:
    """The console's /healthz status once it answers 200 (listener and worker heartbeats seen), or the last one."""
    status = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            pass
        time.sleep(0.3)
    return status


UNREACHABLE = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:{port}/test",  # nothing listens there
    "sqlite": "sqlite:////proc/plumm-no-such-folder/plumm.db",  # a folder nobody can create
}


@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
@pytest.mark.parametrize(
    "command",
    [["migrate"], ["cases", "list"], ["inbound", "list"], ["outbox", "list"], ["digest"], ["worker"], ["serve"]],
    ids=lambda c: " ".join(c),
)
def test_an_unreachable_database_is_one_line_and_exit_2_for_every_command(tmp_path, kind, command):
    from tests.conftest import plumm_environment

    url = UNREACHABLE[kind].format(port=free_port())
    env = plumm_environment(
        database_url=url, data_dir=tmp_path / "var", vault_key="", hash_key="h", PLUMM_SMTP_PORT=str(free_port())
    )
    result = subprocess.run([PLUMM, *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("plumm: the database cannot be used: ") and "PLUMM_DATABASE_URL" in lines[0]
    assert "127.0.0.1" not in lines[0] and "/proc" not in lines[0]  # the reason by its code, never the URL
