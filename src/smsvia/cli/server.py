"""`smsvia serve`, `worker` and `db`: running the server."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from smsvia.cli._common import (
    collect_less,
    configure_logging,
    console,
    err_console,
    run_fast,
    with_runtime,
)
from smsvia.config import Settings

db_app = typer.Typer(help="The database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the newest schema."""
    from smsvia.runtime import open_store
    from smsvia.store.schema import upgrade

    async def run() -> str:
        store = open_store(Settings())
        try:
            return await upgrade(store.db)
        finally:
            await store.db.close()

    console.print(f"database at revision {asyncio.run(run())}")


@db_app.command("prune")
def db_prune() -> None:
    """Prune now what the SMSVIA_RETAIN_* settings keep only for a while (workers also do
    it every hour)."""
    from smsvia.services.retention import prune

    settings = Settings()
    pruned = with_runtime(lambda runtime: prune(runtime.store, settings.retention()))
    console.print(", ".join(f"{kind}: {n}" for kind, n in pruned.items()), highlight=False)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only; run `smsvia worker` elsewhere.")
    ] = False,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Start the SMSC simulator and a demo account wired to it."),
    ] = False,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
) -> None:
    """Run the API and, unless --no-worker, the worker (the database is upgraded at start)."""
    import uvicorn

    from smsvia.api.app import create_app

    settings = Settings()
    configure_logging(settings)
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if "public_url" not in settings.model_fields_set:
        # Links in messages and the demo's RBM webhook point at where we listen.
        settings = settings.model_copy(update={"public_url": base_url})
    if demo:
        # The demo's shop pages and simulators live on this machine.
        settings = settings.model_copy(update={"allow_private_urls": True})
    application = create_app(
        settings,
        run_worker=not no_worker,
        demo=demo,
        on_ready=(lambda app: _print_demo(app.state.demo, base_url)) if demo else None,
    )
    collect_less()
    uvicorn.run(
        application, host=host, port=port, log_config=None, access_log=access_log, workers=1
    )


def worker(
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve /metrics on this port.")
    ] = None,
) -> None:
    """Run the worker alone: claim due messages, send them, follow receipts and callbacks.

    Several workers may run against one PostgreSQL database; each claims its own batches.
    """
    import signal

    from smsvia.dispatch.runner import Dispatch
    from smsvia.runtime import open_runtime
    from smsvia.store.presence import AnotherWorker

    settings = Settings()
    configure_logging(settings)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")

    async def run() -> None:
        runtime = await open_runtime(settings)
        dispatch = Dispatch(
            runtime.store,
            worker_config=settings.worker_config(),
            price_book=runtime.price_book,
            rules=runtime.rules,
            public_url=settings.public_url,
            default_region=settings.default_region,
            allow_private_urls=settings.allow_private_urls,
            retention=settings.retention(),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            try:
                await dispatch.start()
            except AnotherWorker as exc:
                err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
                raise SystemExit(1) from None
            await stop.wait()
        finally:
            await dispatch.stop()
            await runtime.close()

    run_fast(run())


def _print_demo(demo, base_url: str) -> None:
    """The banner: credentials and a first message to send, ready to paste."""
    sid, token = demo.credentials.sid, demo.credentials.secret
    messages = f"{base_url}/2010-04-01/Accounts/{sid}/Messages.json"
    console.print(
        f"""
[bold]smsvia demo[/] — API, worker, an SMSC simulator ({demo.smsc_address}), an RBM simulator
({demo.rbm_url}) and an MMSC simulator ({demo.mmsc.url}) in one process

  Account SID   {sid}
  Auth Token    {token}
  Sender        {demo.sender}
  Dashboard     {base_url}/  (sign in with the SID and token above)
  API docs      {base_url}/docs
  Metrics       {base_url}/metrics

Send a message (numbers ending 9999 are undelivered, 9998 refused, 9997 get no receipt):

  curl -s -u {sid}:{token} {messages} \\
    --data-urlencode To=+14155550100 --data-urlencode From={demo.sender} \\
    --data-urlencode "Body=Your order #1042 has shipped"

Then fetch it with GET {base_url}/2010-04-01/Accounts/{sid}/Messages/SM….json: queued, sent,
then delivered a second later. With twilio-python:

  from twilio.rest import Client
  client = Client("{sid}", "{token}")
  client.api.base_url = "{base_url}"
  message = client.messages.create(to="+14155550100", from_="{demo.sender}", body="Hi!")
  print(client.messages(message.sid).fetch().status)

RCS first, SMS as the fallback, from {demo.rcs_sender} (the RBM simulator: even numbers take
RCS, odd ones cannot, so one card goes as RCS and the other as "Sent as SMS via server"):

  for to in +14155550102 +14155550103; do
    curl -s -u {sid}:{token} {base_url}/v1/messages -H 'Content-Type: application/json' -d '{{
      "to": "'$to'", "from": "{demo.rcs_sender}",
      "rich_card": {{"title": "Trail boots", "description": "Back in stock in your size",
        "media_url": "https://picsum.photos/seed/boots/600/400",
        "suggestions": [{{"open_url": {{"text": "Buy now", "url": "https://shop.example/p/1"}}}}]}}}}'
    echo
  done

Then GET {base_url}/v1/messages/SM… shows each one's channel, status_label and timeline.

A picture goes by MMS to US and Canadian numbers (the MMSC simulator; see it on the demo
phone), and elsewhere as "Sent as SMS via server" with a link to a preview page:

  for to in +14155550100 +447911123456; do
    curl -s -u {sid}:{token} {messages} \
      --data-urlencode To=$to --data-urlencode From={demo.sender} \
      --data-urlencode "Body=Your parcel is on its way" \
      --data-urlencode MediaUrl={base_url}/static/demo-parcel.jpg
    echo
  done

Consent: sign up on the hosted form, answer Y (or STOP) from the demo phone, and see the
ledger with `smsvia consent export --account {sid}`:

  Opt-in form   {base_url}/optin/{demo.optin_form}
  Demo phone    {base_url}/demo/phone?number=%2B14155550100

Campaigns and tracking: in the dashboard, Campaigns → New campaign, segment "Demo customers"
(three California customers who agreed at checkout; at night there, quiet hours hold the
texts until 08:00), a text with a link such as {base_url}/demo/shop, Save, Launch. On the demo
phone tap the short link, then "Place the order": the campaign's report shows the click,
the order and the revenue. Orders from a shop: POST {base_url}/v1/orders.
""",
        highlight=False,
        soft_wrap=True,
    )
