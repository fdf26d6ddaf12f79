"""MMS channel: MM7 towards an MMS relay (MMSC), behind our own small interface.

`send` and `close`; the rest of the server sees an `MmsResult`, never SOAP. What an answer
means for the message:

* status 1000/1100 with a MessageID: the relay has it; its delivery report names that id.
* a transient status (3000, 3001, 4005, 4006), HTTP 5xx without a status, or no connection:
  nothing was taken; try again later.
* any other status (or 401/403): the relay refuses this message; the sender falls back.
* the request went out and no readable answer came back (a timeout, a dropped connection,
  garbage): the relay may have it, so it is never sent again blindly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from smsvia.channels.http import Answer, HttpPool, Unanswered, Unreached
from smsvia.domain import mm7

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 600 * 1024  # what most US carriers take in one MMS


@dataclass(frozen=True, slots=True)
class Mm7Config:
    url: str
    vasp_id: str
    vas_id: str = ""
    username: str | None = None
    password: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES  # the whole message as sent
    timeout: float = 30.0  # seconds for one request
    concurrency: int = 8  # requests in flight at once


class MmsOutcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # for good: send it another way
    RETRY = "retry"  # not taken for now
    AMBIGUOUS = "ambiguous"  # it may have it: never resend blindly


@dataclass(frozen=True, slots=True)
class MmsResult:
    outcome: MmsOutcome
    message_id: str | None = None
    status: int | None = None  # the MM7 status code, when there was one
    detail: str = ""


class Mm7Channel:
    def __init__(self, name: str, config: Mm7Config):
        self.name = name
        self.config = config
        login = (config.username, config.password or "") if config.username is not None else None
        self._http = HttpPool(concurrency=config.concurrency, timeout=config.timeout, login=login)

    async def send(
        self,
        sender: str,
        recipient: str,
        text: str,
        attachments: tuple[mm7.Attachment, ...],
    ) -> MmsResult:
        """SubmitReq one message to one recipient, with a delivery report asked for."""
        submit = mm7.Submit(
            mm7.new_transaction_id(),
            self.config.vasp_id,
            self.config.vas_id,
            sender,
            recipient,
            text,
            attachments,
        )
        body, content_type = mm7.submit_request(submit)
        headers = {"Content-Type": content_type, "SOAPAction": '""'}
        try:
            response = await self._http.request(
                "POST", self.config.url, content=body, headers=headers
            )
        except Unreached as exc:
            return MmsResult(MmsOutcome.RETRY, detail=f"MMSC unreachable: {exc}")
        except Unanswered as exc:
            return MmsResult(
                MmsOutcome.AMBIGUOUS, detail=f"MMSC did not answer ({exc}); it may have the message"
            )
        return self._read(response)

    def _read(self, response: Answer) -> MmsResult:
        code = response.status
        if code in (401, 403):
            return MmsResult(MmsOutcome.REFUSED, detail=f"MMSC refused our credentials ({code})")
        try:
            answer = mm7.parse_answer(response.body, response.content_type)
        except mm7.Malformed as exc:
            if code >= 500 and code != 504:
                return MmsResult(MmsOutcome.RETRY, detail=f"MMSC answered HTTP {code}")
            return MmsResult(
                MmsOutcome.AMBIGUOUS,
                detail=f"MMSC answered HTTP {code} with no MM7 answer ({exc}); "
                "it may have the message",
            )
        detail = f"MM7 {answer.status} {answer.text}".strip()
        if answer.accepted:
            return MmsResult(MmsOutcome.ACCEPTED, answer.message_id, answer.status, detail)
        if answer.status in mm7.TRANSIENT:
            return MmsResult(MmsOutcome.RETRY, status=answer.status, detail=detail)
        return MmsResult(MmsOutcome.REFUSED, status=answer.status, detail=detail)

    async def close(self) -> None:
        await self._http.close()
