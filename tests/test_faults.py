"""Faults: processes killed, the database away, the disk full; and scale-out on PostgreSQL.

Every test runs the real ``plumm serve --no-worker`` / ``plumm worker`` processes (or the real
listener in process) on loopback, bounds every loop in count and time, and asserts the counts:
sent, acknowledged with 250, recorded, duplicated = 0, lost = 0. Each runs on SQLite and on the
local PostgreSQL (skipped when it cannot be reached). The database outage on PostgreSQL goes
through a TCP proxy we cut, never by stopping the shared server. Counts go to stdout as one
``FAULT ...`` line per test (``pytest -s`` shows them); no value from a letter is printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func
from sqlalchemy import select as sa_select

from pipeline import store
from pipeline.config import load_settings
from tests.conftest import free_port, plumm_environment, replace_processing

PLUMM = str(Path(sys.executable).parent / "plumm")
SENDER = "ada.lovegood@clinic.example"
INTAKE = "hello@heyplumm.com"
MSGID_RE = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.I | re.M)
pytestmark = [pytest.mark.slow, pytest.mark.faults]


# -- letters -----------------------------------------------------------------------------------
def fault_letter(n: int, *, tag: str = "fault", padding: int = 0) -> bytes:
    """A short, complete letter; unique Message-ID per n. Fixed text: only the number varies."""
    msg = EmailMessage()
    msg["From"] = f"Dr Ada Lovegood <{SENDER}>"
    msg["To"] = INTAKE
    msg["Subject"] = f"Request for additional sessions ({tag} {n})"
    msg["Message-ID"] = f"<{tag}-{n}@clinic.example>"
    body = (
        "Dear Plumm team,\n\nI am writing about my client Marigold Featherstonehaugh. She has attended "
        "weekly CBT sessions and her GAD-7 score remains 15, because her panic attacks continue to affect "
        "her work.\n\nI recommend six additional sessions, weekly, to consolidate her progress.\n\n"
        "Kind regards,\nDr Ada Lovegood\nCounselling Psychologist\n"
    )
    if padding:
        body += "\n" + "Further notes follow on the plan of care for the weeks ahead.\n" * (padding // 64 + 1)
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP_POLICY)  # CRLF line ends, as on the wire


def message_id_of(raw: bytes) -> str:
    match = MSGID_RE.search(raw)
    assert match, "letter without Message-ID"
    return match.group(1).decode()


# -- the database under test ---------------------------------------------------------------------
@dataclass
class Deployment:
    """One database plus the environment our processes share (keys, data dir, poll interval)."""

    url: str
    data_dir: Path
    kind: str
    vault_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    procs: list[subprocess.Popen] = field(default_factory=list)

    def env(self, **more: str) -> dict[str, str]:
        return plumm_environment(
            database_url=self.url,
            data_dir=self.data_dir,
            vault_key=self.vault_key,
            hash_key="fault-hash-key",
            **{"PLUMM_WORKER_POLL_SECONDS": "0.2", "PLUMM_SMTP_MAX_CONNECTIONS_PER_IP": "64", **more},
        )

    def settings(self, **more):
        return load_settings(
            database_url=self.url, data_dir=self.data_dir, vault_key=self.vault_key, hash_key="fault-hash-key", **more
        )

    @property
    def engine(self):
        return store.make_engine(self.url)

    # -- processes ---------------------------------------------------------------------------
    def listener(
        self, port: int, log: Path, *, url: str | None = None, preexec=None, timeout: float = 60
    ) -> subprocess.Popen:
        env = self.env(PLUMM_SMTP_PORT=str(port), **({"PLUMM_DATABASE_URL": url} if url else {}))
        with open(log, "ab") as err:
            proc = subprocess.Popen(
                [PLUMM, "serve", "--no-worker"], env=env, stdout=subprocess.PIPE, stderr=err, preexec_fn=preexec
            )
        self.procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        buffered = b""
        while time.monotonic() < deadline and b"listening on" not in buffered:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffered += chunk
        assert b"listening on" in buffered, f"listener did not start (exit {proc.poll()})"
        return proc

    def worker(self, log: Path, **more: str) -> subprocess.Popen:
        with open(log, "ab") as err:
            proc = subprocess.Popen(
                [PLUMM, "worker", "--processes", "1"], env=self.env(**more), stdout=subprocess.DEVNULL, stderr=err
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for proc in self.procs:
            if proc.stdout is not None:
                proc.stdout.close()

    # -- what the database holds ----------------------------------------------------------------
    def stored_message_ids(self) -> Counter[str]:
        """Message-ID -> number of stored copies (decrypted here, in the test, never printed)."""
        from pipeline.compliance.keys import load_cipher

        fernet = load_cipher(self.settings())
        with store.session(self.engine) as db:
            blobs = db.execute(sa_select(store.InboundMessage.raw_encrypted)).scalars().all()
        return Counter(message_id_of(fernet.decrypt(b)) for b in blobs)

    def case_map(self) -> dict[str, set[int]]:
        """Message-ID -> the set of case ids its stored copies ended in."""
        from pipeline.compliance.keys import load_cipher

        fernet = load_cipher(self.settings())
        result: dict[str, set[int]] = {}
        with store.session(self.engine) as db:
            M = store.InboundMessage
            rows = db.execute(sa_select(M.raw_encrypted, M.case_id)).all()
        for blob, case_id in rows:
            result.setdefault(message_id_of(fernet.decrypt(blob)), set()).add(case_id)
        return result

    def count(self, model, *where) -> int:
        with store.session(self.engine) as db:
            query = sa_select(func.count()).select_from(model)
            for w in where:
                query = query.where(w)
            return db.execute(query).scalar_one()

    def unfinished(self) -> int:
        M = store.InboundMessage
        return self.count(M, M.status.in_([store.MessageStatus.PENDING, store.MessageStatus.PROCESSING]))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def deployment(request, tmp_path):
    from tests.conftest import fresh_database_url

    url = fresh_database_url(request.param, tmp_path)
    dep = Deployment(url=url, data_dir=tmp_path / "data", kind=request.param)
    yield dep
    dep.stop_all()
    store.make_engine(url).dispose()
    if request.param == "postgresql":
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# -- senders ------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What the clients saw. Message-IDs only; the letters' content never leaves the sender."""

    sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    attempts: int = 0
    no_reply: int = 0
    temp_failed: int = 0
    resent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, name: str, **more: object) -> str:
        extra = " ".join(f"{k}={v}" for k, v in more.items())
        return (
            f"FAULT {name}: sent={len(self.sent)} attempts={self.attempts} acked_250={len(self.acked)} "
            f"no_reply={self.no_reply} 4xx={self.temp_failed} resent={self.resent} {extra}"
        ).rstrip()


def send_until_acked(
    port: int, letters: list[bytes], tally: Tally, *, deadline: float, per_session: int = 25, pause: float = 0.0
) -> None:
    """One client: send each letter until it gets 250; resend the same bytes after no reply or 4xx.

    Several messages per session, as a relay does; reconnect after any failure. Bounded by the
    deadline and by 200 attempts per letter."""
    pending = list(letters)
    with tally.lock:
        tally.sent.update(message_id_of(raw) for raw in letters)
    tries: Counter[int] = Counter()
    client: smtplib.SMTP | None = None
    in_session = 0
    while pending and time.monotonic() < deadline:
        raw = pending[0]
        idx = id(raw)
        if tries[idx] >= 200:
            break
        tries[idx] += 1
        with tally.lock:
            tally.attempts += 1
            if tries[idx] > 1:
                tally.resent += 1
        try:
            if client is None:
                client = smtplib.SMTP("127.0.0.1", port, timeout=20)
                in_session = 0
            client.sendmail(SENDER, [INTAKE], raw)
            in_session += 1
            with tally.lock:
                tally.acked.add(message_id_of(raw))
            pending.pop(0)
            if pause:
                time.sleep(pause)
            if in_session >= per_session:
                with contextlib.suppress(Exception):
                    client.quit()
                client = None
        except smtplib.SMTPResponseException as exc:
            with tally.lock:
                if 400 <= exc.smtp_code < 500:
                    tally.temp_failed += 1
                else:
                    tally.no_reply += 1  # should not happen: counted and asserted on
            client = _drop(client)
            time.sleep(0.2)
        except (smtplib.SMTPException, OSError):
            with tally.lock:
                tally.no_reply += 1
            client = _drop(client)
            time.sleep(0.2)
    _drop(client)


def _drop(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()
    return None


def run_clients(
    port: int, letters: list[bytes], clients: int, tally: Tally, *, deadline: float, **kw
) -> list[threading.Thread]:
    threads = [
        threading.Thread(
            target=send_until_acked,
            args=(port, letters[i::clients], tally),
            kwargs={"deadline": deadline, **kw},
            daemon=True,
        )
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    return threads


def wait_until(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def assert_exactly_once(dep: Deployment, tally: Tally) -> dict[str, int]:
    """Every sent letter acknowledged and recorded in exactly one case; none lost, none doubled."""
    cases = dep.case_map()
    recorded = {mid for mid, ids in cases.items() if None not in ids}
    duplicated = sum(1 for ids in cases.values() if len(ids - {None}) > 1)
    lost = len(tally.sent - recorded)
    counts = {
        "recorded": len(recorded),
        "cases": dep.count(store.Case),
        "duplicated": duplicated,
        "lost": lost,
        "stored_rows": dep.count(store.InboundMessage),
    }
    assert tally.acked == tally.sent, "a letter never got 250"
    assert set(cases) == tally.sent, "a stored message that nobody sent, or a sent one never stored"
    assert duplicated == 0 and lost == 0
    assert counts["cases"] == len(tally.sent)  # one case per distinct Message-ID
    assert dep.unfinished() == 0
    return counts


# -- 1. kill -9 of the listener ---------------------------------------------------------------------
def drain_parse_only(dep: Deployment, monkeypatch, *, limit: int) -> int:
    """Drain in process with the real worker (claim, lease, record, de-duplication, acknowledgement)
    but only the parse stage: 500 letters through spaCy and Presidio take minutes on 2 cores and test
    nothing here; the NLP stages under faults are covered by the tests below, with real workers."""
    import pipeline.worker as worker_module
    from pipeline.models import LetterMissing
    from pipeline.stages.parse import parse

    def parse_only(rt, raw):
        return worker_module.Processed(mail=parse(raw), outcome=LetterMissing("fault-test-parse-only"))

    replace_processing(monkeypatch, parse_only)
    worker = worker_module.Worker(worker_module.Runtime(dep.settings()), worker_id="fault-drain")
    n = 0
    deadline = time.monotonic() + 120
    while n < limit and time.monotonic() < deadline and worker.run_once():
        n += 1
    return n


def test_listener_killed_mid_load_loses_nothing_and_resends_open_no_second_case(deployment, tmp_path, monkeypatch):
    dep = deployment
    started = time.monotonic()
    port = free_port()
    log = tmp_path / "listener.log"
    letters = [fault_letter(n, tag="kill-listener") for n in range(500)]
    tally = Tally()
    proc = dep.listener(port, log)
    threads = run_clients(port, letters, 8, tally, deadline=time.monotonic() + 150)
    kills = 0
    for threshold in (150, 350):  # kill twice, mid-stream, then restart on the same port
        assert wait_until(lambda t=threshold: len(tally.acked) >= t, timeout=60)
        proc.kill()
        proc.wait(timeout=10)
        kills += 1
        acked_at_kill = set(tally.acked)
        # What had its 250 before the kill is on disk, whatever happened to the process.
        assert acked_at_kill <= set(dep.stored_message_ids())
        time.sleep(0.5)
        proc = dep.listener(port, log)
    for t in threads:
        t.join(timeout=150)
    assert not any(t.is_alive() for t in threads)
    stored = dep.stored_message_ids()
    assert tally.acked <= set(stored)
    copies = sum(stored.values()) - len(stored)  # resends of a message whose 250 was lost
    sending_seconds = round(time.monotonic() - started, 1)
    drained = drain_parse_only(dep, monkeypatch, limit=len(stored) + sum(stored.values()) + 10)
    assert drained == sum(stored.values())
    counts = assert_exactly_once(dep, tally)
    duplicate_events = dep.count(store.CaseEvent, store.CaseEvent.kind == "duplicate-ignored")
    assert duplicate_events == copies  # each extra stored copy was matched to its case
    text = log.read_text(errors="replace")
    assert "marigold" not in text.lower() and "lovegood" not in text.lower()
    print(
        tally.line(
            f"kill-listener[{dep.kind}]",
            kills=kills,
            stored_copies=copies,
            **counts,
            sending_seconds=sending_seconds,
            seconds=round(time.monotonic() - started, 1),
        )
    )


# -- 2. kill -9 of a worker mid-message ---------------------------------------------------------
def test_worker_killed_mid_message_is_processed_exactly_once_after_the_lease(deployment, tmp_path):
    dep = deployment
    started = time.monotonic()
    port = free_port()
    listener = dep.listener(port, tmp_path / "listener.log")
    letters = [fault_letter(n, tag="kill-worker") for n in range(6)]
    tally = Tally()
    for t in run_clients(port, letters, 2, tally, deadline=time.monotonic() + 60):
        t.join(timeout=60)
    assert tally.acked == tally.sent
    listener.send_signal(signal.SIGTERM)
    # The first worker: a short lease, killed as soon as it holds a message (it is still loading or
    # processing; either way it never records).
    first = dep.worker(tmp_path / "worker1.log", PLUMM_LEASE_SECONDS="4")
    M = store.InboundMessage
    assert wait_until(lambda: dep.count(M, M.status == store.MessageStatus.PROCESSING) > 0, timeout=90, step=0.05)
    first.kill()
    first.wait(timeout=10)
    held = dep.count(M, M.status == store.MessageStatus.PROCESSING)
    done_before = dep.count(M, M.status == store.MessageStatus.DONE)
    assert held >= 1
    second = dep.worker(tmp_path / "worker2.log", PLUMM_LEASE_SECONDS="4")
    assert wait_until(lambda: dep.unfinished() == 0, timeout=120, step=0.5)
    second.send_signal(signal.SIGTERM)
    counts = assert_exactly_once(dep, tally)
    with store.session(dep.engine) as db:
        attempts = db.execute(sa_select(func.max(M.attempts))).scalar_one()
    assert attempts >= 2  # the killed worker's message was claimed again after its lease expired
    print(
        tally.line(
            f"kill-worker[{dep.kind}]",
            held_at_kill=held,
            done_before_kill=done_before,
            max_attempts=attempts,
            **counts,
            seconds=round(time.monotonic() - started, 1),
        )
    )


# -- 3. the database unavailable for a few seconds ----------------------------------------------
class CuttableProxy:
    """A loopback TCP proxy to PostgreSQL that can be cut (refuse and reset) and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.up = threading.Event()
        self.up.set()
        self.stopping = threading.Event()
        self.conns: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.server.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up.is_set():
                client.close()  # like a stopped server: the connection is refused at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            src.settimeout(None)
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.stopping.set()
        self.cut()
        self.server.close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def sqlite_exclusive_lock(url: str):
    """Another connection holds the database with BEGIN EXCLUSIVE: every writer (and, in rollback
    mode, reader) waits for the busy timeout and then fails."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_database_unavailable_answers_451_loses_nothing_and_the_worker_recovers(deployment, tmp_path):
    dep = deployment
    started = time.monotonic()
    proxy = None
    url = dep.url
    if dep.kind == "postgresql":
        proxy = CuttableProxy(("127.0.0.1", 5432))
        url = dep.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        dep.url = url  # listener, worker and the test's own reads all go through the proxy
    try:
        port = free_port()
        log = tmp_path / "listener.log"
        listener = dep.listener(port, log)
        worker = dep.worker(tmp_path / "worker.log", PLUMM_LEASE_SECONDS="20")
        # A running worker must ride out the outage (one that starts during it exits non-zero on the
        # migration check, for its supervisor to restart it): wait until it is up.
        worker_log = tmp_path / "worker.log"
        assert wait_until(lambda: "started" in worker_log.read_text(errors="replace"), timeout=90)
        letters = [fault_letter(n, tag="db-outage") for n in range(40)]
        tally = Tally()
        threads = run_clients(port, letters, 4, tally, deadline=time.monotonic() + 150, pause=0.1)
        assert wait_until(lambda: len(tally.acked) >= 8, timeout=60)
        outage = 8.0 if dep.kind == "sqlite" else 5.0  # SQLite: longer than the 5 s busy timeout
        with contextlib.ExitStack() as down:
            if dep.kind == "sqlite":
                down.enter_context(sqlite_exclusive_lock(dep.url))
            else:
                assert proxy is not None
                proxy.cut()
                down.callback(proxy.restore)
            # Counted from the moment the database is away (a persist already committing may still
            # finish with 250 just after; that is correct and not counted here).
            time.sleep(0.5)
            acked_before, temp_before = set(tally.acked), tally.temp_failed
            time.sleep(outage)
            acked_during = set(tally.acked) - acked_before
        answered_451 = tally.temp_failed - temp_before
        assert not acked_during  # nothing can be saved while the database is away, so no 250
        for t in threads:
            t.join(timeout=150)
        assert not any(t.is_alive() for t in threads)
        assert answered_451 >= 1  # the listener said "try later" while the database was away
        assert tally.acked <= set(dep.stored_message_ids())  # no 250 for an unsaved message
        assert wait_until(lambda: dep.unfinished() == 0, timeout=180, step=1.0)
        assert worker.poll() is None  # the worker survived the outage and went on
        counts = assert_exactly_once(dep, tally)
        listener_log = log.read_text(errors="replace")
        assert "answered 451" in listener_log
        assert "marigold" not in listener_log.lower()
        print(
            tally.line(
                f"db-outage[{dep.kind}]",
                outage_s=outage,
                answered_451=answered_451,
                acked_during_outage=len(acked_during),
                **counts,
                seconds=round(time.monotonic() - started, 1),
            )
        )
        listener.send_signal(signal.SIGTERM)
        worker.send_signal(signal.SIGTERM)
    finally:
        dep.stop_all()
        store.make_engine(url).dispose()
        if proxy is not None:
            proxy.close()


# -- 4. disk full / storage not writable -----------------------------------------------------------
@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "32m"):
    """A tiny tmpfs we can fill (needs CAP_SYS_ADMIN, as root in this container); None if refused."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
            capture_output=True,
            timeout=10,
        ).returncode
        == 0
    )
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def fill(directory: Path, leave: int) -> Path:
    """Fill the filesystem holding ``directory`` until only ``leave`` bytes are free."""
    filler = directory / "filler"
    stat = os.statvfs(directory)
    with open(filler, "wb") as out:
        out.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return filler


def _file_size_limit(limit: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # SIGXFSZ is ignored by Python: EFBIG

    return apply


def test_storage_full_or_not_writable_answers_451_with_a_clear_log_line(deployment, tmp_path):
    """SQLite: the database lives on a tiny tmpfs we fill to the brim (ENOSPC, SQLITE_FULL), then
    free; where mounting is refused, the listener runs with RLIMIT_FSIZE instead (EFBIG). PostgreSQL:
    we may not fill the shared server's disk, so the listener's sessions are read-only (what a
    full or failed-over primary looks like to a client: every INSERT refused), then writable again.
    Meanwhile 451 and a log line with a reason code; afterwards the 451'd letters are resent."""
    dep = deployment
    started = time.monotonic()
    port = free_port()
    log = tmp_path / "listener.log"
    letters = [fault_letter(n, tag="disk-full", padding=3000) for n in range(24)]
    tally = Tally()
    with contextlib.ExitStack() as stack:
        filler: Path | None = None
        if dep.kind == "sqlite":
            small = stack.enter_context(small_filesystem(tmp_path / "small"))
            if small is not None:
                dep.url = f"sqlite:///{small / 'plumm.db'}"
                store.migrate(dep.url)
                stack.callback(dep.stop_all)  # before the unmount
                listener = dep.listener(port, log)
                filler = fill(small, leave=32 * 1024)
                expected_reason = "storage-full (SQLITE_FULL)"
            else:
                db_path = Path(dep.url.removeprefix("sqlite:///"))
                wal = db_path.with_name(db_path.name + "-wal")
                current = max(db_path.stat().st_size, wal.stat().st_size if wal.exists() else 0)
                listener = dep.listener(port, log, preexec=_file_size_limit(current + 64 * 1024))
                expected_reason = "storage-io-error (SQLITE_IOERR"
        else:
            readonly = dep.url.replace(
                "options=-csearch_path", "options=-cdefault_transaction_read_only%3Don%20-csearch_path"
            )
            assert readonly != dep.url
            listener = dep.listener(port, log, url=readonly)
            expected_reason = "storage-not-writable (SQLSTATE 25006)"
        # Phase 1: storage refuses writes. One pass over the letters, no resend yet.
        tally.sent.update(message_id_of(raw) for raw in letters)
        first_round: Counter[str] = Counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            for raw in letters:
                tally.attempts += 1
                try:
                    client.sendmail(SENDER, [INTAKE], raw)
                    tally.acked.add(message_id_of(raw))
                    first_round["250"] += 1
                except smtplib.SMTPDataError as exc:
                    assert exc.smtp_code == 451 and b"4.3.0" in exc.smtp_error
                    tally.temp_failed += 1
                    first_round["451"] += 1
        assert first_round["451"] >= 1
        assert tally.acked <= set(dep.stored_message_ids())  # every 250 is on disk
        text = log.read_text(errors="replace")
        assert f"persist failed: {expected_reason}" in text and "answered 451" in text
        assert "marigold" not in text.lower() and "lovegood" not in text.lower() and str(tmp_path) not in text
        # Phase 2: storage is back (space freed / a writable listener); the 451'd letters are resent.
        if filler is not None:
            filler.unlink()
        else:
            listener.send_signal(signal.SIGTERM)
            listener.wait(timeout=20)
            listener = dep.listener(port, log)
        missing = [raw for raw in letters if message_id_of(raw) not in tally.acked]
        resend = Tally()
        send_until_acked(port, missing, resend, deadline=time.monotonic() + 60)
        tally.acked |= resend.acked
        tally.resent += len(missing)
        tally.attempts += resend.attempts
        worker = dep.worker(tmp_path / "worker.log")
        assert wait_until(lambda: dep.unfinished() == 0, timeout=120, step=0.5)
        worker.send_signal(signal.SIGTERM)
        counts = assert_exactly_once(dep, tally)
        print(
            tally.line(
                f"storage-full[{dep.kind}]",
                tmpfs=filler is not None,
                first_round_250=first_round["250"],
                first_round_451=first_round["451"],
                **counts,
                seconds=round(time.monotonic() - started, 1),
            )
        )


# -- 5. scale-out: two listeners and two workers on one PostgreSQL database --------------------
@pytest.mark.postgres
def test_two_listeners_and_two_workers_on_postgresql_record_each_letter_once(tmp_path):
    from tests.conftest import fresh_database_url

    url = fresh_database_url("postgresql", tmp_path)
    dep = Deployment(url=url, data_dir=tmp_path / "data", kind="postgresql")
    started = time.monotonic()
    try:
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            dep.listener(port, tmp_path / f"listener{i}.log")
        workers = [dep.worker(tmp_path / f"worker{i}.log") for i in range(2)]
        letters = [fault_letter(n, tag="scale-out") for n in range(100)]
        tally = Tally()
        threads = []
        for i, port in enumerate(ports):  # half the letters to each "MX host"
            threads += run_clients(port, letters[i::2], 4, tally, deadline=time.monotonic() + 120)
        for t in threads:
            t.join(timeout=120)
        assert wait_until(lambda: dep.unfinished() == 0, timeout=240, step=1.0)
        counts = assert_exactly_once(dep, tally)
        with store.session(dep.engine) as db:
            by_worker = Counter(db.execute(sa_select(store.InboundMessage.worker_id)).scalars().all())
        assert len(by_worker) == 2  # both workers took a share
        print(
            tally.line(
                "scale-out[postgresql]",
                listeners=2,
                workers=len(workers),
                per_worker=sorted(by_worker.values()),
                **counts,
                seconds=round(time.monotonic() - started, 1),
            )
        )
    finally:
        dep.stop_all()
        store.make_engine(url).dispose()
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# -- 6. two copies of one resent letter recorded at the same moment ----------------------------------
def test_two_copies_of_a_resent_letter_recorded_at_once_make_one_case(settings, monkeypatch):
    """Worker A is inside its recording transaction (its new case not yet committed) when worker B
    records the other copy. B must wait and then see A's case, not open a second one. PostgreSQL
    needs the advisory lock in ``cases.record``; SQLite serialises writers and B retries."""
    from pipeline.cases import recording as cases
    from pipeline.intake.rawstore import database_persister
    from pipeline.runtime import Runtime
    from pipeline.worker import Worker, process

    rt = Runtime(settings)
    raw = fault_letter(1, tag="race")
    persist = database_persister(rt.engine, rt.cipher, rt.hash_key)
    first, second = persist(raw, 1, "127.0.0.1", SENDER), persist(raw, 1, "127.0.0.1", SENDER)
    a, b = Worker(rt, worker_id="worker-a"), Worker(rt, worker_id="worker-b")
    assert a.claim() == first and b.claim() == second
    processed = process(rt, raw)
    inside, release = threading.Event(), threading.Event()
    original = cases._record_new

    def held_open(db, rt_, row, processed_):
        case = original(db, rt_, row, processed_)
        if threading.current_thread().name == "worker-a":
            inside.set()
            release.wait(timeout=10)  # A's case exists, uncommitted
        return case

    monkeypatch.setattr(cases, "_record_new", held_open)
    results: dict[str, str | None] = {}
    ta = threading.Thread(target=lambda: results.update(a=a._record(first, processed)), name="worker-a")
    tb = threading.Thread(target=lambda: results.update(b=b._record(second, processed)), name="worker-b")
    ta.start()
    assert inside.wait(timeout=30)
    tb.start()
    time.sleep(1.0)  # B runs into A's open transaction
    release.set()
    ta.join(timeout=60)
    tb.join(timeout=60)
    assert results["a"] and results["a"] == results["b"]
    with store.session(rt.engine) as db:
        assert db.execute(sa_select(func.count()).select_from(store.Case)).scalar_one() == 1
        kinds = db.execute(sa_select(store.CaseEvent.kind)).scalars().all()
    assert kinds.count("duplicate-ignored") == 1
    print(f"FAULT resend-race[{rt.engine.dialect.name}]: copies=2 cases=1 duplicated=0 lost=0")
