"""How fast texts are segmented, split into SMPP parts and priced.

Run: python benchmarks/segmentation.py [--seconds S]
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from smsvia.domain.encoding import segment, to_parts
from smsvia.services.quote import load_price_book, quote_message

CASES = {
    "GSM-7, 1 segment": "Hi Anna, your order #1042 has shipped! Track it: https://shop.example/t/1042",
    "GSM-7, 3 segments": "Your cart is waiting {10% off} " * 10,
    "UCS-2, 1 segment": "Grazie Anna! 🇮🇹 Il tuo ordine è in viaggio 📦",
    "UCS-2, 10 segments": "Sale 😜 “today” — " * 40,
    "smart-encoded": "“Hello” — it’s ready… " * 5,
    "1,600 characters": "a€" * 800,
}


def rate(work, seconds: float) -> float:
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            work()
        count += 100
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds
    book = load_price_book()
    table = Table(title="segmentation throughput (texts/s, one core)")
    for column in ("text", "segments", "segment()", "segment()+to_parts()", "quote_message()"):
        table.add_column(column, justify="right" if column != "text" else "left")
    for name, text in CASES.items():
        smart = name == "smart-encoded"

        def segment_only(text: str = text, smart: bool = smart) -> None:
            segment(text, smart_encoding=smart)

        def with_parts(text: str = text, smart: bool = smart) -> None:
            to_parts(segment(text, smart_encoding=smart), reference=7)

        def quoted(text: str = text, smart: bool = smart) -> None:
            quote_message(text, price_book=book, to="+14155550100", smart_encoding=smart)

        table.add_row(
            name,
            str(segment(text, smart_encoding=smart).segments),
            *(f"{rate(work, seconds):,.0f}" for work in (segment_only, with_parts, quoted)),
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
