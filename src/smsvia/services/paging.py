"""Page tokens: where the next page of a newest-first listing starts (the last id seen),
opaque to callers as Twilio's PageToken is."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from smsvia.domain.errors import InvalidParameter


class _Row(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=_Row)

MAX_ID = 2**63 - 1  # the largest id either database can hold


def encode_token(last_id: int) -> str:
    return "PA" + base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_token(token: str, field: str = "PageToken") -> int:
    try:
        raw = token.removeprefix("PA")
        last_id = int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"{field} '{token}' is not valid", code=20001, field=field) from exc
    if not 0 < last_id <= MAX_ID:  # no row has it: a made-up token
        raise InvalidParameter(f"{field} '{token}' is not valid", code=20001, field=field)
    return last_id


@dataclass(frozen=True, slots=True)
class Window:
    """A page asked for: up to `size` rows older than the token's id. A query reads `limit`
    rows, one more than shown, to know whether a next page exists."""

    size: int
    before_id: int | None

    @property
    def limit(self) -> int:
        return self.size + 1

    def page(self, found: Sequence[T]) -> tuple[Sequence[T], str | None]:
        """The rows to show, and the next page's token (None on the last page)."""
        shown = found[: self.size]
        more = len(found) > self.size
        return shown, encode_token(shown[-1].id) if more else None


def window(page_size: int, page_token: str | None, most: int) -> Window:
    if not 1 <= page_size <= most:
        raise InvalidParameter(
            f"page_size must be between 1 and {most}", code=21100, field="page_size"
        )
    return Window(page_size, decode_token(page_token, "page_token") if page_token else None)
