"""`smsvia export`: everything an account holds, in files the shop can take away."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smsvia.cli._common import CliError, console, with_runtime


def export(
    account_sid: Annotated[str, typer.Option("--account", help="The account to export.")],
    out: Annotated[
        Path, typer.Option("--out", help="A directory for the files (created if need be).")
    ] = Path("smsvia-export"),
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
) -> None:
    """Write the account's contacts, consent ledger, messages, segments, campaigns, short
    links, clicks and orders, one file each, sealed fields opened. Keep the files safe:
    they hold customers' numbers in the clear."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.export import FORMATS, export_account

    if fmt not in FORMATS:
        raise CliError(f"--format must be one of {', '.join(FORMATS)}")

    async def run(runtime):
        principal = await acting_for(runtime.store, account_sid)
        return await export_account(runtime.store, principal, out, fmt)

    written = with_runtime(run)
    for name, count in written.items():
        # soft_wrap: a long path stays on one line, to be copied whole
        console.print(f"{count:>9,}  {out / f'{name}.{fmt}'}", highlight=False, soft_wrap=True)
