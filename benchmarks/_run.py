"""What a gateway's run is measured as, and the processes every run has: the SMSC
simulator both gateways send to, and the CPU time of everything beside the gateway."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field

from _load import Receiver
from _support import SMSVIA, cpu_of_named, cpu_seconds

WAIT_LIMIT = 900  # seconds a run may take to settle before it reports what it has


@dataclass
class Result:
    system: str
    db: str
    path: str
    messages: int
    accept_seconds: float
    sent_seconds: float
    receipts_seconds: float  # until every receipt was applied (nan where not seen)
    callbacks_seconds: float  # until every delivered callback was answered
    called_back: int  # delivered callbacks the receiver answered
    p50: float
    p99: float
    peak_rss_mb: float
    errors: int
    cpu_seconds: dict[str, float]  # CPU time each gateway process used, by role
    other_cpu_seconds: dict[str, float]  # everything else on the machine's cores
    # rcs path, per fallback: (created -> SMS submitted, fallback decision -> SMS submitted)
    fallback_seconds: list[tuple[float, float]] = field(default_factory=list)


def others_cpu(
    smsc: subprocess.Popen, receiver: Receiver, rbm: subprocess.Popen | None = None
) -> dict[str, float]:
    rbm_sim = {"rbm sim": cpu_seconds(rbm.pid)} if rbm is not None else {}
    return {
        "sim": cpu_seconds(smsc.pid),
        **rbm_sim,
        "client": cpu_seconds(os.getpid()),
        "receiver": cpu_seconds(receiver.process.pid),
        "postgres": cpu_of_named("postgres"),
        "redis": cpu_of_named("redis-server"),
    }


def start_smsc(port: int, env: dict[str, str], logs) -> subprocess.Popen:
    """The SMSC simulator both gateways send to: receipts at once (50 ms)."""
    command = [SMSVIA, "sim", "smsc", "--port", str(port), "--dlr-delay", "0.05"]
    return subprocess.Popen(command, env=env, stdout=logs, stderr=logs)


def stop_all(processes) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
