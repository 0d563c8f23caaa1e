"""End-to-end benchmark over SMTP on loopback: letters per second from first byte to recorded case.

* throughput: one ``plumm serve --no-worker`` listener and 1, 2 or 4 ``plumm worker`` processes
  (SQLite: 1 worker only, it is the single-machine default with a single writer; PostgreSQL: 1, 2
  and 4). Workers are started and their model loaded before the clock starts; the clock runs from
  the first byte sent to the last case recorded (``processed_at`` in the database).
* SMTP acceptance latency: 50 concurrent senders, each timing ``sendmail`` to its ``250`` (the
  raw message committed), listener alone, on SQLite and PostgreSQL.
* peak memory per worker: ``VmHWM`` of each worker process, read from /proc before it stops.
* reference: the same letters' extracted text through our pipeline in one process (no SMTP, no
  database) and through plain Presidio (default recognizers, the same spaCy model, analyse then
  anonymise; email validation offline, as in ``bench.redaction``), each in a fresh process so its
  VmHWM is its own.

Letters: every ``fixtures/emails/*.eml`` that can travel over SMTP (no line over 998 bytes) plus
generated letters in the style of ``tests/test_worker.letter_bytes``. Loopback only; every loop
is bounded in count and time. Prints and returns counts, rates, latencies and memory only.

Standalone: ``python -m bench.e2e [--json PATH]``; for ``python -m bench``: :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import select
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager, suppress
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
PLUMM = str(Path(sys.executable).parent / "plumm")
NAME = "e2e"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SENDER = "ada.lovegood@clinic.example"
INTAKE = "hello@heyplumm.com"
GENERATED = 100
LATENCY_SENDERS = 50
LATENCY_PER_SENDER = 20
# Goals of the SMTP edge against the bare handler, measured in the same run (issue 16).
ACCEPT_RATIO_GOAL = 0.7
P99_RATIO_GOAL = 1.5


class BenchError(RuntimeError):
    """A benchmark step failed; the message is ours (never a letter value) and safe to print."""


# -- letters ----------------------------------------------------------------------------------------
def generated_letter(n: int, *, recommendation: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Dr Ada Lovegood <{SENDER}>"
    msg["To"] = INTAKE
    msg["Subject"] = f"Request for additional sessions ({n})"
    msg["Message-ID"] = f"<bench-{n}-{uuid.uuid4().hex[:8]}@clinic.example>"
    body = (
        "Dear Plumm team,\n\nI am writing about my client Marigold Featherstonehaugh "
        "(marigold.f@brightwater.example). She has attended weekly CBT sessions and her GAD-7 score "
        "remains 15, because her panic attacks continue to affect her work.\n\n"
    )
    if recommendation:
        body += "I recommend six additional sessions, weekly, to consolidate her progress.\n\n"
    body += "Kind regards,\nDr Ada Lovegood\nCounselling Psychologist\n"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP_POLICY)


def heavy_letter(size: int) -> bytes:
    """A letter of about ``size`` bytes: a short request and pages of session notes (names, scores,
    phone numbers, an employer), as when a therapist pastes their notes into the email."""
    names = ["Marigold Featherstonehaugh", "Tobias Wren", "Ines Castellano", "Rupert Okafor"]
    paragraphs: list[str] = []
    length = 0
    while length < size:
        i = len(paragraphs)
        name = names[i % len(names)].split()[0]
        paragraphs.append(
            f"Session {i + 1} notes: {name} reported that the panic attacks continue at work; we practised "
            f"grounding and reviewed the thought record. The GAD-7 score was {10 + i % 8} and PHQ-9 was "
            f"{8 + i % 6}. We spoke about the manager at Brightwater Ltd and a call on 07700 900{i % 1000:03d}. "
            "We agreed homework for the coming week."
        )
        length += len(paragraphs[-1]) + 2
    msg = EmailMessage()
    msg["From"] = f"Dr Ada Lovegood <{SENDER}>"
    msg["To"] = INTAKE
    msg["Subject"] = "Request for additional sessions, with my session notes"
    msg["Message-ID"] = f"<bench-heavy-{size}-{uuid.uuid4().hex[:8]}@clinic.example>"
    msg.set_content(
        "Dear Plumm team,\n\nI am writing about my client Marigold Featherstonehaugh "
        "(marigold.f@brightwater.example); my notes follow.\n\n" + "\n\n".join(paragraphs) + "\n\n"
        "I recommend six additional sessions, weekly, to consolidate the progress.\n\nKind regards,\n"
        "Dr Ada Lovegood\n"
    )
    return msg.as_bytes(policy=SMTP_POLICY)


def fixture_letters() -> tuple[list[bytes], int]:
    """Fixture messages with CRLF line ends; the count of those SMTP cannot carry (lines > 998)."""
    letters, skipped = [], 0
    for path in sorted(FIXTURES.glob("*.eml")):
        raw = re.sub(rb"\r?\n", b"\r\n", path.read_bytes())
        if any(len(line) > 998 for line in raw.split(b"\r\n")):
            skipped += 1
            continue
        letters.append(raw)
    return letters, skipped


def letters() -> tuple[list[bytes], dict[str, int]]:
    fixtures, skipped = fixture_letters()
    generated = [generated_letter(n, recommendation=n % 4 != 3) for n in range(GENERATED)]
    return fixtures + generated, {
        "fixtures": len(fixtures),
        "fixtures_skipped_long_lines": skipped,
        "generated": len(generated),
    }


# -- databases -------------------------------------------------------------------------------------
def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return True
    except Exception:
        return False


@contextmanager
def database(kind: str, workdir: Path):
    from pipeline import store

    if kind == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        store.migrate(url)
        try:
            yield url
        finally:
            store.make_engine(url).dispose()
        return
    import psycopg

    schema = f"plumm_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        store.migrate(url)
        yield url
    finally:
        store.make_engine(url).dispose()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# -- processes -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Fleet:
    """A listener and N workers, as subprocesses, sharing one database and key."""

    def __init__(self, url: str, workdir: Path) -> None:
        from cryptography.fernet import Fernet

        self.url, self.workdir = url, workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PLUMM_")}
        self.env.update(
            {
                "PLUMM_DATABASE_URL": url,
                "PLUMM_DATA_DIR": str(workdir / "data"),
                "PLUMM_VAULT_KEY": Fernet.generate_key().decode(),
                "PLUMM_HASH_KEY": "bench",
                "PLUMM_WORKER_POLL_SECONDS": "0.05",
                "PLUMM_SMTP_MAX_CONNECTIONS_PER_IP": "64",
                "PLUMM_ACK_LIMIT_PER_HOUR": "0",
            }
        )
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.port = free_port()

    def listener(self, timeout: float = 120, attempts: int = 3) -> None:
        """Start the listener; a port taken meanwhile by another process gets a fresh one."""
        for attempt in range(1, attempts + 1):
            env = {**self.env, "PLUMM_SMTP_PORT": str(self.port)}
            proc = subprocess.Popen(
                [PLUMM, "serve", "--no-worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            self.procs.append(proc)
            assert proc.stdout is not None
            seen, deadline = b"", time.monotonic() + timeout
            while b"listening on" not in seen and time.monotonic() < deadline:
                if select.select([proc.stdout], [], [], 0.5)[0]:
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    seen += chunk
            if b"listening on" in seen:
                return
            if attempt == attempts:
                raise BenchError(f"listener did not start within {timeout:.0f} s (exit {proc.poll()})")
            with suppress(Exception):
                proc.kill()
            self.port = free_port()

    def start_workers(self, n: int, timeout: float = 240, **env: str) -> None:
        """``plumm worker --processes n``: one supervisor, n worker processes (as in production)."""
        log = self.workdir / f"worker-{uuid.uuid4().hex[:6]}.log"
        with open(log, "wb") as err:
            proc = subprocess.Popen(
                [PLUMM, "worker", "--processes", str(n)], env={**self.env, **env}, stdout=subprocess.DEVNULL, stderr=err
            )
        self.procs.append(proc)
        self.workers.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # "started" is logged once the model and rules are loaded
            if log.read_bytes().count(b" started") >= n:
                return
            time.sleep(0.1)
        raise BenchError(f"{n} worker(s) did not start within {timeout:.0f} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) so far of the listener and every worker process."""
        pids = [p.pid for p in self.procs if p.poll() is None]
        pids += [c for p in self.workers for c in _children(p.pid)]
        return sum(_cpu_seconds(pid) for pid in pids)

    def worker_hwm_mib(self) -> list[float]:
        """VmHWM of every worker process (the supervisors' children)."""
        pids = [c for p in self.workers for c in _children(p.pid)]
        return [v for v in (_vm_hwm_mib(pid) for pid in pids) if v is not None]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def _children(pid: int) -> list[int]:
    """The worker processes a supervisor spawned (not multiprocessing's resource tracker)."""
    try:
        pids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return [c for c in pids if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
    except OSError:
        return []


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm_mib(pid: int | str = "self") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# -- senders ---------------------------------------------------------------------------------------
def send_all(port: int, batch: list[bytes], senders: int, *, deadline: float) -> tuple[list[float], int]:
    """Send each letter once over ``senders`` concurrent connections; per-letter seconds to 250."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def sender(part: list[bytes]) -> None:
        client = None
        for raw in part:
            if time.monotonic() > deadline:
                with lock:
                    failures[0] += 1
                continue
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", port, timeout=60)
                t = time.perf_counter()
                client.sendmail(SENDER, [INTAKE], raw)
                with lock:
                    latencies.append(time.perf_counter() - t)
            except (smtplib.SMTPException, OSError):
                with lock:
                    failures[0] += 1
                if client is not None:
                    with suppress(Exception):
                        client.close()
                client = None
        if client is not None:
            with suppress(Exception):
                client.quit()

    threads = [threading.Thread(target=sender, args=(batch[i::senders],), daemon=True) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    return latencies, failures[0]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


# -- measurements --------------------------------------------------------------------------------
def throughput(kind: str, workers: int, batch: list[bytes], workdir: Path) -> dict[str, Any]:
    from sqlalchemy import func, select

    from pipeline import store

    with database(kind, workdir) as url:
        fleet = Fleet(url, workdir)
        try:
            fleet.listener()
            fleet.start_workers(workers)
            cpu_before = fleet.cpu_seconds()
            engine = store.make_engine(url)
            M = store.InboundMessage
            t0_wall = store.utcnow()
            t0 = time.perf_counter()
            latencies, failed = send_all(fleet.port, batch, 4, deadline=time.monotonic() + 120)
            accepted = len(latencies)
            deadline = time.monotonic() + 240
            done = 0
            while time.monotonic() < deadline:
                with store.session(engine) as db:
                    finished = M.status.in_([store.MessageStatus.DONE, store.MessageStatus.QUARANTINED])
                    done = db.execute(select(func.count()).select_from(M).where(finished)).scalar_one()
                if done >= accepted:
                    break
                time.sleep(0.1)
            wall = time.perf_counter() - t0
            with store.session(engine) as db:
                last = db.execute(select(func.max(M.processed_at))).scalar_one()
                rows = db.execute(select(M.received_at, M.processed_at).where(M.processed_at.is_not(None))).all()
                cases = db.execute(select(func.count()).select_from(store.Case)).scalar_one()
            hwm = fleet.worker_hwm_mib()
            cpu = fleet.cpu_seconds() - cpu_before
        finally:
            fleet.stop()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=t0_wall.tzinfo)
    elapsed = (last - t0_wall).total_seconds() if last is not None else wall
    per_letter = [(p - r).total_seconds() for r, p in rows]
    return {
        "database": kind,
        "workers": workers,
        "sent": len(batch),
        "accepted_250": accepted,
        "smtp_failures": failed,
        "recorded": done,
        "cases": cases,
        "seconds": round(elapsed, 2),
        "letters_per_second": round(done / elapsed, 2) if elapsed > 0 else None,
        "received_to_recorded_p50_ms": _ms(_pct(per_letter, 0.5)),
        "worker_vm_hwm_mib": hwm,
        "worker_vm_hwm_max_mib": max(hwm) if hwm else None,
        # Load-independent: CPU time of the listener and the workers per recorded letter, and the
        # letters per second that makes on two cores with nothing else running (the senders excluded).
        "cpu_ms_per_letter": round(cpu / done * 1000, 1) if done else None,
        "two_idle_cores_letters_per_second": round(2 * done / cpu, 1) if cpu > 0 else None,
    }


# -- heavy letters -----------------------------------------------------------------------------------
HEAVY_SIZES = (1_500_000, 400_000)
HEAVY_SECONDS = 900


def _heavy_outcome(url: str, size: int) -> tuple[str, str | None, str | None, float | None]:
    """Status of the stored message of (about) ``size`` bytes, its case's status and reason, seconds."""
    from sqlalchemy import select

    from pipeline import store

    M, C = store.InboundMessage, store.Case
    with store.session(store.make_engine(url)) as db:
        row = db.execute(select(M).where(M.size >= size * 0.9).order_by(M.id.desc()).limit(1)).scalar_one_or_none()
        if row is None:
            return "missing", None, None, None
        case = db.get(C, row.case_id) if row.case_id is not None else None
        seconds = None
        if row.processed_at is not None:
            seconds = round((store.aware(row.processed_at) - store.aware(row.received_at)).total_seconds(), 1)
        return row.status, case.status if case else None, case.reason if case else None, seconds


def heavy_letters(workdir: Path, kind: str = "sqlite", sizes: tuple[int, ...] = HEAVY_SIZES) -> dict[str, Any]:
    """A listener and ``plumm worker --processes 2`` (SQLite): each heavy letter sent alone, then a
    normal letter every half second while it is in work, each timed to its 250; the heavy letter's
    outcome and time; the workers' peak memory at the end."""
    rows = []
    with database(kind, workdir) as url:
        fleet = Fleet(url, workdir)
        try:
            fleet.listener()
            fleet.start_workers(2)
            n = 20_000
            for size in sizes:
                raw = heavy_letter(size)
                latencies, failed = send_all(fleet.port, [raw], 1, deadline=time.monotonic() + 120)
                if failed:
                    raise BenchError("the heavy letter was not accepted")
                during: list[float] = []
                deadline = time.monotonic() + HEAVY_SECONDS
                status = "pending"
                while time.monotonic() < deadline:
                    status, case_status, reason, seconds = _heavy_outcome(url, len(raw))
                    if status in ("done", "quarantined"):
                        break
                    n += 1
                    during += send_all(fleet.port, [generated_letter(n)], 1, deadline=time.monotonic() + 30)[0]
                    time.sleep(0.5)
                rows.append(
                    {
                        "bytes": len(raw),
                        "accepted_ms": _ms(latencies[0]),
                        "message": status,
                        "case": case_status,
                        "reason": reason,
                        "seconds": seconds,
                        "normal_letters_meanwhile": len(during),
                        "their_acceptance_p50_ms": _ms(_pct(during, 0.5)),
                        "their_acceptance_p99_ms": _ms(_pct(during, 0.99)),
                        "their_acceptance_max_ms": _ms(max(during) if during else None),
                    }
                )
            hwm = fleet.worker_hwm_mib()
        finally:
            fleet.stop()
    return {"letters": rows, "worker_vm_hwm_mib": hwm, "worker_vm_hwm_max_mib": max(hwm) if hwm else None}


def render_heavy(results: dict[str, Any]) -> list[str]:
    if not results or "error" in results:
        return []
    rows = [("heavy letter", "case", "reason", "seconds", "normal letters meanwhile", "their max accept ms")]
    for r in results["letters"]:
        rows.append(
            (
                f"{r['bytes'] / 1e6:.2f} MB",
                str(r["case"]),
                str(r["reason"] or "-"),
                str(r["seconds"]),
                str(r["normal_letters_meanwhile"]),
                str(r["their_acceptance_max_ms"]),
            )
        )
    return [*_table(rows), f"worker peak memory (VmHWM) with the heavy letters: {results['worker_vm_hwm_max_mib']} MiB"]


# -- the bare limit: aiosmtpd with a handler that only writes and fsyncs each message -----------------
class BareHandler:
    """The least a durable SMTP edge can do: each message in its own file, fsynced, then 250.

    The write and fsync run in the loop's thread pool (as our edge runs its database work), so
    fsyncs of concurrent sessions overlap; that is the faster of the two ways on this machine."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        import asyncio

        self.count += 1
        path = self.directory / f"{self.count}.eml"
        await asyncio.get_running_loop().run_in_executor(None, self._write, path, envelope.original_content)
        return "250 2.0.0 OK"


def bare_server(port: int, directory: Path) -> None:
    """``python -m bench.e2e --bare-server PORT DIR``: serve until SIGTERM; prints "listening on"."""
    from aiosmtpd.controller import Controller

    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(BareHandler(directory), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    print(f"bare handler listening on 127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


@contextmanager
def bare_listener(workdir: Path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.e2e", "--bare-server", str(port), str(workdir / f"bare-{uuid.uuid4().hex[:6]}")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        if b"listening on" not in proc.stdout.readline():
            raise BenchError("the bare handler did not start")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()


def _acceptance(port: int) -> dict[str, Any]:
    batch = [generated_letter(10_000 + n) for n in range(LATENCY_SENDERS * LATENCY_PER_SENDER)]
    t0 = time.perf_counter()
    latencies, failed = send_all(port, batch, LATENCY_SENDERS, deadline=time.monotonic() + 120)
    wall = time.perf_counter() - t0
    return {
        "senders": LATENCY_SENDERS,
        "sent": len(batch),
        "accepted_250": len(latencies),
        "failures": failed,
        "p50_ms": _ms(_pct(latencies, 0.5)),
        "p99_ms": _ms(_pct(latencies, 0.99)),
        "max_ms": _ms(max(latencies) if latencies else None),
        "accepted_per_second": round(len(latencies) / wall, 1) if wall > 0 else None,
    }


def bare_acceptance(workdir: Path) -> dict[str, Any]:
    with bare_listener(workdir) as port:
        return {"database": "bare handler (file + fsync)", **_acceptance(port)}


def acceptance_ratios(latency: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ours against the bare handler of the same run: the better of its two measurements (before
    and after ours), so noise never flatters us."""
    bare = [r for r in latency if r.get("database", "").startswith("bare") and "error" not in r]
    if not bare:
        return []
    best_rate = max(r["accepted_per_second"] for r in bare)
    best_p99 = min(r["p99_ms"] for r in bare)
    ratios = []
    for r in latency:
        if r.get("database") in ("sqlite", "postgresql") and "error" not in r:
            accept = round(r["accepted_per_second"] / best_rate, 2)
            p99 = round(r["p99_ms"] / best_p99, 2)
            ratios.append(
                {
                    "database": r["database"],
                    "accept_ratio": accept,
                    "p99_ratio": p99,
                    "bare_accepted_per_second": best_rate,
                    "bare_p99_ms": best_p99,
                    "goal_met": accept >= ACCEPT_RATIO_GOAL and p99 <= P99_RATIO_GOAL,
                }
            )
    return ratios


def acceptance_latency(kind: str, workdir: Path) -> dict[str, Any]:
    with database(kind, workdir) as url:
        fleet = Fleet(url, workdir)
        try:
            fleet.listener()
            measured = _acceptance(fleet.port)
        finally:
            fleet.stop()
    return {"database": kind, **measured}


def _letter_texts(batch: list[bytes]) -> list[str]:
    from pipeline.stages.extract import extract
    from pipeline.stages.parse import parse

    texts = []
    for raw in batch:
        try:
            texts.append(extract(parse(raw), time_budget_seconds=30).text)
        except Exception:  # unreadable letters are quarantined by the pipeline; no text to compare
            continue
    return texts


def _reference_child(which: str, batch: list[bytes], out: Any) -> None:
    """In a fresh process: build, warm up on one letter, time one pass over all; report VmHWM."""
    import logging

    logging.disable(logging.WARNING)
    texts = _letter_texts(batch)
    t = time.perf_counter()
    if which == "presidio":
        from presidio_anonymizer import AnonymizerEngine

        from bench.redaction import plain_presidio_analyzer

        analyzer, anonymizer = plain_presidio_analyzer(), AnonymizerEngine()

        def one(text: str) -> None:
            anonymizer.anonymize(text=text, analyzer_results=analyzer.analyze(text=text, language="en"))

        items: list[Any] = texts
    else:
        from cryptography.fernet import Fernet

        from pipeline.config import load_settings
        from pipeline.runtime import Runtime
        from pipeline.worker import process

        tmp = tempfile.mkdtemp(prefix="plumm-bench-")
        rt = Runtime(
            load_settings(
                data_dir=Path(tmp),
                database_url=f"sqlite:///{tmp}/x.db",
                vault_key=Fernet.generate_key().decode(),
                hash_key="bench",
            )
        )
        rt.load_rules()

        def one(raw: bytes) -> None:
            process(rt, raw)

        items = batch
    build = time.perf_counter() - t
    one(items[0])
    failed = 0
    t = time.perf_counter()
    for item in items:
        try:
            one(item)
        except Exception:  # a stage bug: the worker would retry then quarantine; counted, not shown
            failed += 1
    seconds = time.perf_counter() - t
    out.put(
        {
            "letters": len(items),
            "failed": failed,
            "seconds": round(seconds, 2),
            "letters_per_second": round(len(items) / seconds, 2) if seconds else None,
            "build_seconds": round(build, 2),
            "vm_hwm_mib": _vm_hwm_mib(),
        }
    )


def reference(which: str, batch: list[bytes]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_reference_child, args=(which, batch, queue))
    proc.start()
    try:
        result = queue.get(timeout=300)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    return {"pipeline": which, **result}


def run(*, quick: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    batch, composition = letters()
    if quick:
        batch = batch[-8:]
    pg = postgres_available()
    results: dict[str, Any] = {
        "name": NAME,
        "letters": composition,
        "cores": os.cpu_count(),
        "postgresql": pg,
        "throughput": [],
        "latency": [],
        "reference": [],
    }
    with tempfile.TemporaryDirectory(prefix="plumm-bench-") as tmp:
        workdir = Path(tmp)
        plan = [("sqlite", 1), ("sqlite", 2)] + ([("postgresql", n) for n in (2, 4)] if pg else [])
        if quick:
            plan = plan[:1]
        for kind, n in plan:
            results["throughput"].append(
                _guarded(throughput, kind, n, batch, workdir, label={"database": kind, "workers": n})
            )
        bare = {"database": "bare handler (file + fsync)"}
        results["latency"].append(_guarded(bare_acceptance, workdir, label=bare))
        for kind in ["sqlite"] + (["postgresql"] if pg and not quick else []):
            results["latency"].append(_guarded(acceptance_latency, kind, workdir, label={"database": kind}))
        results["latency"].append(_guarded(bare_acceptance, workdir, label=bare))
        results["acceptance_vs_bare"] = acceptance_ratios(results["latency"])
        if not quick:
            results["heavy"] = _guarded(heavy_letters, workdir, label={"database": "sqlite (heavy letters)"})
    for which in ("ours", "presidio"):
        results["reference"].append(_guarded(reference, which, batch, label={"pipeline": which}))
    heavy = [results["heavy"]] if "heavy" in results else []
    results["errors"] = [
        r["error"] for r in results["throughput"] + results["latency"] + results["reference"] + heavy if "error" in r
    ]
    results["goals"] = goals(results)
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    results["load"] = [round(x, 2) for x in os.getloadavg()]
    return results


THROUGHPUT_GOAL = 30.0  # letters per second SMTP-to-case, SQLite, worker processes on 2 cores
MEMORY_GOAL_MIB = 600.0  # worker peak, with the heavy letters


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 16's goals, each with what this run measured."""
    out = []
    for r in results.get("acceptance_vs_bare", []):
        out.append(
            {
                "goal": f"{r['database']}: accepted/s >= {ACCEPT_RATIO_GOAL}x, p99 <= {P99_RATIO_GOAL}x the bare's",
                "measured": f"{r['accept_ratio']:.2f}x, p99 {r['p99_ratio']:.2f}x",
                "met": r["goal_met"],
            }
        )
    sqlite2 = [r for r in results.get("throughput", []) if r.get("database") == "sqlite" and r.get("workers") == 2]
    if sqlite2 and "error" not in sqlite2[0]:
        rate = sqlite2[0]["letters_per_second"] or 0.0
        out.append(
            {
                "goal": f"SQLite, 2 worker processes: >= {THROUGHPUT_GOAL:.0f} letters/s SMTP-to-case",
                "measured": f"{rate} letters/s",
                "met": rate >= THROUGHPUT_GOAL,
            }
        )
    heavy = results.get("heavy") or {}
    if heavy and "error" not in heavy:
        peak = max(
            [heavy.get("worker_vm_hwm_max_mib") or 0.0] + [r.get("worker_vm_hwm_max_mib") or 0.0 for r in sqlite2]
        )
        out.append(
            {
                "goal": f"worker peak memory <= {MEMORY_GOAL_MIB:.0f} MiB",
                "measured": f"{peak} MiB",
                "met": peak <= MEMORY_GOAL_MIB,
            }
        )
        stated = all(r["case"] for r in heavy["letters"])
        fast = all((r["their_acceptance_max_ms"] or 0) < 2000 for r in heavy["letters"])
        out.append(
            {
                "goal": "each heavy letter becomes a case with a stated outcome; letters meanwhile accepted < 2 s",
                "measured": ", ".join(f"{r['case']} ({r['reason'] or 'complete'})" for r in heavy["letters"]),
                "met": stated and fast,
            }
        )
    return out


def acceptance_only() -> dict[str, Any]:
    """The bare handler, ours on SQLite and PostgreSQL, the bare handler again: one comparison."""
    pg = postgres_available()
    latency: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="plumm-bench-") as tmp:
        workdir = Path(tmp)
        bare = {"database": "bare handler (file + fsync)"}
        latency.append(_guarded(bare_acceptance, workdir, label=bare))
        for kind in ["sqlite"] + (["postgresql"] if pg else []):
            latency.append(_guarded(acceptance_latency, kind, workdir, label={"database": kind}))
        latency.append(_guarded(bare_acceptance, workdir, label=bare))
    return {"latency": latency, "acceptance_vs_bare": acceptance_ratios(latency), "load": os.getloadavg()}


def _guarded(func: Any, *args: Any, label: dict[str, Any]) -> dict[str, Any]:
    """One measurement; a failure is recorded (type, and our own message only) and the rest go on."""
    try:
        return func(*args)
    except Exception as error:
        detail = str(error) if isinstance(error, BenchError) else ""
        return {**label, "error": f"{type(error).__name__}{': ' + detail if detail else ''}"}


def render(results: dict[str, Any]) -> str:
    c = results["letters"]
    lines = [
        f"End to end over SMTP on loopback ({results['cores']} cores): {c['fixtures']} fixture "
        f"letters (+{c['fixtures_skipped_long_lines']} skipped: lines over 998 bytes) and "
        f"{c['generated']} generated"
    ]
    rows = [
        (
            "pipeline",
            "database",
            "workers",
            "letters",
            "letters/s",
            "CPU ms/letter",
            "on 2 idle cores /s",
            "recv->case p50 ms",
            "VmHWM MiB (max)",
        )
    ]
    errors = [
        f"{r.get('database', r.get('pipeline'))}: {r['error']}"
        for r in results["throughput"] + results["latency"] + results["reference"]
        if "error" in r
    ]
    for r in results["throughput"]:
        if "error" in r:
            continue
        rows.append(
            (
                "plumm over SMTP",
                r["database"],
                str(r["workers"]),
                f"{r['recorded']}/{r['sent']}",
                str(r["letters_per_second"]),
                str(r["cpu_ms_per_letter"]),
                str(r["two_idle_cores_letters_per_second"]),
                str(r["received_to_recorded_p50_ms"]),
                str(r["worker_vm_hwm_max_mib"]),
            )
        )
    for r in results["reference"]:
        if "error" in r:
            continue
        name = "plumm stages, in process" if r["pipeline"] == "ours" else "plain Presidio, in process"
        rows.append(
            (name, "-", "1", str(r["letters"]), str(r["letters_per_second"]), "-", "-", "-", str(r["vm_hwm_mib"]))
        )
    lines += _table(rows)
    lines.append("")
    lines += render_acceptance(results).splitlines()
    if not results["postgresql"]:
        lines.append("PostgreSQL not reachable on 127.0.0.1:5432: multi-worker rows skipped")
    lines += [f"FAILED {e}" for e in errors]
    lines += render_heavy(results.get("heavy", {}))
    lines.append("")
    lines += [
        f"goal {g['goal']}: {g['measured']} -> {'met' if g['met'] else 'NOT MET'}" for g in results.get("goals", [])
    ]
    lines.append(f"load average during the run (1/5/15 min, {results['cores']} cores): {results.get('load')}")
    lines.append(f"e2e bench took {results['total_seconds']} s")
    return "\n".join(lines)


def render_acceptance(results: dict[str, Any]) -> str:
    rows = [("SMTP acceptance", "senders", "accepted", "p50 ms", "p99 ms", "max ms", "accepted/s")]
    for r in results["latency"]:
        if "error" in r:
            continue
        rows.append(
            (
                r["database"],
                str(r["senders"]),
                f"{r['accepted_250']}/{r['sent']}",
                str(r["p50_ms"]),
                str(r["p99_ms"]),
                str(r["max_ms"]),
                str(r["accepted_per_second"]),
            )
        )
    lines = _table(rows)
    ratios = results.get("acceptance_vs_bare") or []
    if ratios:
        lines.append("")
        rows = [("ours / bare handler", "accepted/s ratio", "goal", "p99 ratio", "goal", "met")]
        for r in ratios:
            rows.append(
                (
                    r["database"],
                    f"{r['accept_ratio']:.2f}",
                    f">= {ACCEPT_RATIO_GOAL}",
                    f"{r['p99_ratio']:.2f}",
                    f"<= {P99_RATIO_GOAL}",
                    "yes" if r["goal_met"] else "NO",
                )
            )
        lines += _table(rows)
        lines.append("(ratios against the better of the bare handler's two runs, before and after ours)")
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for i, r in enumerate(rows):
        out.append(
            "  ".join(
                cell.ljust(w) if j == 0 else cell.rjust(w) for j, (cell, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="8 letters, SQLite only (a smoke test)")
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["acceptance", "heavy", "throughput"], help="run one part only")
    args = parser.parse_args(argv)
    if args.bare_server:
        bare_server(int(args.bare_server[0]), Path(args.bare_server[1]))
        return 0
    if args.only == "acceptance":
        results = acceptance_only()
        print(render_acceptance(results))
        return 0
    if args.only == "heavy":
        with tempfile.TemporaryDirectory(prefix="plumm-bench-") as tmp:
            heavy = heavy_letters(Path(tmp), os.environ.get("BENCH_DATABASE", "sqlite"))
        print("\n".join(render_heavy(heavy)))
        return 0
    if args.only == "throughput":
        batch, _ = letters()
        with tempfile.TemporaryDirectory(prefix="plumm-bench-") as tmp:
            for kind, n in [("sqlite", 2)] + ([("postgresql", 2)] if postgres_available() else []):
                print(throughput(kind, n, batch, Path(tmp)))
        return 0
    results = run(quick=args.quick)
    print(render(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
