"""Quote a message: its encoding, segments and price before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from smsvia.domain.encoding import Segmentation, segment
from smsvia.domain.errors import PriceBookError
from smsvia.domain.phone import PhoneNumber, parse_phone
from smsvia.domain.pricing import PriceBook, Quote


@dataclass(frozen=True, slots=True)
class MessageQuote:
    segmentation: Segmentation
    quote: Quote
    destination: PhoneNumber | None
    smart_encoding: bool

    @property
    def channel(self) -> str:
        return "sms" if self.quote.billed == "sms_segment" else "mms"

    def explain(self) -> str:
        if self.channel == "mms":
            segments = self.segmentation.segments
            return (
                "Sent as one MMS, priced per message; as SMS it would be "
                f"{segments} segment{'s' if segments > 1 else ''}. {self.segmentation.explain()}"
            )
        return self.segmentation.explain()

    def as_dict(self) -> dict[str, Any]:
        """The quote as plain JSON-ready values (what `smsvia cost --json` prints)."""
        seg, quote = self.segmentation, self.quote
        return {
            "encoding": str(seg.encoding),
            "segments": 1 if self.channel == "mms" else seg.segments,
            "parts": list(seg.part_units),
            "unit": seg.limits.unit,
            "characters": len(seg.text),
            "units": seg.units,
            "units_per_segment": seg.unit_capacity,
            "units_left": seg.units_left,
            "channel": self.channel,
            "price": str(quote.price),
            "unit_price": str(quote.unit_price),
            "billed": str(quote.billed),
            "currency": quote.currency,
            "country": quote.region,
            "to": self.destination.e164 if self.destination else None,
            "ucs2_characters": [
                {
                    "char": c.char,
                    "position": c.position,
                    "codepoint": c.codepoint,
                    "name": c.name,
                    "suggestion": c.suggestion,
                }
                for c in seg.ucs2_characters
            ],
            "smart_encoding": {
                "requested": self.smart_encoding,
                "applied": bool(seg.replacements),
                "replacements": [
                    {"position": r.position, "original": r.original, "replacement": r.replacement}
                    for r in seg.replacements
                ],
            },
            "text": seg.text,
            "explanation": self.explain(),
        }


def load_price_book(path: Path | None = None) -> PriceBook:
    """The operator's price book at `path`, or the built-in one."""
    if path is None:
        text = resources.files("smsvia.data").joinpath("price_book.toml").read_text("utf-8")
        return PriceBook.parse(text, "built-in price book")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceBookError(f"cannot read price book {path}: {exc}") from exc
    return PriceBook.parse(text, str(path))


def quote_message(
    text: str,
    *,
    price_book: PriceBook,
    to: str | None = None,
    default_region: str = "US",
    mms: bool = False,
    smart_encoding: bool = False,
) -> MessageQuote:
    """Encode, segment and price `text` for `to` (or the default region)."""
    segmentation = segment(text, smart_encoding=smart_encoding)
    destination = parse_phone(to, default_region) if to is not None else None
    region = destination.region if destination else default_region
    quote = price_book.mms(region) if mms else price_book.sms(region, segmentation.segments)
    return MessageQuote(segmentation, quote, destination, smart_encoding)
