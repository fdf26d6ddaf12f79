"""Personalized texts: Liquid templates, as Shopify and Klaviyo write them, rendered sandboxed.

`{{ first_name | default: "there" }}`, `{{ attributes.size }}`, `{% if orders_count > 0 %}`.
python-liquid renders without touching Python objects beyond the plain values it is given,
and with limits on loops, output and nesting, so a template cannot run away. A template that
does not parse, or names a filter that does not exist, is refused when the campaign is
saved; a value the contact lacks renders empty, never an error mid-campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError

from smsvia.domain.errors import DomainError

MAX_TEMPLATE = 5_000  # characters


class InvalidTemplate(DomainError):
    """A template that does not parse (or uses a filter Liquid does not have)."""

    code = 21100


class _Sandbox(Environment):
    loop_iteration_limit = 1_000
    output_stream_limit = 20_000
    context_depth_limit = 30
    local_namespace_limit = 2_000
    block_nesting_limit = 30


_ENVIRONMENT = _Sandbox(autoescape=False)


@dataclass(frozen=True)
class Template:
    source: str
    _compiled: BoundTemplate
    personal: bool  # whether anything in it varies by recipient
    names: frozenset[str]  # the variables it reads (first_name, attributes, ...)

    def render(self, variables: Mapping[str, Any]) -> str:
        """The text for one recipient. Raises InvalidTemplate only for a value no filter can
        take (a division by zero); the caller skips that recipient with the reason."""
        if not self.personal:
            return self.source
        try:
            return self._compiled.render(**variables)
        except LiquidError as exc:
            raise InvalidTemplate(f"cannot render: {_first_line(exc)}") from exc


def parse_template(source: str, where: str) -> Template:
    """The template, checked: it parses, its filters exist, and it renders for a contact with
    no fields at all. InvalidTemplate names `where`."""
    if len(source) > MAX_TEMPLATE:
        raise InvalidTemplate(f"{where} is longer than {MAX_TEMPLATE} characters", field=where)
    try:
        compiled = _ENVIRONMENT.from_string(source)
        analysis = compiled.analyze()
        unknown = set(analysis.filters) - set(_ENVIRONMENT.filters)
    except LiquidError as exc:
        raise InvalidTemplate(f"{where} does not parse: {_first_line(exc)}", field=where) from exc
    if unknown:
        raise InvalidTemplate(
            f"{where} uses unknown filter(s): {', '.join(sorted(unknown))}", field=where
        )
    template = Template(
        source, compiled, "{{" in source or "{%" in source, frozenset(analysis.variables)
    )
    try:
        template.render(variables_of({}))
    except InvalidTemplate as exc:
        raise InvalidTemplate(f"{where}: {exc.message}", field=where) from exc
    return template


def variables_of(contact: Mapping[str, Any]) -> dict[str, Any]:
    """What a template may name: the contact's fields, attributes under `attributes`.
    Money is given as text with two decimals, as a shop prints it."""
    spent = contact.get("total_spent")
    return {
        "first_name": contact.get("first_name"),
        "last_name": contact.get("last_name"),
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "tags": list(contact.get("tags") or ()),
        "attributes": dict(contact.get("attributes") or {}),
        "country": contact.get("country"),
        "state": contact.get("state"),
        "time_zone": contact.get("time_zone"),
        "orders_count": contact.get("orders_count") or 0,
        "total_spent": f"{Decimal(spent):.2f}" if spent is not None else "0.00",
    }


def _first_line(exc: LiquidError) -> str:
    return str(exc).splitlines()[0]
