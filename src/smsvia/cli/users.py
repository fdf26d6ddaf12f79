"""`smsvia users`: people who sign in to an account's dashboard, and their roles."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from smsvia.cli._common import CliError, console, with_runtime

users_app = typer.Typer(help="Dashboard users of an account.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    account_sid: Annotated[str, typer.Argument(help="The account.")],
    email: Annotated[str, typer.Argument(help="The user's email: what they sign in with.")],
    role: Annotated[str, typer.Option("--role", help="owner, marketer or viewer.")] = "viewer",
) -> None:
    """Add a dashboard user. The password is asked for (twice), or read from standard input
    when that is not a terminal: never on the command line, where it would be kept."""
    from smsvia.services.users import add_user

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password given")
    made = with_runtime(lambda runtime: add_user(runtime.store, account_sid, email, password, role))
    console.print(f"{made.sid}  {made.email}  {made.role}", highlight=False)


@users_app.command("list")
def users_list(
    account_sid: Annotated[str, typer.Argument(help="The account.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """An account's dashboard users."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.users import list_users

    async def found(runtime):
        principal = await acting_for(runtime.store, account_sid)
        return await list_users(runtime.store, principal.account_id)

    listed = with_runtime(found)
    if as_json:
        print(json.dumps([{"sid": u.sid, "email": u.email, "role": u.role} for u in listed]))
        return
    table = Table("SID", "Email", "Role", "Since")
    for user in listed:
        table.add_row(user.sid, user.email, user.role, user.date_created.strftime("%Y-%m-%d"))
    console.print(table)


@users_app.command("remove")
def users_remove(
    account_sid: Annotated[str, typer.Argument(help="The account.")],
    user_sid: Annotated[str, typer.Argument(help="The user (US…).")],
) -> None:
    """Remove a user; their sessions end at once."""
    _on_user(account_sid, user_sid, "remove_user")
    console.print(f"{user_sid} removed", highlight=False)


@users_app.command("sign-out")
def users_sign_out(
    account_sid: Annotated[str, typer.Argument(help="The account.")],
    user_sid: Annotated[str, typer.Argument(help="The user (US…).")],
) -> None:
    """End every session of a user's (a lost laptop)."""
    ended = _on_user(account_sid, user_sid, "sign_out_everywhere")
    console.print(f"{user_sid}: {ended} session(s) ended", highlight=False)


def _on_user(account_sid: str, user_sid: str, name: str):
    from smsvia.services import users
    from smsvia.services.accounts import acting_for

    async def work(runtime):
        principal = await acting_for(runtime.store, account_sid)
        return await getattr(users, name)(runtime.store, principal.account_id, user_sid)

    return with_runtime(work)
