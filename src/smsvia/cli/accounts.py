"""`smsvia accounts`, `keys` and `numbers`: who sends, with what credentials, from where."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from smsvia.cli._common import CliError, console, with_runtime

if TYPE_CHECKING:
    from smsvia.services.accounts import Credentials

accounts_app = typer.Typer(help="Accounts: who sends, with what credentials.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of an account.", no_args_is_help=True)
numbers_app = typer.Typer(help="Senders an account may use as From.", no_args_is_help=True)


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="A name for the account.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {sid, auth_token}.")] = False,
) -> None:
    """Create an account and print its Account SID and Auth Token (shown once)."""
    from smsvia.services.accounts import create_account

    _show_credentials(with_runtime(lambda runtime: create_account(runtime.store, name)), as_json)


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
    shopify_secret: Annotated[
        str | None,
        typer.Option(
            "--shopify-secret",
            help='The secret Shopify signs the orders webhook with ("" removes it).',
        ),
    ] = None,
    click_days: Annotated[
        int | None,
        typer.Option(
            "--attribution-click-days",
            help="An order is attributed to the last click within this many days (default 7).",
        ),
    ] = None,
    delivery_hours: Annotated[
        int | None,
        typer.Option(
            "--attribution-delivery-hours",
            help="Else to the last delivered campaign text within this many hours (default 24).",
        ),
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            "--rate-limit",
            help="Requests each of the account's credentials may make: 10/s, 600/m, 5/h "
            "(0: no limit). Over it the API answers 429 (code 20429) with Retry-After.",
        ),
    ] = None,
) -> None:
    """Change an account's settings: only the options given change."""
    from dataclasses import asdict

    from smsvia.domain.rates import parse_rate
    from smsvia.services.accounts import AccountSettings, update_settings

    changes = AccountSettings(
        rcs_fallback_seconds=rcs_fallback_seconds,
        help_text=help_text,
        opt_out_text=opt_out_text,
        opt_in_text=opt_in_text,
        quiet_hours=quiet_hours,
        marketing_cap_24h=marketing_cap,
        shopify_secret=shopify_secret,
        attribution_click_days=click_days,
        attribution_delivery_hours=delivery_hours,
        rate_limit=None if rate_limit is None else parse_rate(rate_limit),
    )
    if changes == AccountSettings():
        raise CliError("nothing to change: give at least one option (see --help)")
    with_runtime(lambda runtime: update_settings(runtime.store, account_sid, changes))
    said = ", ".join(
        f"{name.replace('_', ' ')} = {_shown(name, value)}"
        for name, value in asdict(changes).items()
        if value is not None
    )
    console.print(f"{account_sid}: {said}", highlight=False)


@accounts_app.command("rotate-token")
def accounts_rotate_token(
    account_sid: Annotated[str, typer.Argument(help="The account.")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"sid", "auth_token"}.')] = False,
) -> None:
    """Give the account a new Auth Token; the old one stops working at once."""
    from smsvia.services.keys import rotate_token

    _show_credentials(
        with_runtime(lambda runtime: rotate_token(runtime.store, account_sid)), as_json
    )


def _show_credentials(credentials: Credentials, as_json: bool) -> None:
    """An Account SID and its Auth Token, shown once: as JSON, or for a person."""
    if as_json:
        print(json.dumps({"sid": credentials.sid, "auth_token": credentials.secret}))
    else:
        console.print(
            f"Account SID  {credentials.sid}\nAuth Token   {credentials.secret}", highlight=False
        )


def _shown(name: str, value: object) -> str:
    """A setting as the command confirms it; a secret only as set or removed."""
    if name.endswith("secret"):
        return "(set)" if value else "(removed)"
    if name == "rate_limit":
        return f"{value:g}/s" if value else "none"
    return repr(value)


@keys_app.command("create")
def keys_create(
    account_sid: Annotated[str, typer.Argument(help="The account the key acts for.")],
    name: Annotated[str, typer.Option("--name", help="A name for the key.")] = "API key",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="Restrict the key (repeatable): messages:send, messages:read, contacts, "
            "campaigns, admin. None: all of them.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {sid, secret, scopes}.")] = False,
) -> None:
    """Create an API key (SK…) and print its secret (shown once, stored hashed)."""
    from smsvia.services.keys import create_key

    made = with_runtime(lambda runtime: create_key(runtime.store, account_sid, name, scope))
    scopes = list(made.key.scopes)
    if as_json:
        print(json.dumps({"sid": made.key.sid, "secret": made.secret, "scopes": scopes}))
    else:
        console.print(
            f"API key SID  {made.key.sid}\nSecret       {made.secret}\n"
            f"Scopes       {' '.join(scopes)}",
            highlight=False,
        )


@keys_app.command("list")
def keys_list(
    account_sid: Annotated[str, typer.Argument(help="Whose keys.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """The account's API keys (never their secrets)."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.keys import list_keys

    async def found(runtime):
        principal = await acting_for(runtime.store, account_sid)
        return await list_keys(runtime.store, principal.account_id)

    keys = with_runtime(found)
    if as_json:
        print(
            json.dumps(
                [{"sid": k.sid, "name": k.friendly_name, "scopes": list(k.scopes)} for k in keys]
            )
        )
        return
    table = Table("sid", "name", "scopes", "created")
    for k in keys:
        table.add_row(
            k.sid, k.friendly_name, " ".join(k.scopes), f"{k.date_created:%Y-%m-%d %H:%M}"
        )
    console.print(table)


@keys_app.command("delete")
def keys_delete(
    account_sid: Annotated[str, typer.Argument(help="Whose key.")],
    key_sid: Annotated[str, typer.Argument(help="The key (SK…) to revoke.")],
) -> None:
    """Revoke an API key: its next request is refused (401), in every server process."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.keys import delete_key

    async def delete(runtime):
        principal = await acting_for(runtime.store, account_sid)
        await delete_key(runtime.store, principal.account_id, key_sid)

    with_runtime(delete)
    console.print(f"{key_sid} revoked", highlight=False)


@numbers_app.command("add")
def numbers_add(
    account_sid: Annotated[str, typer.Argument(help="The account that may send from it.")],
    number: Annotated[str, typer.Argument(help="E.164 number or alphanumeric sender ID.")],
    connector: Annotated[str, typer.Option("--connector", help="SMS connector to send by.")],
    rcs_connector: Annotated[
        str | None, typer.Option("--rcs-connector", help="RCS connector, tried first.")
    ] = None,
    mms_connector: Annotated[
        str | None,
        typer.Option("--mms-connector", help="MM7 connector for messages with media."),
    ] = None,
    sms_url: Annotated[
        str | None, typer.Option("--sms-url", help="Where inbound messages are forwarded.")
    ] = None,
) -> None:
    """Let an account send from NUMBER through CONNECTOR."""
    from smsvia.services.outbound_urls import check_forward_url
    from smsvia.services.senders import add_number

    async def add(runtime) -> str:
        await check_forward_url(sms_url, runtime.settings.allow_private_urls)
        return await add_number(
            runtime.store,
            account_sid,
            number,
            connector=connector,
            rcs_connector=rcs_connector,
            mms_connector=mms_connector,
            sms_url=sms_url,
            default_region=runtime.settings.default_region,
        )

    sender = with_runtime(add)
    console.print(f"{sender} added to {account_sid} via {connector}", highlight=False)
