"""`smsvia keys rotate-master`: move every sealed value and blind index to the new key."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from smsvia.cli._common import console, err_console, with_runtime
from smsvia.cli.accounts import keys_app


@keys_app.command("rotate-master")
def rotate_master(
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Print a fresh master key to rotate to, and stop.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Only count the rows still under an older key.")
    ] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows per transaction.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-encrypt sealed data and re-key blind indexes under the first key of
    SMSVIA_MASTER_KEY ("new,old"), online; run it again to resume. README: Security."""
    from smsvia.services import key_rotation
    from smsvia.store.crypto import new_master_key

    if new_key:
        print(new_master_key())
        return

    async def run(runtime) -> key_rotation.Report:
        store = runtime.store
        if check:
            return key_rotation.Report(store.cipher.key_id, await key_rotation.remaining(store))
        key_rotation.ready_to_rotate(store.cipher)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=err_console
        ) as bar:
            task = bar.add_task("re-keying", total=None)

            def moved(table: str, count: int) -> None:
                bar.update(task, description=f"re-keying {table}", advance=count)

            return await key_rotation.rotate(store, batch=batch, progress=moved)

    report = with_runtime(run)
    _show(report, as_json)
    if not report.done:
        raise typer.Exit(1)


def _show(report, as_json: bool) -> None:
    if as_json:
        tables = {t.table: {"rewritten": t.rewritten, "left": t.left} for t in report.tables}
        print(json.dumps({"key_id": report.key_id, "done": report.done, "tables": tables}))
        return
    for table in report.tables:
        console.print(
            f"{table.table:<20} {table.rewritten:>9} re-keyed   {table.left:>9} left",
            highlight=False,
        )
    if report.done:
        console.print(
            f"Every value is under key {report.key_id}: the older keys may now leave "
            "SMSVIA_MASTER_KEY (restart each process after).",
            highlight=False,
            soft_wrap=True,
        )
    else:
        err_console.print(
            "Some rows are still under an older key (written meanwhile by a process without "
            "the new key first?): run this again.",
            highlight=False,
        )
