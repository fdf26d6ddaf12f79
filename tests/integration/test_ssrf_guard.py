"""The SSRF guard on outbound URLs, on both databases: status callbacks to private,
loopback and link-local (cloud metadata) addresses are refused at the API, and a callback
whose name resolves to such an address when it connects (DNS rebinding) is refused there
too; nothing reaches the address."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from sqlalchemy import select

from smsvia.api.app import create_app
from smsvia.channels.fetch import GuardedResolver
from smsvia.services.messages import SendRequest, send_message
from smsvia.store import webhooks as webhook_queries
from smsvia.store.models import Message, WebhookAttempt
from smsvia.webhooks.dispatcher import WebhookConfig, WebhookDispatcher
from tests.integration.conftest import ServerThread
from tests.integration.scenario import BOOK
from tests.integration.test_cli_connectors import smsvia

PRIVATE = [
    "http://127.0.0.1:9/status",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.7/status",
    "http://[::1]/status",
    "http://localhost/status",
]


@pytest.fixture
def guarded(settings, backend):
    """The API as it runs in production: no private addresses."""
    running = ServerThread(create_app(settings.model_copy(update={"allow_private_urls": False})))
    shop = backend.tenant()
    with httpx.Client(base_url=running.url, auth=(shop.sid, shop.token)) as client:
        client.shop = shop  # type: ignore[attr-defined]
        yield client
    running.stop()


@pytest.mark.parametrize("callback", PRIVATE)
def test_a_private_status_callback_is_refused_at_the_api(guarded, callback):
    form = {"To": "+12125551000", "From": guarded.shop.sender, "Body": "hi"}
    url = f"/2010-04-01/Accounts/{guarded.shop.sid}/Messages.json"
    answer = guarded.post(url, data={**form, "StatusCallback": callback})
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 21609 and "non-public" in answer.json()["message"]
    native = guarded.post(
        "/v1/messages",
        json={
            "to": "+12125551000",
            "from": guarded.shop.sender,
            "text": "hi",
            "status_callback": callback,
        },
    )
    assert native.status_code == 400, native.text


def test_a_name_that_resolves_to_loopback_when_it_connects_is_refused(backend, callback_receiver):
    """The API let the name through (say it resolved to a public address then); at connect
    time it resolves to 127.0.0.1, and the guard on the connection refuses it."""
    shop = backend.tenant()
    port = callback_receiver.url.rsplit(":", 1)[1]
    rebound = f"http://localhost:{port}/status"

    async def scenario():
        view = await send_message(
            backend.store,
            shop.principal,
            SendRequest(to="+12125551000", sender=shop.sender, body="hi"),
            price_book=BOOK,
        )
        async with backend.store.db.transaction() as session:
            message_id = await session.scalar(select(Message.id).where(Message.sid == view.sid))
            queued = [
                webhook_queries.Webhook(
                    shop.account_id, message_id, url, {"A": "1"}, view.date_created
                )
                for url in (
                    rebound,
                    f"{callback_receiver.url}/literal",
                )
            ]
            await webhook_queries.queue_webhooks(session, backend.store.cipher, queued)
        dispatcher = WebhookDispatcher(
            backend.store, owner="guard-test", config=WebhookConfig(allow_private=False)
        )
        try:
            await dispatcher.run_once()
        finally:
            await dispatcher.close()
        async with backend.store.db.sessions() as session:
            return list(await session.scalars(select(WebhookAttempt.error)))

    errors = backend.run(scenario())
    assert len(errors) == 2
    assert any("no public address" in (error or "") for error in errors), errors
    assert any(error == "Refused: 127.0.0.1 is a non-public address" for error in errors), errors
    assert callback_receiver.received == []


def test_the_guarded_resolver_hands_out_no_loopback_address():
    async def resolve():
        resolver = GuardedResolver()
        try:
            return await resolver.resolve("localhost", 80)
        finally:
            await resolver.close()

    with pytest.raises(OSError, match="no public address"):
        asyncio.run(resolve())


def test_a_numbers_private_sms_url_is_refused_by_the_cli(backend, settings):
    shop = backend.tenant()
    add = ["numbers", "add", shop.sid, "+15005550123", "--connector", "smsc1", "--sms-url"]
    env = {k: v for k, v in os.environ.items() if k != "SMSVIA_ALLOW_PRIVATE_URLS"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "environ", env)
        refused = smsvia(settings, *add, "http://169.254.169.254/latest/meta-data/")
        accepted = smsvia(settings, *add, "https://shop.example/sms")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "21502" in refused.stderr and "sms_url refused" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr


def test_a_hosts_verdict_is_remembered_for_a_minute_not_resolved_per_send(monkeypatch):
    from smsvia.domain.errors import InvalidParameter
    from smsvia.services import outbound_urls

    looked_up: list[str] = []
    real = outbound_urls.check_url

    async def counted(url, **options):
        looked_up.append(url)
        await real(url, **options)

    monkeypatch.setattr(outbound_urls, "check_url", counted)
    monkeypatch.setattr(outbound_urls, "_verdicts", {})

    async def sends() -> int:
        refused = 0
        for n in range(50):
            try:
                await outbound_urls.check_callback_url(f"http://localhost:8/s/{n}", False)
            except InvalidParameter:
                refused += 1
        await outbound_urls.check_callback_url("http://localhost:8/s/x", True)  # demo, tests
        return refused

    assert asyncio.run(sends()) == 50
    assert looked_up == ["http://localhost:8/s/0", "http://localhost:8/s/x"]
