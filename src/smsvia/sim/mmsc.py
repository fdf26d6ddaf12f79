"""An MMS relay (MMSC) simulator speaking MM7: it takes SubmitReqs, answers them, reports
delivery to the sender's URL, and sends handsets' messages in (DeliverReq).

What happens to a message depends on the recipient's number:

* ending 44: refused with MM7 status 3002 (message rejected)
* ending 33: accepted, then reported `Rejected` (the handset refused it)
* ending 88: never answered (the sender's request times out)
* otherwise: accepted, and reported `Retrieved` after `delivered_after`

Reports and inbound messages go to `vasp_url` and are retried until answered with status
1000. Every accepted message is recorded with its media, so tests and the demo can look.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import Response

from smsvia.channels.http import Unanswered, Unreached
from smsvia.domain import mm7
from smsvia.sim.embedded import HttpSimulator

log = logging.getLogger(__name__)


@dataclass
class MmscBehaviour:
    vasp_url: str | None = None  # where reports and inbound messages go
    username: str | None = None  # Basic auth the relay demands, when set
    password: str | None = None
    delivered_after: float = 0.05  # seconds
    retry: float = 0.2  # first retry of an unanswered report, doubling
    hang: float = 60.0  # how long a number ending 88 waits for nothing


@dataclass
class MmscRecords:
    accepted: list[mm7.Submit] = field(default_factory=list)
    refused: int = 0
    reports: list[mm7.DeliveryReport] = field(default_factory=list)  # the answered ones
    delivered_in: int = 0  # inbound messages the sender answered
    authorizations: list[str] = field(default_factory=list)


def recipient_kind(number: str) -> str:
    """refused | rejected | silent | delivered, by the rules in the module doc."""
    for ending, kind in (("44", "refused"), ("33", "rejected"), ("88", "silent")):
        if number.endswith(ending):
            return kind
    return "delivered"


class MmscSimulator(HttpSimulator):
    def __init__(self, behaviour: MmscBehaviour | None = None) -> None:
        super().__init__()
        self.behaviour = behaviour or MmscBehaviour()
        self.records = MmscRecords()
        self._ids = itertools.count(7_000_001)
        if self.behaviour.username is not None:
            self.login = (self.behaviour.username, self.behaviour.password or "")
        self.app = self._build_app()

    @property
    def url(self) -> str:
        """The URL to give `smsvia connectors add mm7 … --url`."""
        return f"http://127.0.0.1:{self.port}/mm7"

    async def handset_sends(
        self,
        sender: str,
        recipient: str,
        text: str,
        attachments: tuple[mm7.Attachment, ...] = (),
        subject: str = "",
    ) -> bool:
        """A handset's MMS to one of the sender's numbers (DeliverReq); True once answered."""
        deliver = mm7.Deliver(
            mm7.new_transaction_id(), sender, recipient, subject, text, attachments
        )
        if await self._post(*mm7.deliver_request(deliver), answer="DeliverRsp"):
            self.records.delivered_in += 1
            return True
        return False

    # -- HTTP surface ------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="smsvia MMSC simulator", docs_url=None, redoc_url=None)

        @app.post("/mm7")
        async def submit(request: Request) -> Response:
            authorization = request.headers.get("authorization", "")
            if authorization:
                self.records.authorizations.append(authorization)
            if not self._authorized(authorization):
                return Response(status_code=401, headers={"WWW-Authenticate": "Basic"})
            body = await request.body()
            try:
                submit = mm7.parse_submit(body, request.headers.get("content-type", ""))
            except mm7.Malformed as exc:
                self.records.refused += 1
                return _soap(mm7.fault("", mm7.Mm7Status.FORMAT_CORRUPT, str(exc)), 500)
            kind = recipient_kind(submit.recipient)
            if kind == "silent":
                await asyncio.sleep(self.behaviour.hang)
                return Response(status_code=504)
            if kind == "refused":
                self.records.refused += 1
                fault = mm7.fault(submit.transaction_id, mm7.Mm7Status.MESSAGE_REJECTED, "Rejected")
                return _soap(fault, 500)
            message_id = f"{next(self._ids)}"
            self.records.accepted.append(submit)
            if submit.delivery_report:
                status = "Rejected" if kind == "rejected" else "Retrieved"
                report = mm7.DeliveryReport(
                    mm7.new_transaction_id(),
                    message_id,
                    submit.recipient,
                    submit.sender,
                    status,
                )
                self._later(self.behaviour.delivered_after, lambda: self._report(report))
            return _soap(mm7.answer("SubmitRsp", submit.transaction_id, message_id=message_id))

        return app

    def _authorized(self, authorization: str) -> bool:
        if self.behaviour.username is None:
            return True
        expected = f"{self.behaviour.username}:{self.behaviour.password or ''}".encode()
        return authorization == "Basic " + base64.b64encode(expected).decode()

    # -- reports and inbound messages --------------------------------------------------------

    async def _report(self, report: mm7.DeliveryReport) -> None:
        if await self._post(*mm7.delivery_report_request(report), answer="DeliveryReportRsp"):
            self.records.reports.append(report)

    async def _post(self, body: bytes, content_type: str, *, answer: str) -> bool:
        """POST to the sender until it answers with status 1000 (relays retry)."""
        url = self.behaviour.vasp_url
        if url is None or self._http is None:
            return False
        delay = self.behaviour.retry
        for _ in range(12):
            try:
                response = await self._http.request(
                    "POST",
                    url,
                    content=body,
                    headers={"Content-Type": content_type, "SOAPAction": '""'},
                )
                read = mm7.parse_answer(response.body, response.content_type, answer)
                if response.status == 200 and read.status == mm7.Mm7Status.SUCCESS:
                    return True
                log.info("MMSC simulator: %s answered %s (%s)", url, read.status, read.text)
            except (Unreached, Unanswered) as exc:
                log.info("MMSC simulator: %s unreachable (%s); retrying", url, exc)
            except mm7.Malformed as exc:
                log.info("MMSC simulator: %s answered garbage (%s); retrying", url, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        log.warning("MMSC simulator: gave up posting to %s", url)
        return False


def _soap(body: bytes, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type="text/xml; charset=utf-8")
