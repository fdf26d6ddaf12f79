"""Every operation of /openapi.json fuzzed with schemathesis, on both databases, signed in as
an account with a sender: no 5xx, and every answer is one the document describes (status,
content type, body schema)."""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as generic
from schemathesis.specs.openapi import checks as openapi

CHECKS = [
    generic.not_a_server_error,
    openapi.status_code_conformance,
    openapi.content_type_conformance,
    openapi.response_schema_conformance,
]
EXAMPLES = 40  # per operation and database: enough for the shapes, quick enough for CI


def fuzzer(operation, server: str, shop):
    """A Hypothesis test that calls `operation` with generated requests; the first failure
    is shrunk and reported."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy())
    def fuzz(case):
        if "account_sid" in (case.path_parameters or {}):
            case.path_parameters["account_sid"] = shop.sid  # deeper than a 403
        response = case.call(base_url=server, auth=(shop.sid, shop.token))
        case.validate_response(response, checks=CHECKS)

    return fuzz


def test_no_operation_answers_a_5xx_or_off_its_schema(server, backend):
    shop = backend.tenant()
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    for loaded in schema.get_all_operations():
        fuzzer(loaded.ok(), server, shop)()
    assert httpx.get(f"{server}/healthz").status_code == 200
