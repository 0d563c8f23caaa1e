"""``/healthz`` and ``/metrics``: open without a session (a load balancer and Prometheus call them),
and holding no value from a letter: counts, statuses, reason codes, reply codes and stage names.

``/healthz`` answers 200 when the database answers and a listener and a worker have written a
heartbeat in the last ``STALE_SECONDS`` (``pipeline.telemetry``), 503 otherwise, with a JSON body
saying which part is down. ``/metrics`` is the Prometheus text format (prometheus_client), read
from the database at each scrape so every process's counts are in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipeline import store, telemetry
from pipeline.runtime import Runtime


def health(rt: Runtime) -> tuple[bool, dict[str, Any]]:
    report: dict[str, Any] = {}
    try:
        with store.session(rt.engine) as db:
            db.execute(text("SELECT 1"))
        report["database"] = "ok"
    except SQLAlchemyError as error:
        report["database"] = f"down ({type(error).__name__})"
        return False, report
    now = store.utcnow()
    newest: dict[str, float] = {}
    for beat in telemetry.heartbeats(rt.engine):
        seconds = (now - store.aware(beat.at)).total_seconds()
        newest[beat.kind] = min(seconds, newest.get(beat.kind, seconds))
    healthy = True
    for kind in ("listener", "worker"):
        last = newest.get(kind)
        ok = last is not None and last <= telemetry.STALE_SECONDS
        healthy = healthy and ok
        report[kind] = {
            "status": "ok" if ok else "down",
            "last_heartbeat_seconds_ago": round(last, 1) if last is not None else None,
        }
    return healthy, report


async def healthz(request: Request) -> Response:
    healthy, report = await run_in_threadpool(health, request.app.state.rt)
    return JSONResponse({"status": "ok" if healthy else "down", **report}, status_code=200 if healthy else 503)


class Collector:
    """Everything /metrics shows, read from the database at scrape time."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        with store.session(self.rt.engine) as db:
            yield from self._queues(db)
            yield from self._cases(db)
        yield from self._counters()
        yield from self._heartbeats()

    def _queues(self, db: Any) -> Iterator[Metric]:
        accepted = db.execute(select(func.count()).select_from(store.InboundMessage)).scalar_one()
        yield CounterMetricFamily(
            "plumm_messages_accepted", "Messages the listener accepted (stored, then answered 250)", value=accepted
        )
        depth = GaugeMetricFamily("plumm_queue_depth", "Rows in a queue by status", labels=["queue", "status"])
        for queue, table in (("inbound", store.InboundMessage), ("outbound", store.OutboundMessage)):
            rows = dict(db.execute(select(col(table.status), func.count()).group_by(col(table.status))).all())
            statuses = store.MessageStatus if queue == "inbound" else store.OutboundStatus
            for status in statuses:
                depth.add_metric([queue, status.value], rows.get(status.value, 0))
        yield depth

    def _cases(self, db: Any) -> Iterator[Metric]:
        C = store.Case
        by_status = GaugeMetricFamily("plumm_cases", "Cases by status", labels=["status"])
        for status, count in db.execute(select(col(C.status), func.count()).group_by(col(C.status))).all():
            by_status.add_metric([status], count)
        yield by_status
        quarantined = GaugeMetricFamily("plumm_cases_quarantined", "Quarantined cases by reason", labels=["reason"])
        rows = db.execute(
            select(col(C.reason), func.count()).where(col(C.status) == "quarantined").group_by(col(C.reason))
        ).all()
        for reason, count in rows:
            quarantined.add_metric([reason or "unknown"], count)
        yield quarantined

    def _counters(self) -> Iterator[Metric]:
        refused = CounterMetricFamily(
            "plumm_smtp_refused", "SMTP replies refusing or deferring (4xx, 5xx), by code", labels=["code"]
        )
        buckets: dict[str, list[tuple[str, float]]] = defaultdict(list)
        sums: dict[str, float] = defaultdict(float)
        for counter in telemetry.counters(self.rt.engine):
            labels = telemetry.parse_labels(counter.labels)
            if counter.name == "smtp_refused":
                refused.add_metric([labels.get("code", "")], counter.value)
            elif counter.name == "stage_seconds_bucket":
                buckets[labels.get("stage", "")].append((labels.get("le", "+Inf"), counter.value))
            elif counter.name == "stage_seconds_sum":
                sums[labels.get("stage", "")] = counter.value
        yield refused
        latency = HistogramMetricFamily(
            "plumm_stage_latency_seconds", "Time a pipeline stage took per message", labels=["stage"]
        )
        for stage, found in sorted(buckets.items()):
            counts = dict(found)
            ordered = [(repr(b), counts.get(repr(b), 0.0)) for b in telemetry.LATENCY_BUCKETS]
            latency.add_metric([stage], [*ordered, ("+Inf", counts.get("+Inf", 0.0))], sum_value=sums[stage])
        yield latency

    def _heartbeats(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "plumm_heartbeat_age_seconds", "Seconds since each process's last heartbeat", labels=["kind", "process"]
        )
        now = store.utcnow()
        for beat in telemetry.heartbeats(self.rt.engine):
            age.add_metric([beat.kind, beat.process], (now - store.aware(beat.at)).total_seconds())
        yield age


def _exposition(rt: Runtime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(rt))  # type: ignore[arg-type]
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(_exposition, request.app.state.rt)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
