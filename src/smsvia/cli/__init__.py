"""The `smsvia` command. Thin: parse options, call a service, print; errors become one line.

One module per group of commands; this one puts them together.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from smsvia import __version__
from smsvia.cli._common import CliError, console, err_console
from smsvia.cli.accounts import accounts_app, keys_app, numbers_app
from smsvia.cli.audit import audit_app, record_command
from smsvia.cli.campaigns import campaigns_app, segments_app
from smsvia.cli.connectors import connectors_app
from smsvia.cli.consent import consent_app, contacts_app, forms_app
from smsvia.cli.cost import cost
from smsvia.cli.export import export
from smsvia.cli.master_key import rotate_master  # noqa: F401  (a `keys` command)
from smsvia.cli.server import db_app, serve, worker
from smsvia.cli.sim import sim_app
from smsvia.cli.users import users_app
from smsvia.domain.errors import DomainError

app = typer.Typer(
    name="smsvia",
    help="Self-hosted business messaging: SMS, MMS and RCS with automatic SMS fallback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)
    ] = False,
) -> None:
    if version:
        console.print(f"smsvia {__version__}")
        raise typer.Exit()


def main() -> None:
    """Entry point: run the app and turn every known failure into one line on stderr."""
    try:
        app()  # usage errors and --help are answered, and exit, inside
    except SystemExit as done:
        if done.code in (0, None):  # it worked: a change goes in the audit log
            record_command(typer.main.get_command(app), sys.argv[1:])
        raise
    except DomainError as exc:
        err_console.print(f"[bold red]error {exc.code}:[/] {exc.message}", highlight=False)
        sys.exit(1)
    except CliError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except ValidationError as exc:  # a setting from the environment that does not parse
        if exc.title != "Settings":
            raise
        for problem in exc.errors():
            name = "SMSVIA_" + "_".join(str(part) for part in problem["loc"]).upper()
            err_console.print(f"[bold red]error:[/] {name}: {problem['msg']}", highlight=False)
        sys.exit(2)


app.callback()(_root)
app.command()(cost)
app.command()(export)
app.command()(serve)
app.command()(worker)
for group, name in (
    (db_app, "db"),
    (accounts_app, "accounts"),
    (keys_app, "keys"),
    (connectors_app, "connectors"),
    (numbers_app, "numbers"),
    (consent_app, "consent"),
    (contacts_app, "contacts"),
    (forms_app, "forms"),
    (segments_app, "segments"),
    (campaigns_app, "campaigns"),
    (sim_app, "sim"),
    (users_app, "users"),
    (audit_app, "audit"),
):
    app.add_typer(group, name=name)
