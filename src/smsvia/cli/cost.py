"""`smsvia cost`: what a text costs before it is sent."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from smsvia.cli._common import CliError, console
from smsvia.config import Settings
from smsvia.services.quote import MessageQuote, load_price_book, quote_message


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
