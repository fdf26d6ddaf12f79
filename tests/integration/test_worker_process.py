"""`smsvia worker` as a real process, killed with SIGKILL at several points of a run, then
restarted. Nothing reaches the SMSC twice; what was in doubt is bounded by what was really in
flight (the SMPP window); everything else is delivered, its receipt applied, even one the
SMSC sent as the worker died (it is acknowledged only once stored); the restart takes the
dead worker's claims over at once, not when their leases run out."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from sqlalchemy import func, select

from smsvia.services.messages import SendRequest, send_messages
from smsvia.store.models import Message, MessageEvent, MessagePart
from tests.integration.scenario import BOOK, ThreadedSmsc
from tests.processes import start_worker, wait_until

MESSAGES = 1000
WINDOW = 10
# The second worker must finish long before the dead one's leases (the default 120 s) end.
TAKEOVER_DEADLINE = 60


def _start_worker(settings, log_path) -> subprocess.Popen:
    return start_worker(
        settings,
        log_path,
        SMSVIA_WORKER_BATCH_SIZE="100",
        SMSVIA_WORKER_POLL_INTERVAL="0.2",
    )


def _statuses(backend) -> dict[str, int]:
    async def count():
        async with backend.store.db.sessions() as session:
            rows = await session.execute(
                select(Message.status, func.count()).group_by(Message.status)
            )
            return dict(rows.all())

    return backend.run(count())


def _queue_all(backend, shop) -> None:
    async def queue():
        requests = [
            SendRequest(to=f"+1415300{i:04d}", sender=shop.sender, body=f"order {i}")
            for i in range(MESSAGES)
        ]
        sids = await send_messages(backend.store, shop.principal, requests, price_book=BOOK)
        assert all(isinstance(sid, str) for sid in sids)

    backend.run(queue())


@pytest.mark.parametrize("kill_after", [50, 400, 850])
def test_worker_killed_mid_run_loses_and_duplicates_nothing(
    backend, settings, tmp_path, kill_after
):
    smsc = ThreadedSmsc()
    shop = backend.run(backend.create_tenant(smsc_port=smsc.port, tps=400, window=WINDOW))
    _queue_all(backend, shop)
    log_path = tmp_path / "worker.log"
    first = _start_worker(settings, log_path)
    try:
        wait_until(
            lambda: len(smsc.sim.accepted) >= kill_after, 60, "the first worker to get going"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = len(smsc.sim.accepted)
        assert killed_at < MESSAGES, "the run finished before the kill"

        restarted = time.monotonic()
        second = _start_worker(settings, log_path)
        try:
            wait_until(
                lambda: set(_statuses(backend)) <= {"sent", "delivered"},
                TAKEOVER_DEADLINE,
                "the restarted worker to send every message",
            )
            took = time.monotonic() - restarted
            # Let receipts the dead worker's connection never acknowledged come back.
            settled, last = time.monotonic(), None
            while time.monotonic() - settled < 2:
                now = _statuses(backend)
                if now != last:
                    settled, last = time.monotonic(), now
                time.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, log_path.read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()
        smsc.stop()

    destinations = smsc.sim.destinations()
    assert len(destinations) == len(set(destinations)), "a message reached the SMSC twice"

    async def outcome():
        async with backend.store.db.sessions() as session:
            messages = (await session.scalars(select(Message))).all()
            parts = {p.message_id: p for p in (await session.scalars(select(MessagePart))).all()}
            flagged = set(
                (
                    await session.scalars(
                        select(MessageEvent.message_id).where(MessageEvent.event == "ambiguous")
                    )
                ).all()
            )
        return messages, parts, flagged

    messages, parts, flagged = backend.run(outcome())
    assert len(messages) == MESSAGES
    # In doubt: only parts whose intent was written and whose answer was not; one window.
    assert len(flagged) <= WINDOW, f"{len(flagged)} ambiguous, window {WINDOW}"
    at_smsc = {submit.message_id for submit in smsc.sim.accepted}
    for message in messages:
        part = parts[message.id]
        if message.id in flagged:
            # Unconfirmed: never resent; if it did reach the SMSC, its receipt reconciled it.
            assert part.status in ("ambiguous", "delivered")
            if part.status == "ambiguous":
                assert message.status == "sent"
            continue
        assert part.smsc_message_id in at_smsc, f"{message.sid} never reached the SMSC"
        assert message.status == "delivered", f"{message.sid} is {message.status}: receipt lost"
    never_left = sum(1 for m in messages if parts[m.id].smsc_message_id is None)
    acked_by_dead = sum(1 for _, serial in smsc.sim.receipt_acks if serial == 1)
    print(
        f"\nkilled after {killed_at} submits; restart done in {took:.1f} s; "
        f"{len(destinations)} reached the SMSC once each; {len(flagged)} flagged ambiguous "
        f"({never_left} of them with no SMSC id known); the dead worker acknowledged "
        f"{acked_by_dead} receipts, the SMSC offered the rest again"
    )
