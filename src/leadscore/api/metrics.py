"""Prometheus metrics of one server, on a registry of its own (two apps in one process don't mix).

Served at ``/metrics`` in the text format. What is counted and why:

* ``leadscore_http_requests_total`` / ``leadscore_http_request_seconds``: per route template
  (``/v1/contacts/{contact_id}``, never the raw path, so the series stay few) and status;
* ``leadscore_events_accepted_total`` / ``leadscore_events_duplicate_total``: ingestion volume and
  how often clients resend (idempotency at work);
* ``leadscore_rescore_seconds{kind=realtime|scheduled}``: the cost of rescoring on each path;
* ``leadscore_write_commit_seconds`` and ``leadscore_write_group_size``: the single writer's
  commits and how many requests each one carried (group commit);
* ``leadscore_write_side_jobs_total{lane=side|after_main}``: small writes that committed on the
  writer's side lane beside a batch, and those that waited for the batch holding their contact
  (their latency is the batch's: api/writer.py);
* ``leadscore_outbox_depth``: workflow actions queued and not yet delivered (read at scrape time);
* ``leadscore_model_failures_total{model}``: rescorings in which a published model could not be
  scored (its query failed, or it was skipped while in quarantine; the other models scored).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


#: HTTP methods counted under their own name; any other is counted as OTHER.
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})

class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("leadscore_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=r)
        self.latency = Histogram("leadscore_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.events = Counter("leadscore_events_accepted", "events written", registry=r)
        self.duplicates = Counter("leadscore_events_duplicate", "events already stored (resent)", registry=r)
        self.rescore = Histogram("leadscore_rescore_seconds", "rescoring latency", ["kind"],
                                 buckets=LATENCY_BUCKETS + (30.0, 120.0), registry=r)
        self.commit = Histogram("leadscore_write_commit_seconds", "writer transaction time",
                                buckets=LATENCY_BUCKETS, registry=r)
        self.group = Histogram("leadscore_write_group_size", "requests per writer transaction",
                               buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.side_jobs = Counter("leadscore_write_side_jobs", "small writes on the side lane, or after the "
                                 "main lane's group holding their keys", ["lane"], registry=r)
        self.model_failures = Counter("leadscore_model_failures", "rescorings a model failed or was skipped in",
                                      ["model"], registry=r)
        self.outbox = Gauge("leadscore_outbox_depth", "workflow actions queued, not yet delivered", registry=r)

    def watch_outbox(self, depth: Callable[[], int]) -> None:
        self.outbox.set_function(depth)

    def on_commit(self, jobs: int, seconds: float) -> None:
        self.commit.observe(seconds)
        self.group.observe(jobs)

    def on_side(self, beside: int, after_main: int) -> None:
        if beside:
            self.side_jobs.labels("side").inc(beside)
        if after_main:
            self.side_jobs.labels("after_main").inc(after_main)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every request by route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            if method not in KNOWN_METHODS:  # a made-up method must not mint a new series per request
                method = "OTHER"
            self.metrics.requests.labels(method, name, str(status[0])).inc()
            self.metrics.latency.labels(method, name).observe(time.perf_counter() - started)
