"""Prometheus metrics (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGE_STATUS = Counter(
    "smsvia_message_status_changes_total",
    "Messages entering each status, by channel",
    ["status", "channel"],
)
SUBMIT_LATENCY = Histogram(
    "smsvia_submit_seconds",
    "Time from submit_sm to its response, per part",
    ["connector"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = Gauge("smsvia_queue_depth", "Messages due and waiting for a worker")
RECEIPTS = Counter("smsvia_receipts_total", "Delivery receipts by what became of them", ["result"])
WEBHOOK_ATTEMPTS = Counter(
    "smsvia_webhook_attempts_total", "Status callback attempts by result", ["result"]
)
WEBHOOK_FAILURES = Counter(
    "smsvia_webhook_failures_total", "Status callbacks abandoned after every retry"
)
