"""`smsvia connectors`: connections to SMSCs and RBM platforms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from smsvia.cli._common import CliError, console, with_runtime

connectors_app = typer.Typer(help="Connections to SMSCs and RBM platforms.", no_args_is_help=True)
connectors_add_app = typer.Typer(help="Add a connector.", no_args_is_help=True)
connectors_update_app = typer.Typer(help="Change a connector.", no_args_is_help=True)
connectors_app.add_typer(connectors_add_app, name="add")
connectors_app.add_typer(connectors_update_app, name="update")

ENQUIRE_LINK_HELP = (
    "Seconds the SMSC may stay silent before an enquire_link asks whether the link lives "
    "(default 30; shorter for SMSCs or firewalls that drop idle links)."
)
RESPONSE_TIMEOUT_HELP = (
    "Seconds to wait for the SMSC's answer to a submit (default 30); a part still unanswered "
    "then is never sent again, and an answer that comes later settles it."
)
RECEIPT_IDS_HELP = (
    "How the SMSC writes message ids in receipts: exact, hex-to-decimal (hex in "
    "submit_sm_resp, decimal in the receipt), decimal-to-hex, or auto (learn it)."
)


TLS_CA_HELP = (
    "PEM file of the CA certificates that vouch for the SMSC (a private CA, a self-signed "
    "SMSC), trusted instead of the system's trust store."
)


def _ca_file(value: str | None) -> str | None:
    """The CA file as workers started elsewhere find it; "" or None: none."""
    return str(Path(value).resolve()) if value else None


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
    receipt_ids: Annotated[str, typer.Option("--receipt-ids", help=RECEIPT_IDS_HELP)] = "auto",
    enquire_link_interval: Annotated[
        int, typer.Option("--enquire-link-interval", help=ENQUIRE_LINK_HELP)
    ] = 30,
    response_timeout: Annotated[
        int, typer.Option("--response-timeout", help=RESPONSE_TIMEOUT_HELP)
    ] = 30,
    tls_ca: Annotated[str | None, typer.Option("--tls-ca", help=TLS_CA_HELP)] = None,
) -> None:
    """Add an SMPP 3.4 connection to an SMSC (bound as transceiver)."""
    from smsvia.services.senders import SmppSettings, add_smpp_connector

    settings = SmppSettings(
        host,
        port,
        system_id,
        tps=tps,
        window=window,
        tls=tls,
        receipt_ids=receipt_ids,
        enquire_link_interval=enquire_link_interval,
        response_timeout=response_timeout,
        tls_ca=_ca_file(tls_ca),
    )
    info = with_runtime(lambda runtime: add_smpp_connector(runtime.store, name, settings, password))
    console.print(f"connector {info.name} (smpp {host}:{port}) added", highlight=False)


@connectors_update_app.command("smpp")
def connectors_update_smpp(
    name: Annotated[str, typer.Argument(help="The connector's name.")],
    host: Annotated[str | None, typer.Option("--host", help="SMSC host.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="SMSC port.")] = None,
    system_id: Annotated[str | None, typer.Option("--system-id", help="SMPP system_id.")] = None,
    password: Annotated[str | None, typer.Option("--password", help="SMPP password.")] = None,
    tps: Annotated[int | None, typer.Option("--tps", help="Submits per second at most.")] = None,
    window: Annotated[
        int | None, typer.Option("--window", help="Unanswered submits at most.")
    ] = None,
    tls: Annotated[bool | None, typer.Option("--tls/--no-tls", help="Connect with TLS.")] = None,
    receipt_ids: Annotated[str | None, typer.Option("--receipt-ids", help=RECEIPT_IDS_HELP)] = None,
    enquire_link_interval: Annotated[
        int | None, typer.Option("--enquire-link-interval", help=ENQUIRE_LINK_HELP)
    ] = None,
    response_timeout: Annotated[
        int | None, typer.Option("--response-timeout", help=RESPONSE_TIMEOUT_HELP)
    ] = None,
    tls_ca: Annotated[
        str | None, typer.Option("--tls-ca", help=TLS_CA_HELP + ' "" goes back to it.')
    ] = None,
) -> None:
    """Change an SMPP connector: only the options given change. Workers take --receipt-ids
    within seconds, the connection's settings when they restart."""
    from smsvia.services.senders import update_smpp_connector

    given = {
        "host": host,
        "port": port,
        "system_id": system_id,
        "tps": tps,
        "window": window,
        "tls": tls,
        "receipt_ids": receipt_ids,
        "enquire_link_interval": enquire_link_interval,
        "response_timeout": response_timeout,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if tls_ca is not None:
        changes["tls_ca"] = _ca_file(tls_ca)
    if not changes and password is None:
        raise CliError("nothing to change: give at least one option (see --help)")
    info = with_runtime(
        lambda runtime: update_smpp_connector(runtime.store, name, changes, password)
    )
    shown = ", ".join(f"{key}={info.settings[key]}" for key in changes)
    console.print(f"connector {info.name} updated: {shown or 'password'}", highlight=False)


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
    info = with_runtime(
        lambda runtime: add_rcs_connector(runtime.store, name, settings, client_token)
    )
    console.print(
        f"connector {info.name} (rcs {base_url}, agent {agent_id}) added; give RBM the webhook "
        f"<public URL>/rcs/{info.name}/events",
        highlight=False,
    )


@connectors_add_app.command("mm7")
def connectors_add_mm7(
    name: Annotated[str, typer.Argument(help="The connector's name.")],
    url: Annotated[str, typer.Option("--url", help="The MMSC's MM7 URL.")],
    vasp_id: Annotated[str, typer.Option("--vasp-id", help="Our VASP id at the MMSC.")],
    vas_id: Annotated[str, typer.Option("--vas-id", help="The service's VAS id.")] = "",
    username: Annotated[
        str | None, typer.Option("--username", help="Basic auth, both ways.")
    ] = None,
    password: Annotated[str | None, typer.Option("--password", help="Basic auth.")] = None,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", help="The largest MMS the MMSC takes, in bytes.")
    ] = 600 * 1024,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for one MMSC answer.")
    ] = 30.0,
) -> None:
    """Add an MMS relay spoken to by MM7 (or `smsvia sim mmsc`); it posts delivery reports and
    inbound MMS to /mm7/NAME."""
    from smsvia.services.senders import Mm7Settings, add_mm7_connector

    settings = Mm7Settings(url, vasp_id, vas_id, username, max_bytes, timeout)
    info = with_runtime(lambda runtime: add_mm7_connector(runtime.store, name, settings, password))
    console.print(
        f"connector {info.name} (mm7 {url}, VASP {vasp_id}, up to {max_bytes:,} bytes) added; "
        f"give the MMSC the URL <public URL>/mm7/{info.name}",
        highlight=False,
    )


@connectors_app.command("list")
def connectors_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the connectors (secrets are never shown)."""
    from smsvia.services.senders import list_connectors

    connectors = with_runtime(lambda runtime: list_connectors(runtime.store))
    if as_json:
        print(json.dumps([{"name": c.name, "kind": c.kind, **c.settings} for c in connectors]))
        return
    table = Table("name", "kind", "settings")
    for c in connectors:
        table.add_row(c.name, c.kind, ", ".join(f"{k}={v}" for k, v in c.settings.items()))
    console.print(table)
