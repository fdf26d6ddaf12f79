"""`smsvia contacts`, `consent` and `forms`: who agreed to what, and the forms that ask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from smsvia.cli._common import CliError, console, err_console, with_runtime
from smsvia.config import Settings

contacts_app = typer.Typer(help="An account's contacts.", no_args_is_help=True)
consent_app = typer.Typer(help="The consent ledger.", no_args_is_help=True)
forms_app = typer.Typer(help="Hosted opt-in forms (double opt-in).", no_args_is_help=True)


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

    from smsvia.services.contact_import import import_csv

    if not file.is_file():
        raise CliError(f"{file} is not a file")
    report_path = errors or file.with_name(file.name + ".errors.csv")
    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress("[progress.description]{task.description}", *columns, console=err_console) as bar:
        task = bar.add_task(f"importing {file.name}", total=file.stat().st_size)
        report = with_runtime(
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

    checked, breaks = with_runtime(lambda runtime: verify(runtime.store))
    for broken in breaks:
        err_console.print(
            f"account {broken.account_id}, entry {broken.event_id}: {broken.why}", highlight=False
        )
    if breaks:
        raise CliError(f"the consent ledger was tampered with: {len(breaks)} broken entries")
    console.print(f"consent ledger intact: {checked} entries verified", highlight=False)


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

    exported = with_runtime(run)
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

    form = with_runtime(create)
    _print_forms([form], Settings().public_url, as_json=as_json, one=True)


@forms_app.command("list")
def forms_list(
    account_sid: Annotated[str, typer.Argument(help="The account.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the forms as JSON.")] = False,
) -> None:
    """An account's opt-in forms, with their URLs and embed snippets."""
    from smsvia.services.optin import forms_of

    forms = with_runtime(lambda runtime: forms_of(runtime.store, account_sid))
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
