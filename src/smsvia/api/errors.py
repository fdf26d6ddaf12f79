"""Domain errors as Twilio's JSON error body: {code, message, more_info, status}."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from smsvia.domain.errors import AuthenticationFailed, DomainError, TooManyRequests

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Twilio's error body."""

    code: int
    message: str
    more_info: str
    status: int


# What any API operation may answer besides success, as the OpenAPI document says it.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "A parameter is missing or not valid"),
        (401, "No credentials, or wrong ones"),
        (403, "The credentials may not do this"),
        (404, "No such resource in this account"),
        (409, "The resource is not in a state that allows it"),
        (429, "Too many requests; retry after Retry-After seconds"),
    )
}


def error_body(code: int, message: str, status: int) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {}
        if isinstance(exc, AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Basic realm="smsvia"'
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return JSONResponse(
            error_body(exc.code, exc.message, exc.http_status),
            status_code=exc.http_status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse(error_body(20001, message, 400), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = 20404 if exc.status_code == 404 else exc.status_code * 100
        return JSONResponse(
            error_body(code, str(exc.detail), exc.status_code), status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body(20500, "Internal server error", 500), status_code=500)
