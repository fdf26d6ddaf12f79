"""Who a segment holds: conditions over contacts, combined with all or any.

(An "audience" here, because "segment" already means a piece of a long SMS in encoding/.)

A rule is parsed once, when a segment is saved; every bad field, op or value is refused then
with the condition it is in. The same rule is run two ways: compiled to SQL over a million
contacts (store/audiences.py) and evaluated here on one contact's facts, which the tests use to
check the SQL against.

Sealed fields (first_name, email, attributes.NAME) are never opened to be matched: they are
compared through a blind index of their lower-cased value, so they take eq, ne, in and exists
only. Everything else is stored in the clear and takes the ops of its kind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from smsvia.domain.errors import DomainError

MAX_CONDITIONS = 50
MAX_IN_VALUES = 1000
MAX_ATTRIBUTE_NAME = 64


class InvalidSegment(DomainError):
    """A segment rule that names an unknown field or op, or a value its op cannot take."""

    code = 21100


class Kind(StrEnum):
    TAGS = "tags"
    SEALED = "sealed"  # matched through a blind index
    TEXT = "text"
    FLAG = "flag"
    MOMENT = "moment"
    COUNT = "count"
    MONEY = "money"


_EQUALITY = frozenset({"eq", "ne", "in"})
_ORDER = frozenset({"gt", "gte", "lt", "lte"})
OPS: Mapping[Kind, frozenset[str]] = {
    Kind.TAGS: frozenset({"contains", "not_contains", "in", "exists"}),
    Kind.SEALED: _EQUALITY | {"exists"},
    Kind.TEXT: _EQUALITY | {"contains", "not_contains", "exists"},
    Kind.FLAG: frozenset({"eq", "ne"}),
    Kind.MOMENT: _ORDER | {"within_days", "before_days", "exists"},
    Kind.COUNT: _EQUALITY | _ORDER,
    Kind.MONEY: _EQUALITY | _ORDER,
}
ALL_OPS = frozenset().union(*OPS.values())

FIELDS: Mapping[str, Kind] = {
    "tags": Kind.TAGS,
    "first_name": Kind.SEALED,
    "email": Kind.SEALED,
    "country": Kind.TEXT,
    "state": Kind.TEXT,
    "time_zone": Kind.TEXT,
    "marketing_allowed": Kind.FLAG,
    "created_at": Kind.MOMENT,
    "last_clicked_at": Kind.MOMENT,
    "last_delivered_at": Kind.MOMENT,
    "last_order_at": Kind.MOMENT,
    "orders_count": Kind.COUNT,
    "total_spent": Kind.MONEY,
}
ATTRIBUTE_PREFIX = "attributes."
_UPPER_CASE = frozenset({"country", "state"})  # ISO and USPS codes, stored upper-cased


@dataclass(frozen=True, slots=True)
class Condition:
    field: str  # a name from FIELDS, or attributes.NAME
    op: str
    value: Any  # checked and normalized for the field's kind and the op

    @property
    def kind(self) -> Kind:
        return Kind.SEALED if self.field.startswith(ATTRIBUTE_PREFIX) else FIELDS[self.field]

    @property
    def attribute(self) -> str | None:
        """NAME of attributes.NAME; None for other fields."""
        if self.field.startswith(ATTRIBUTE_PREFIX):
            return self.field[len(ATTRIBUTE_PREFIX) :]
        return None

    def as_json(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, tuple):
            value = [str(v) if isinstance(v, Decimal) else v for v in value]
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True, slots=True)
class Audience:
    match: str  # all | any
    conditions: tuple[Condition, ...]

    def as_json(self) -> list[dict[str, Any]]:
        return [condition.as_json() for condition in self.conditions]

    def matches(self, facts: ContactFacts, now: datetime) -> bool:
        """Whether one contact is in the audience (the SQL's reference)."""
        results = (holds(condition, facts, now) for condition in self.conditions)
        return all(results) if self.match == "all" else any(results)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """One contact as a rule sees it, sealed fields opened."""

    created_at: datetime
    tags: tuple[str, ...] = ()
    first_name: str | None = None
    email: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    country: str | None = None
    state: str | None = None
    time_zone: str | None = None
    marketing_allowed: bool = False
    last_clicked_at: datetime | None = None
    last_delivered_at: datetime | None = None
    last_order_at: datetime | None = None
    orders_count: int = 0
    total_spent: Decimal = Decimal(0)


def parse_audience(match: Any, conditions: Any) -> Audience:
    """The rule as a segment is saved with; InvalidSegment names what is wrong and where."""
    if match not in ("all", "any"):
        raise InvalidSegment("match must be all or any", field="match")
    if not isinstance(conditions, list):
        raise InvalidSegment("conditions must be a list", field="conditions")
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidSegment(f"at most {MAX_CONDITIONS} conditions", field="conditions")
    return Audience(
        match,
        tuple(parse_condition(raw, f"conditions[{n}]") for n, raw in enumerate(conditions)),
    )


def typed_value(raw: str) -> Any:
    """A value as a person types it (a command line, a form): JSON where it reads as JSON
    (90, true, ["a", "b"]), else the text itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw.strip()


def parse_condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise InvalidSegment(f"{where} must be an object with field, op and value", field=where)
    name, op = raw.get("field"), raw.get("op")
    if not isinstance(name, str) or not _known_field(name):
        raise InvalidSegment(
            f"{where}: unknown field {name!r}; fields are {', '.join(FIELDS)} and attributes.NAME",
            field=f"{where}.field",
        )
    if not isinstance(op, str) or op not in ALL_OPS:
        raise InvalidSegment(
            f"{where}: unknown op {op!r}; ops are {', '.join(sorted(ALL_OPS))}",
            field=f"{where}.op",
        )
    kind = Kind.SEALED if name.startswith(ATTRIBUTE_PREFIX) else FIELDS[name]
    if op not in OPS[kind]:
        why = " (it is sealed: matched through its blind index)" if kind is Kind.SEALED else ""
        raise InvalidSegment(
            f"{where}: {name} takes {', '.join(sorted(OPS[kind]))}, not {op}{why}",
            field=f"{where}.op",
        )
    value = _value(kind, op, raw.get("value"), f"{where}.value")
    if name in _UPPER_CASE and op != "exists":
        value = tuple(v.upper() for v in value) if op == "in" else value.upper()
    return Condition(name, op, value)


def _known_field(name: str) -> bool:
    if name in FIELDS:
        return True
    attribute = name[len(ATTRIBUTE_PREFIX) :] if name.startswith(ATTRIBUTE_PREFIX) else ""
    return 0 < len(attribute) <= MAX_ATTRIBUTE_NAME


def _value(kind: Kind, op: str, value: Any, where: str) -> Any:
    if op == "exists":
        if not isinstance(value, bool):
            raise InvalidSegment(f"{where}: exists takes true or false", field=where)
        return value
    if op in ("within_days", "before_days"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36_500:
            raise InvalidSegment(f"{where}: {op} takes a number of days", field=where)
        return value
    if op == "in":
        if not isinstance(value, list) or not 0 < len(value) <= MAX_IN_VALUES:
            raise InvalidSegment(
                f"{where}: in takes a list of 1 to {MAX_IN_VALUES} values", field=where
            )
        return tuple(_scalar(kind, item, f"{where}[{n}]") for n, item in enumerate(value))
    return _scalar(kind, value, where)


def _scalar(kind: Kind, value: Any, where: str) -> Any:
    if kind is Kind.FLAG:
        if not isinstance(value, bool):
            raise InvalidSegment(f"{where}: takes true or false", field=where)
        return value
    if kind is Kind.COUNT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidSegment(f"{where}: takes a whole number", field=where)
        return value
    if kind is Kind.MONEY:
        try:
            amount = Decimal(str(value)) if not isinstance(value, bool) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            raise InvalidSegment(f'{where}: takes an amount such as "25.00"', field=where)
        return amount
    if kind is Kind.MOMENT:
        return _moment(value, where)
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise InvalidSegment(f"{where}: takes a text of 1 to 255 characters", field=where)
    return normalized(kind, value)


def normalized(kind: Kind, value: str) -> str:
    """A text value as it is compared: tags and sealed values lower-cased, countries and
    states upper-cased (as they are stored)."""
    value = value.strip()
    if kind in (Kind.TAGS, Kind.SEALED):
        return value.lower()
    return value


def _moment(value: Any, where: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise InvalidSegment(f"{where}: takes a date or time in ISO 8601 / RFC 3339", field=where)


def holds(condition: Condition, facts: ContactFacts, now: datetime) -> bool:
    """Whether one condition holds for one contact."""
    op, wanted = condition.op, condition.value
    have = _fact(condition, facts)
    if condition.kind is Kind.TAGS:
        tags: Sequence[str] = have
        if op == "exists":
            return bool(tags) == wanted
        if op == "in":
            return any(tag in tags for tag in wanted)
        return (wanted in tags) == (op == "contains")
    if op == "exists":
        return (have is not None) == wanted
    if op == "ne":
        return have is None or _compare(condition.kind, have) != wanted
    if op == "not_contains":
        return have is None or wanted.lower() not in have.lower()
    if have is None:
        return False
    have = _compare(condition.kind, have)
    if op == "eq":
        return have == wanted
    if op == "in":
        return have in wanted
    if op == "contains":
        return wanted.lower() in have.lower()
    if op == "within_days":
        return have >= now - timedelta(days=wanted)
    if op == "before_days":
        return have < now - timedelta(days=wanted)
    return {
        "gt": have > wanted,
        "gte": have >= wanted,
        "lt": have < wanted,
        "lte": have <= wanted,
    }[op]


def _fact(condition: Condition, facts: ContactFacts) -> Any:
    if condition.attribute is not None:
        return facts.attributes.get(condition.attribute)
    return getattr(facts, condition.field)


def _compare(kind: Kind, value: Any) -> Any:
    return normalized(kind, value) if kind is Kind.SEALED else value
