"""The `smsvia` command. Thin: parse options, call a service, print; errors become one line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from smsvia import __version__
from smsvia.config import Settings
from smsvia.domain.errors import DomainError
from smsvia.services.quote import MessageQuote, load_price_book, quote_message

T = TypeVar("T")

app = typer.Typer(
    name="smsvia",
    help="Self-hosted business messaging: SMS, MMS and RCS with automatic SMS fallback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

db_app = typer.Typer(help="The database.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts: who sends, with what credentials.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of an account.", no_args_is_help=True)
connectors_app = typer.Typer(help="Connections to SMSCs and RBM platforms.", no_args_is_help=True)
connectors_add_app = typer.Typer(help="Add a connector.", no_args_is_help=True)
numbers_app = typer.Typer(help="Senders an account may use as From.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(connectors_app, name="connectors")
connectors_app.add_typer(connectors_add_app, name="add")
app.add_typer(numbers_app, name="numbers")
consent_app = typer.Typer(help="The consent ledger.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")
contacts_app = typer.Typer(help="An account's contacts.", no_args_is_help=True)
app.add_typer(contacts_app, name="contacts")
forms_app = typer.Typer(help="Hosted opt-in forms (double opt-in).", no_args_is_help=True)
app.add_typer(forms_app, name="forms")


class CliError(Exception):
    """A problem with the command line itself (unreadable input, ...)."""


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)
    ] = False,
) -> None:
    if version:
        console.print(f"smsvia {__version__}")
        raise typer.Exit()


@app.command()
def cost(
    text: Annotated[str, typer.Argument(help="The message body, or - to read it from stdin.")],
    to: Annotated[
        str | None, typer.Option("--to", help="Destination number; sets the country priced.")
    ] = None,
    mms: Annotated[bool, typer.Option("--mms", help="Price it as one MMS.")] = False,
    smart_encoding: Annotated[
        bool,
        typer.Option(
            "--smart-encoding", help="Swap look-alike characters (curly quotes, dashes) for GSM-7."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show how TEXT will be encoded, how many segments it takes and what it costs."""
    settings = Settings()
    body = _read_stdin() if text == "-" else text
    quote = quote_message(
        body,
        price_book=load_price_book(settings.price_book),
        to=to,
        default_region=settings.default_region,
        mms=mms,
        smart_encoding=smart_encoding,
    )
    if as_json:
        print(json.dumps(quote.as_dict(), ensure_ascii=False))
    else:
        _print_quote(quote)


def main() -> None:
    """Entry point: run the app and turn every known failure into one line on stderr."""
    try:
        app()  # usage errors and --help are answered, and exit, inside
    except DomainError as exc:
        err_console.print(f"[bold red]error {exc.code}:[/] {exc.message}", highlight=False)
        sys.exit(1)
    except CliError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


def _read_stdin() -> str:
    """Stdin as UTF-8, without the one trailing newline `echo` adds."""
    try:
        body = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"stdin is not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    return body.removesuffix("\n")


def _print_quote(quote: MessageQuote) -> None:
    seg = quote.segmentation
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("Encoding", str(seg.encoding))
    if quote.channel == "mms":
        summary.add_row("Sent as", "one MMS")
    summary.add_row(
        "Segments" if quote.channel == "sms" else "As SMS",
        f"{seg.segments}  ({' + '.join(map(str, seg.part_units))} {seg.limits.unit}, "
        f"{seg.units_left} left in the last)",
    )
    price = quote.quote
    country = quote.destination.e164 if quote.destination else f"default region {price.region}"
    summary.add_row(
        "Price",
        f"{price.price} {price.currency}  ({price.units} × {price.unit_price}, {country})",
    )
    console.print(summary)
    if seg.replacements:
        swaps = ", ".join(f"{r.original!r}→{r.replacement!r}" for r in seg.replacements)
        console.print(f"[bold]Smart encoding replaced[/] {swaps}", highlight=False)
    if seg.ucs2_characters:
        shown = Text(seg.text)
        for char in seg.ucs2_characters:
            shown.stylize("bold white on red", char.position, char.position + 1)
        console.print(Text("Text  ", style="bold") + shown)
        console.print("[bold]Characters that forced UCS-2[/]")
        for char in seg.ucs2_characters:
            hint = f"  → {char.suggestion!r} with --smart-encoding" if char.suggestion else ""
            console.print(
                f"  position {char.position}: {char.char} {char.codepoint} {char.name}{hint}",
                highlight=False,
            )
    console.print(quote.explain(), highlight=False)


def _run_fast(main: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived service on uvloop where it is installed (cheaper socket I/O), as
    uvicorn does for `serve`."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _with_runtime(work: Callable[..., Awaitable[T]]) -> T:
    """Open the runtime (database at the newest schema), run `work(runtime)`, close."""
    from smsvia.runtime import open_runtime

    async def run() -> T:
        runtime = await open_runtime(Settings())
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


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


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="A name for the account.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {sid, auth_token}.")] = False,
) -> None:
    """Create an account and print its Account SID and Auth Token (shown once)."""
    from smsvia.services.accounts import create_account

    created = _with_runtime(lambda runtime: create_account(runtime.store, name))
    if as_json:
        print(json.dumps({"sid": created.sid, "auth_token": created.secret}))
    else:
        console.print(f"Account SID  {created.sid}\nAuth Token   {created.secret}", highlight=False)


@accounts_app.command("update")
def accounts_update(
    account_sid: Annotated[str, typer.Argument(help="The account to change.")],
    rcs_fallback_seconds: Annotated[
        int | None,
        typer.Option(
            "--rcs-fallback-seconds",
            help="How long RCS may go undelivered before the message goes as SMS (default 60).",
        ),
    ] = None,
    help_text: Annotated[
        str | None, typer.Option("--help-text", help='The answer to HELP ("" for the default).')
    ] = None,
    opt_out_text: Annotated[
        str | None, typer.Option("--opt-out-text", help="The answer to STOP and its synonyms.")
    ] = None,
    opt_in_text: Annotated[
        str | None, typer.Option("--opt-in-text", help="The answer to START, YES, UNSTOP.")
    ] = None,
    quiet_hours: Annotated[
        str | None,
        typer.Option(
            "--quiet-hours",
            help="No marketing texts between these local times (default 21:00-08:00); state "
            "law may be stricter and wins.",
        ),
    ] = None,
    marketing_cap: Annotated[
        int | None,
        typer.Option(
            "--marketing-cap",
            help="At most this many marketing texts to one person in 24 hours (0: none beyond "
            "state law).",
        ),
    ] = None,
) -> None:
    """Change an account's settings: only the options given change."""
    from dataclasses import asdict

    from smsvia.services.accounts import AccountSettings, update_settings

    changes = AccountSettings(
        rcs_fallback_seconds=rcs_fallback_seconds,
        help_text=help_text,
        opt_out_text=opt_out_text,
        opt_in_text=opt_in_text,
        quiet_hours=quiet_hours,
        marketing_cap_24h=marketing_cap,
    )
    if changes == AccountSettings():
        raise CliError("nothing to change: give at least one option (see --help)")
    _with_runtime(lambda runtime: update_settings(runtime.store, account_sid, changes))
    said = ", ".join(
        f"{name.replace('_', ' ')} = {value!r}"
        for name, value in asdict(changes).items()
        if value is not None
    )
    console.print(f"{account_sid}: {said}", highlight=False)


@contacts_app.command("import")
def contacts_import(
    file: Annotated[Path, typer.Argument(help="CSV with a header row; phone is required.")],
    account: Annotated[str, typer.Option("--account", help="The account SID.")],
    errors: Annotated[
        Path | None,
        typer.Option("--errors", help="Where bad rows are reported (default FILE.errors.csv)."),
    ] = None,
) -> None:
    """Add or update contacts from a CSV file (phone, email, first_name, last_name, tags,
    time_zone, locale, consent, consent_date, consent_source; other columns are kept as
    custom attributes). Bad rows go to the error report; the good ones are all imported."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from smsvia.services.contacts import import_csv

    if not file.is_file():
        raise CliError(f"{file} is not a file")
    report_path = errors or file.with_name(file.name + ".errors.csv")
    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress("[progress.description]{task.description}", *columns, console=err_console) as bar:
        task = bar.add_task(f"importing {file.name}", total=file.stat().st_size)
        report = _with_runtime(
            lambda runtime: import_csv(
                runtime.store,
                account,
                file,
                errors_to=report_path,
                default_region=runtime.settings.default_region,
                on_progress=lambda done: bar.update(task, completed=done),
            )
        )
    console.print(
        f"{report.rows:,} rows: {report.created:,} contacts created, {report.updated:,} updated, "
        f"{report.consents:,} consents recorded ({report.consents_known:,} already known, "
        f"{report.kept_opted_out:,} ignored: opted out), {report.failed:,} rows refused"
        + (f" (see {report_path})" if report.failed else ""),
        highlight=False,
    )


@consent_app.command("verify")
def consent_verify() -> None:
    """Recompute every account's hash chain; exit 2 when an entry was changed or removed."""
    from smsvia.services.consent import verify

    checked, breaks = _with_runtime(lambda runtime: verify(runtime.store))
    for broken in breaks:
        err_console.print(
            f"account {broken.account_id}, entry {broken.event_id}: {broken.why}", highlight=False
        )
    if breaks:
        raise CliError(f"the consent ledger was tampered with: {len(breaks)} broken entries")
    console.print(f"consent ledger intact: {checked} entries verified", highlight=False)


@forms_app.command("create")
def forms_create(
    account_sid: Annotated[str, typer.Argument(help="The account collecting consent.")],
    sender: Annotated[str, typer.Option("--from", help="The account's number that confirms.")],
    brand: Annotated[str, typer.Option("--brand", help="The shop's name, shown and texted.")],
    disclosure: Annotated[
        str,
        typer.Option(
            "--disclosure",
            help="The exact consent text beside the box (kept in every ledger entry).",
        ),
    ],
    confirm_text: Annotated[
        str | None, typer.Option("--confirm-text", help="The 'reply Y to confirm' text.")
    ] = None,
    welcome_text: Annotated[
        str | None, typer.Option("--welcome-text", help="The text sent after Y.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the form as JSON.")] = False,
) -> None:
    """Create a hosted opt-in form; prints its URL and the snippet that embeds it."""
    from smsvia.services.optin import create_form

    def create(runtime):
        return create_form(
            runtime.store,
            account_sid,
            sender=sender,
            brand=brand,
            disclosure=disclosure,
            confirm_text=confirm_text,
            welcome_text=welcome_text,
            default_region=runtime.settings.default_region,
        )

    form = _with_runtime(create)
    _print_forms([form], Settings().public_url, as_json=as_json, one=True)


@forms_app.command("list")
def forms_list(
    account_sid: Annotated[str, typer.Argument(help="The account.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the forms as JSON.")] = False,
) -> None:
    """An account's opt-in forms, with their URLs and embed snippets."""
    from smsvia.services.optin import forms_of

    forms = _with_runtime(lambda runtime: forms_of(runtime.store, account_sid))
    _print_forms(forms, Settings().public_url, as_json=as_json)


def _print_forms(forms, public_url: str, *, as_json: bool, one: bool = False) -> None:
    described = [
        {
            "sid": form.sid,
            "brand": form.brand,
            "from": form.sender,
            "url": form.url(public_url),
            "embed_html": form.embed_html(public_url),
            "disclosure": form.disclosure,
            "confirm_text": form.confirm_text,
            "welcome_text": form.welcome_text,
            "active": form.active,
        }
        for form in forms
    ]
    if as_json:
        print(json.dumps(described[0] if one else described, indent=2))
        return
    for form in described:
        console.print(
            f"{form['sid']}  {form['brand']} (from {form['from']})\n  {form['url']}\n"
            f"  embed: {form['embed_html']}",
            highlight=False,
            soft_wrap=True,
        )


@consent_app.command("export")
def consent_export(
    account: Annotated[str, typer.Option("--account", help="The account SID.")],
    phone: Annotated[
        str | None, typer.Option("--phone", help="Only this number's entries.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="json or csv.", case_sensitive=False)
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export the consent ledger (an account's, or one number's) for a regulator or carrier:
    every entry with its time, source, evidence, disclosure and hashes."""
    from datetime import UTC, datetime

    from smsvia.services.consent import export
    from smsvia.services.contacts import normalize_phone
    from smsvia.store import accounts as account_queries

    if output_format.lower() not in ("json", "csv"):
        raise CliError("--format must be json or csv")

    async def run(runtime):
        async with runtime.store.db.sessions() as session:
            found = await account_queries.account_by_sid(session, account)
        if found is None:
            raise CliError(f"account {account} not found")
        number = normalize_phone(phone, runtime.settings.default_region) if phone else None
        return await export(runtime.store, found.id, found.sid, number)

    exported = _with_runtime(run)
    if output_format.lower() == "json":
        text = json.dumps(exported.as_json(datetime.now(UTC)), indent=2, ensure_ascii=False)
    else:
        text = exported.as_csv()
    if output is None:
        print(text)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"{len(exported.entries)} entries written to {output}", highlight=False)
    if not exported.chain_intact:
        raise CliError("the ledger's hash chain does not verify: run `smsvia consent verify`")


@keys_app.command("create")
def keys_create(
    account_sid: Annotated[str, typer.Argument(help="The account the key acts for.")],
    name: Annotated[str, typer.Option("--name", help="A name for the key.")] = "API key",
    as_json: Annotated[bool, typer.Option("--json", help="Print {sid, secret}.")] = False,
) -> None:
    """Create an API key (SK…) and print its secret (shown once, stored hashed)."""
    from smsvia.services.accounts import create_api_key

    created = _with_runtime(lambda runtime: create_api_key(runtime.store, account_sid, name))
    if as_json:
        print(json.dumps({"sid": created.sid, "secret": created.secret}))
    else:
        console.print(f"API key SID  {created.sid}\nSecret       {created.secret}", highlight=False)


@connectors_add_app.command("smpp")
def connectors_add_smpp(
    name: Annotated[str, typer.Argument(help="The connector's name.")],
    host: Annotated[str, typer.Option("--host", help="SMSC host.")],
    port: Annotated[int, typer.Option("--port", help="SMSC port.")],
    system_id: Annotated[str, typer.Option("--system-id", help="SMPP system_id.")],
    password: Annotated[str, typer.Option("--password", help="SMPP password.")],
    tps: Annotated[int, typer.Option("--tps", help="Submits per second at most.")] = 50,
    window: Annotated[int, typer.Option("--window", help="Unanswered submits at most.")] = 10,
    tls: Annotated[bool, typer.Option("--tls", help="Connect with TLS.")] = False,
) -> None:
    """Add an SMPP 3.4 connection to an SMSC (bound as transceiver)."""
    from smsvia.services.senders import SmppSettings, add_smpp_connector

    settings = SmppSettings(host, port, system_id, tps=tps, window=window, tls=tls)
    info = _with_runtime(
        lambda runtime: add_smpp_connector(runtime.store, name, settings, password)
    )
    console.print(f"connector {info.name} (smpp {host}:{port}) added", highlight=False)


@connectors_add_app.command("rcs")
def connectors_add_rcs(
    name: Annotated[str, typer.Argument(help="The connector's name.")],
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url", help="RBM API, e.g. https://rcsbusinessmessaging.googleapis.com"
        ),
    ],
    agent_id: Annotated[str, typer.Option("--agent-id", help="The RBM agent's id.")],
    credentials: Annotated[
        Path | None,
        typer.Option("--credentials", help="Google service account key (JSON) for OAuth2."),
    ] = None,
    client_token: Annotated[
        str | None,
        typer.Option("--client-token", help="Checks the events RBM pushes to our webhook."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for one RBM answer.")
    ] = 10.0,
) -> None:
    """Add an RBM platform (or `smsvia sim rcs`); its events go to /rcs/NAME/events."""
    from smsvia.services.senders import RcsSettings, add_rcs_connector

    key = str(credentials.resolve()) if credentials else None
    settings = RcsSettings(base_url, agent_id, key, timeout=timeout)
    info = _with_runtime(
        lambda runtime: add_rcs_connector(runtime.store, name, settings, client_token)
    )
    console.print(
        f"connector {info.name} (rcs {base_url}, agent {agent_id}) added; give RBM the webhook "
        f"<public URL>/rcs/{info.name}/events",
        highlight=False,
    )


@connectors_app.command("list")
def connectors_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the connectors (secrets are never shown)."""
    from smsvia.services.senders import list_connectors

    connectors = _with_runtime(lambda runtime: list_connectors(runtime.store))
    if as_json:
        print(json.dumps([{"name": c.name, "kind": c.kind, **c.settings} for c in connectors]))
        return
    table = Table("name", "kind", "settings")
    for c in connectors:
        table.add_row(c.name, c.kind, ", ".join(f"{k}={v}" for k, v in c.settings.items()))
    console.print(table)


@numbers_app.command("add")
def numbers_add(
    account_sid: Annotated[str, typer.Argument(help="The account that may send from it.")],
    number: Annotated[str, typer.Argument(help="E.164 number or alphanumeric sender ID.")],
    connector: Annotated[str, typer.Option("--connector", help="SMS connector to send by.")],
    rcs_connector: Annotated[
        str | None, typer.Option("--rcs-connector", help="RCS connector, tried first.")
    ] = None,
    sms_url: Annotated[
        str | None, typer.Option("--sms-url", help="Where inbound messages are forwarded.")
    ] = None,
) -> None:
    """Let an account send from NUMBER through CONNECTOR."""
    from smsvia.services.senders import add_number

    sender = _with_runtime(
        lambda runtime: add_number(
            runtime.store,
            account_sid,
            number,
            connector=connector,
            rcs_connector=rcs_connector,
            sms_url=sms_url,
            default_region=runtime.settings.default_region,
        )
    )
    console.print(f"{sender} added to {account_sid} via {connector}", highlight=False)


@app.command()
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
    _configure_logging(settings)
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if "public_url" not in settings.model_fields_set:
        # Links in messages and the demo's RBM webhook point at where we listen.
        settings = settings.model_copy(update={"public_url": base_url})
    application = create_app(
        settings,
        run_worker=not no_worker,
        demo=demo,
        on_ready=(lambda app: _print_demo(app.state.demo, base_url)) if demo else None,
    )
    uvicorn.run(
        application, host=host, port=port, log_config=None, access_log=access_log, workers=1
    )


@app.command()
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

    settings = Settings()
    _configure_logging(settings)
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
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await dispatch.start()
            await stop.wait()
        finally:
            await dispatch.stop()
            await runtime.close()

    _run_fast(run())


sim_app = typer.Typer(help="Simulators for tests, demos and benchmarks.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")


@sim_app.command("smsc")
def sim_smsc(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 2775,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    system_id: Annotated[str, typer.Option("--system-id", help="system_id to accept.")] = "smsvia",
    password: Annotated[str, typer.Option("--password", help="Password to accept.")] = "secret",
    any_credentials: Annotated[
        bool, typer.Option("--any-credentials", help="Accept every bind.")
    ] = False,
    dlr_delay: Annotated[
        float, typer.Option("--dlr-delay", help="Seconds from submit to receipt.")
    ] = 0.5,
    throttle_tps: Annotated[
        int | None,
        typer.Option("--throttle-tps", help="Answer ESME_RTHROTTLED above N submits/s."),
    ] = None,
    drop_after: Annotated[
        int | None,
        typer.Option("--drop-after", help="Cut the connection, unanswered, every N submits."),
    ] = None,
) -> None:
    """An SMPP 3.4 SMSC: To ending 9999 → UNDELIV, 9998 → ESME_RINVDSTADR, 9997 → no receipt."""
    from smsvia.sim.smsc import SmscBehaviour, SmscSimulator

    settings = Settings()
    _configure_logging(settings)
    behaviour = SmscBehaviour(
        system_id=None if any_credentials else system_id,
        password=None if any_credentials else password,
        dlr_delay=dlr_delay,
        throttle_tps=throttle_tps,
        drop_after=drop_after,
    )

    async def run() -> SmscSimulator:
        simulator = SmscSimulator(host, port, behaviour)
        try:
            await simulator.start()
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        credentials = "any credentials" if any_credentials else f"{system_id} / {password}"
        console.print(
            f"SMSC simulator on {host}:{simulator.port} ({credentials}); Ctrl-C stops it",
            highlight=False,
        )
        await _until_stopped()
        await simulator.stop()
        return simulator

    simulator = _run_fast(run())
    console.print(
        f"accepted {len(simulator.accepted)} submits, sent {simulator.receipts_sent} receipts",
        highlight=False,
    )


@sim_app.command("rcs")
def sim_rcs(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8090,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook", help="Where events go, e.g. http://127.0.0.1:8080/rcs/NAME/events"
        ),
    ] = None,
    client_token: Annotated[
        str, typer.Option("--client-token", help="Key of the events' X-Goog-Signature.")
    ] = "smsvia-sim-client-token",
    delivered_after: Annotated[
        float, typer.Option("--delivered-after", help="Seconds from send to DELIVERED.")
    ] = 0.05,
    read_after: Annotated[
        float, typer.Option("--read-after", help="Seconds from send to READ.")
    ] = 0.2,
) -> None:
    """An RBM platform: numbers ending 77 never get it, 55 → 500, even → delivered, odd → not
    RCS-capable."""
    from smsvia.sim.rbm import RbmBehaviour, RbmSimulator

    settings = Settings()
    _configure_logging(settings)
    behaviour = RbmBehaviour(
        client_token=client_token,
        webhook_url=webhook,
        delivered_after=delivered_after,
        read_after=read_after,
    )

    async def run() -> RbmSimulator:
        simulator = RbmSimulator(behaviour)
        try:
            await simulator.start(host, port)
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        events = f"events to {webhook}" if webhook else "no events (no --webhook)"
        console.print(
            f"RBM simulator on http://{host}:{simulator.port} ({events}); Ctrl-C stops it",
            highlight=False,
        )
        await _until_stopped()
        await simulator.stop()
        return simulator

    simulator = _run_fast(run())
    records = simulator.records
    console.print(
        f"delivered {len(records.delivered)} messages, revoked {len(records.revoked)}, "
        f"sent {records.events_sent} events",
        highlight=False,
    )


async def _until_stopped() -> None:
    """Wait for Ctrl-C or SIGTERM."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _configure_logging(settings: Settings) -> None:
    from smsvia.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


def _print_demo(demo, base_url: str) -> None:
    """The banner: credentials and a first message to send, ready to paste."""
    sid, token = demo.credentials.sid, demo.credentials.secret
    messages = f"{base_url}/2010-04-01/Accounts/{sid}/Messages.json"
    console.print(
        f"""
[bold]smsvia demo[/] — API, worker, an SMSC simulator ({demo.smsc_address}) and an RBM simulator
({demo.rbm_url}) in one process

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

Consent: sign up on the hosted form, answer Y (or STOP) from the demo phone, and see the
ledger with `smsvia consent export --account {sid}`:

  Opt-in form   {base_url}/optin/{demo.optin_form}
  Demo phone    {base_url}/demo/phone?number=%2B14155550100
""",
        highlight=False,
        soft_wrap=True,
    )
