"""`smsvia worker` in a process of its own beside the API's, on both databases: the API's
commits wake it (PostgreSQL: NOTIFY; SQLite: a datagram to its socket), so a message goes
out at once even while the worker's poll is a minute away; and SQLite takes one worker."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from smsvia.services.message_views import get_message
from smsvia.services.messages import SendRequest, send_message
from tests.integration.scenario import BOOK, ThreadedSmsc
from tests.processes import start_worker, wait_until

STARTED = "dispatch started"


def _start_worker(settings, log_path, *, poll_interval: float) -> subprocess.Popen:
    return start_worker(settings, log_path, SMSVIA_WORKER_POLL_INTERVAL=str(poll_interval))


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(20)


def test_the_api_wakes_a_worker_of_its_own_long_before_its_poll(backend, settings, tmp_path):
    smsc = ThreadedSmsc()
    shop = backend.run(backend.create_tenant(smsc_port=smsc.port))
    log_path = tmp_path / "worker.log"
    worker = _start_worker(settings, log_path, poll_interval=60)
    try:
        wait_until(lambda: STARTED in log_path.read_text(), 30, "the worker to start")
        time.sleep(0.5)  # its first claims found nothing: it sleeps on its signal now

        async def send_and_follow() -> str:
            created = await send_message(
                backend.store,
                shop.principal,
                SendRequest(to="+14155550100", sender=shop.sender, body="Your order shipped"),
                price_book=BOOK,
            )
            return created.sid

        sid = backend.run(send_and_follow())

        def delivered() -> bool:
            view = backend.run(get_message(backend.store, shop.principal, sid))
            return view.status == "delivered"

        wait_until(delivered, 10, "the message to go out without waiting for the poll")
    finally:
        assert _stop(worker) == 0, log_path.read_text()[-3000:]
        smsc.stop()


def test_sqlite_takes_one_worker_at_a_time(backend, settings, tmp_path):
    if not backend.store.db.is_sqlite:
        pytest.skip("PostgreSQL takes any number of workers")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _start_worker(settings, first_log, poll_interval=0.2)
    try:
        wait_until(lambda: STARTED in first_log.read_text(), 30, "the first worker to start")
        second = _start_worker(settings, second_log, poll_interval=0.2)
        try:
            assert second.wait(30) != 0
        finally:
            if second.poll() is None:
                second.kill()
                second.wait(10)
        said = second_log.read_text()
        assert "error: a worker already runs on this SQLite database" in said, said[-3000:]
        assert "Traceback" not in said
        assert str(first.pid) in said  # which one: its owner name carries its pid
        assert STARTED not in said
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    # Its process gone, the slot is free again.
    third_log = tmp_path / "third.log"
    third = _start_worker(settings, third_log, poll_interval=0.2)
    try:
        wait_until(lambda: STARTED in third_log.read_text(), 30, "a worker after the first died")
    finally:
        assert _stop(third) == 0, third_log.read_text()[-3000:]
