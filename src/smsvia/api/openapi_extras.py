"""What FastAPI cannot see for itself, told to the OpenAPI document: the Twilio-style
operations read their form bodies and query strings by hand (as Twilio names them: To,
From, MediaUrl repeated...); some operations answer CSV, XML or media bytes besides JSON.
The fuzzing test holds every answer to what the document says. Also the shape of Twilio's
one-page lists."""

from __future__ import annotations

from typing import Any

_TEXT = {"type": "string"}
_NUMBER = {"type": "integer"}
_FLAG = {"type": "boolean"}

SEND_FORM = {
    "To": _TEXT,
    "From": _TEXT,
    "MessagingServiceSid": _TEXT,
    "Body": _TEXT,
    "MediaUrl": {"type": "array", "items": _TEXT, "maxItems": 10},
    "StatusCallback": _TEXT,
    "ValidityPeriod": _NUMBER,
    "SendAt": {"type": "string", "format": "date-time"},
    "ScheduleType": {"type": "string", "enum": ["fixed"]},
    "SmartEncoded": _FLAG,
    "ShortenUrls": _FLAG,
    "Category": {"type": "string", "enum": ["transactional", "marketing"]},
}
UPDATE_FORM = {"Status": {"type": "string", "enum": ["canceled"]}, "Body": _TEXT}
LIST_QUERY = {
    "To": _TEXT,
    "From": _TEXT,
    "DateSent": {"type": "string", "format": "date"},
    "PageSize": _NUMBER,
    "Page": _NUMBER,
    "PageToken": _TEXT,
}


def form_body(fields: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """`openapi_extra` for an operation that reads a form-encoded body."""
    schema: dict[str, Any] = {"type": "object", "properties": fields}
    if required:
        schema["required"] = list(required)
    arrays = {
        name: {"style": "form", "explode": True}
        for name, f in fields.items()
        if f is not None and f.get("type") == "array"
    }
    return {
        "requestBody": {
            "required": bool(required),
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema, "encoding": arrays}
            },
        }
    }


def query(fields: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for an operation that reads these query parameters."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in fields.items()
        ]
    }


def answers(*content_types: str, status: int = 200, description: str = "") -> dict[int | str, Any]:
    """`responses` for an operation that may answer `status` in these content types too."""
    return {
        status: {
            "description": description or "Success",
            "content": {
                kind: {"schema": {"type": "object" if kind.endswith("json") else "string"}}
                for kind in content_types
            },
        }
    }


CSV = answers("application/json", "text/csv", description="JSON, or CSV with ?format=csv")
MM7_ANSWERS: dict[int | str, Any] = {
    status: answers("text/xml", status=status, description=description)[status]
    for status, description in (
        (200, "DeliveryReportRsp or DeliverRsp: kept"),
        (400, "A fault: malformed MM7 (2007)"),
        (401, "A fault: the relay did not sign in (4001)"),
        (404, "A fault: no such MM7 connector"),
    )
}


def one_page(name: str, items: list[dict[str, Any]], uri: str) -> dict[str, Any]:
    """A Twilio list resource that fits on one page (a message's media, an account's keys),
    with the paging fields the SDKs read."""
    size = max(len(items), 50)
    first = f"{uri}?PageSize={size}&Page=0"
    return {
        name: items,
        "page": 0,
        "page_size": size,
        "start": 0,
        "end": max(len(items) - 1, 0),
        "first_page_uri": first,
        "next_page_uri": None,
        "previous_page_uri": None,
        "uri": first,
    }
