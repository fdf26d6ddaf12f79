"""`smsvia segments` and `smsvia campaigns`: build an audience, write a campaign, see what it
will cost, launch it and watch it go out."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from smsvia.cli._common import CliError, console, err_console, with_runtime

segments_app = typer.Typer(help="Saved audiences of contacts.", no_args_is_help=True)
campaigns_app = typer.Typer(help="Campaigns to segments of contacts.", no_args_is_help=True)

Account = Annotated[str, typer.Option("--account", help="The account SID.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@segments_app.command("create")
def segments_create(
    account: Account,
    name: Annotated[str, typer.Option("--name", help="What the shop calls it.")],
    where: Annotated[
        list[str],
        typer.Option(
            "--where",
            help="A condition: FIELD OP VALUE, e.g. 'tags contains vip', "
            "'last_order_at within_days 90', 'marketing_allowed eq true'. Repeatable.",
        ),
    ],
    match: Annotated[str, typer.Option("--match", help="all | any")] = "all",
    as_json: Json = False,
) -> None:
    """Save a segment and print how many contacts it holds now."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.segments import create_segment

    conditions = [_condition(text) for text in where]

    async def work(runtime):
        principal = await acting_for(runtime.store, account)
        return await create_segment(runtime.store, principal, name, match, conditions)

    view = with_runtime(work)
    if as_json:
        console.print_json(data={"sid": view.sid, "name": view.name, "count": view.count})
    else:
        console.print(f"{view.sid}  {view.name}: {view.count:,} contacts", highlight=False)


@segments_app.command("list")
def segments_list(account: Account) -> None:
    """The account's segments with their live counts."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.segments import list_segments

    async def work(runtime):
        principal = await acting_for(runtime.store, account)
        return await list_segments(runtime.store, principal, page_size=1000)

    for view in with_runtime(work).segments:
        console.print(f"{view.sid}  {view.count:>10,}  {view.name}", highlight=False)


@campaigns_app.command("create")
def campaigns_create(
    account: Account,
    file: Annotated[
        Path, typer.Argument(help="The campaign as JSON, as POST /v1/campaigns takes it.")
    ],
    as_json: Json = False,
) -> None:
    """Save a draft campaign from a JSON file."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.campaigns import create_campaign

    try:
        body = json.loads(file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"cannot read {file} as JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise CliError(f"{file} must hold one JSON object")

    async def work(runtime):
        principal = await acting_for(runtime.store, account)
        return await create_campaign(
            runtime.store, principal, body, default_region=runtime.settings.default_region
        )

    _show(with_runtime(work), as_json)


@campaigns_app.command("preview")
def campaigns_preview(account: Account, sid: str, as_json: Json = False) -> None:
    """Whom the campaign reaches, whom it skips and why, and what it costs, with samples."""
    from smsvia.services.accounts import acting_for
    from smsvia.services.campaign_preview import preview

    async def work(runtime):
        principal = await acting_for(runtime.store, account)
        return await preview(
            runtime.store,
            principal,
            sid,
            price_book=runtime.price_book,
            rules_book=runtime.rules,
            public_url=runtime.settings.public_url,
            default_region=runtime.settings.default_region,
        )

    seen = with_runtime(work)
    if as_json:
        console.print_json(data=seen)
        return
    cost = seen["estimated_cost"]
    excluded = ", ".join(f"{n:,} {why.replace('_', ' ')}" for why, n in seen["excluded"].items())
    console.print(
        f"{seen['eligible']:,} of {seen['recipients']:,} recipients ({excluded})\n"
        f"estimated cost {cost['total']} {cost['currency']}: {cost['sms_segments']:,} SMS "
        f"segments, {cost['rcs_messages']:,} RCS messages",
        highlight=False,
    )
    for sample in seen["samples"]:
        console.print(
            f"  {sample['contact']}  {sample['encoding']}, {sample['segments']} segment(s), "
            f"{sample['price']}: {sample['text']}",
            highlight=False,
        )
    for warning in seen["warnings"]:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@campaigns_app.command("launch")
def campaigns_launch(
    account: Account,
    sid: str,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch/--no-watch",
            help="Show a progress bar until the fan-out is done (a running `smsvia serve` or "
            "`smsvia worker` does the work).",
        ),
    ] = True,
) -> None:
    """Launch the campaign: now, or at its send_at."""
    resource = _act(account, sid, "launch")
    console.print(f"{sid} {resource['status']}", highlight=False)
    if watch and resource["status"] == "sending":
        _watch(account, sid, resource["stats"]["recipients"])


@campaigns_app.command("status")
def campaigns_status(account: Account, sid: str, as_json: Json = False) -> None:
    """The campaign and its live figures."""
    _show(_act(account, sid, "get"), as_json)


@campaigns_app.command("pause")
def campaigns_pause(account: Account, sid: str) -> None:
    """Stop the fan-out and hold the messages still waiting."""
    console.print(f"{sid} {_act(account, sid, 'pause')['status']}", highlight=False)


@campaigns_app.command("resume")
def campaigns_resume(account: Account, sid: str) -> None:
    """Go on where the pause stopped."""
    console.print(f"{sid} {_act(account, sid, 'resume')['status']}", highlight=False)


@campaigns_app.command("cancel")
def campaigns_cancel(account: Account, sid: str) -> None:
    """Stop for good; waiting messages are canceled."""
    console.print(f"{sid} {_act(account, sid, 'cancel')['status']}", highlight=False)


def _act(account: str, sid: str, action: str) -> dict[str, Any]:
    from smsvia.services import campaigns
    from smsvia.services.accounts import acting_for

    async def work(runtime):
        principal = await acting_for(runtime.store, account)
        if action == "get":
            return await campaigns.get_campaign(runtime.store, principal, sid)
        return await getattr(campaigns, action)(runtime.store, principal, sid)

    return with_runtime(work)


def _watch(account: str, sid: str, recipients: int) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress("[progress.description]{task.description}", *columns, console=err_console) as bar:
        task = bar.add_task(f"fanning out {sid}", total=recipients)
        while True:
            resource = _act(account, sid, "get")
            handled = _handled(resource["stats"])
            bar.update(task, completed=min(recipients, handled), description=resource["status"])
            if resource["status"] != "sending" or handled >= recipients:
                break
            time.sleep(0.5)
    _show(_act(account, sid, "get"), False)


def _handled(stats: dict[str, Any]) -> int:
    """Recipients the fan-out has dealt with: a message queued, or skipped with a reason."""
    messages = sum(v["recipients"] for v in stats["variants"])
    return messages + stats["excluded"]


def _show(resource: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(data=resource)
        return
    stats = resource["stats"]
    console.print(
        f"{resource['sid']}  {resource['name']}: {resource['status']}\n"
        f"  recipients {stats['recipients']:,}, excluded {stats['excluded']:,}, "
        f"queued {stats['queued']:,}, sent {stats['sent']:,}, delivered {stats['delivered']:,}, "
        f"failed {stats['failed'] + stats['undelivered']:,}, "
        f"as SMS fallback {stats['sent_as_sms_fallback']:,}, opted out {stats['opted_out']:,}, "
        f"cost {stats['cost']}",
        highlight=False,
    )


def _condition(text: str) -> dict[str, Any]:
    """'FIELD OP VALUE' as a condition; the value read as JSON where it is JSON (numbers,
    true, lists), else as text."""
    parts = text.split(None, 2)
    if len(parts) != 3:
        raise CliError(f"--where {text!r}: write FIELD OP VALUE, e.g. 'tags contains vip'")
    from smsvia.domain.audience import typed_value

    field, op, raw = parts
    return {"field": field, "op": op, "value": typed_value(raw)}
