"""Connectors (SMSC, RBM and MMSC endpoints) and the numbers accounts send from."""

from __future__ import annotations

import functools
import json
import re
import ssl
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from smsvia.channels.mm7 import DEFAULT_MAX_BYTES
from smsvia.domain.errors import Conflict, InvalidParameter, NotFound
from smsvia.domain.phone import parse_phone
from smsvia.domain.receipt_ids import ReceiptIds
from smsvia.services.clock import Clock, utcnow
from smsvia.store import accounts as account_queries
from smsvia.store import senders as queries
from smsvia.store.context import Store
from smsvia.store.models import Connector, Number

MAX_ENQUIRE_LINK_INTERVAL = 3600
MAX_RESPONSE_TIMEOUT = 600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# GSM 03.40 alphanumeric sender: up to 11 characters, at least one letter.
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ._&-]{1,11}$")


@dataclass(frozen=True, slots=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    tps: int = 50
    window: int = 10
    tls: bool = False
    system_type: str = ""
    # How the SMSC writes ids in receipts (domain/receipt_ids.py); Kannel's msg-id-type.
    receipt_ids: ReceiptIds = ReceiptIds.AUTO
    # Seconds of silence from the SMSC before an enquire_link; Kannel's enquire-link-interval.
    enquire_link_interval: int = 30
    # Seconds to wait for a submit_sm_resp; after that the part is ambiguous (never sent
    # again; an answer that still comes settles it). Kannel's wait-ack.
    response_timeout: int = 30
    # PEM file of the CAs that vouch for the SMSC's certificate instead of the system's trust
    # store (a private CA, a self-signed SMSC); Kannel's ssl-trusted-ca-file. Absolute.
    tls_ca: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "system_id": self.system_id,
            "tps": self.tps,
            "window": self.window,
            "tls": self.tls,
            "system_type": self.system_type,
            "receipt_ids": str(self.receipt_ids),
            "enquire_link_interval": self.enquire_link_interval,
            "response_timeout": self.response_timeout,
            "tls_ca": self.tls_ca,
        }

    @classmethod
    def of(cls, values: dict[str, Any]) -> SmppSettings:
        """From a connector's stored settings (older ones lack the newer fields)."""
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class RcsSettings:
    base_url: str
    agent_id: str
    credentials_file: str | None = None  # Google service account key; none for a simulator
    timeout: float = 10.0  # seconds for one request to RBM

    def as_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "agent_id": self.agent_id,
            "credentials_file": self.credentials_file,
            "timeout": self.timeout,
        }


@dataclass(frozen=True, slots=True)
class Mm7Settings:
    url: str
    vasp_id: str
    vas_id: str = ""
    username: str | None = None  # Basic auth; the password is kept sealed
    max_bytes: int = DEFAULT_MAX_BYTES  # the whole MMS as sent
    timeout: float = 30.0  # seconds for one request to the MMSC

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "vasp_id": self.vasp_id,
            "vas_id": self.vas_id,
            "username": self.username,
            "max_bytes": self.max_bytes,
            "timeout": self.timeout,
        }

    @classmethod
    def of(cls, values: dict[str, Any]) -> Mm7Settings:
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    name: str
    kind: str
    settings: dict[str, Any]


async def add_smpp_connector(
    store: Store, name: str, settings: SmppSettings, password: str, *, clock: Clock = utcnow
) -> ConnectorInfo:
    _check_name(name)
    _check_smpp(settings, password)
    return await _insert(store, name, "smpp", settings.as_json(), password, clock())


async def update_smpp_connector(
    store: Store, name: str, changes: dict[str, Any], password: str | None = None
) -> ConnectorInfo:
    """Change some of an SMPP connector's settings (and its password, when given).

    Running workers take a new `receipt_ids` within seconds; connection settings (the
    enquire_link interval among them) when they restart."""
    async with store.db.transaction() as session:
        connector = await queries.connector_by_name(session, name)
        if connector is None or connector.kind != "smpp":
            raise NotFound(f"SMPP connector '{name}' not found")
        settings = replace(SmppSettings.of(connector.settings), **changes)
        current = password if password is not None else await connector_password(store, connector)
        _check_smpp(settings, current)
        connector.settings = settings.as_json()
        if password is not None:
            connector.secret = store.cipher.seal(password, f"connector:{name}")
        return _info(connector)


async def add_rcs_connector(
    store: Store,
    name: str,
    settings: RcsSettings,
    client_token: str | None,
    *,
    clock: Clock = utcnow,
) -> ConnectorInfo:
    """An RBM platform (or simulator); `client_token` checks the events it pushes to us."""
    _check_name(name)
    _check_http_url(settings.base_url, "base_url")
    if not 0 < settings.timeout <= 120:
        raise InvalidParameter("--timeout must be between 0 and 120 s", code=21100, field="timeout")
    if not settings.agent_id.strip():
        raise InvalidParameter("--agent-id is required", code=21100, field="agent_id")
    if settings.credentials_file is not None:
        _check_credentials(settings.credentials_file)
    return await _insert(store, name, "rcs", settings.as_json(), client_token, clock())


async def add_mm7_connector(
    store: Store, name: str, settings: Mm7Settings, password: str | None, *, clock: Clock = utcnow
) -> ConnectorInfo:
    """An MMS relay (MMSC) spoken to by MM7; it posts reports and inbound MMS to
    $SMSVIA_PUBLIC_URL/mm7/NAME."""
    _check_name(name)
    _check_http_url(settings.url, "url")
    if not settings.vasp_id.strip():
        raise InvalidParameter("--vasp-id is required", code=21100, field="vasp_id")
    if not 10_000 <= settings.max_bytes <= 5 * 1024 * 1024:
        raise InvalidParameter(
            "--max-bytes must be between 10,000 and 5,242,880", code=21100, field="max_bytes"
        )
    if not 0 < settings.timeout <= 120:
        raise InvalidParameter("--timeout must be between 0 and 120 s", code=21100, field="timeout")
    if password is not None and settings.username is None:
        raise InvalidParameter("--password needs --username", code=21100, field="password")
    return await _insert(store, name, "mm7", settings.as_json(), password, clock())


async def list_connectors(store: Store) -> list[ConnectorInfo]:
    async with store.db.sessions() as session:
        return [_info(c) for c in await queries.all_connectors(session)]


async def connector_password(store: Store, connector: Connector) -> str:
    if connector.secret is None:
        return ""
    return store.cipher.open(connector.secret, f"connector:{connector.name}")


async def add_number(
    store: Store,
    account_sid: str,
    phone_number: str,
    *,
    connector: str,
    rcs_connector: str | None = None,
    mms_connector: str | None = None,
    sms_url: str | None = None,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> str:
    """Let the account send from `phone_number` (E.164 or alphanumeric) through `connector`."""
    sender = normalize_sender(phone_number, default_region)
    async with store.db.transaction() as session:
        account = await account_queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        sms = await queries.connector_by_name(session, connector)
        if sms is None:
            raise NotFound(f"Connector '{connector}' not found")
        rcs = None
        if rcs_connector is not None:
            rcs = await queries.connector_by_name(session, rcs_connector)
            if rcs is None or rcs.kind != "rcs":
                raise NotFound(f"RCS connector '{rcs_connector}' not found")
        mms = None
        if mms_connector is not None:
            mms = await queries.connector_by_name(session, mms_connector)
            if mms is None or mms.kind != "mm7":
                raise NotFound(f"MM7 connector '{mms_connector}' not found")
        if await queries.number_by_phone(session, sender) is not None:
            raise Conflict(f"{sender} is already a sender")
        session.add(
            Number(
                account_id=account.id,
                phone_number=sender,
                connector_id=sms.id,
                rcs_connector_id=rcs.id if rcs else None,
                mms_connector_id=mms.id if mms else None,
                sms_url=sms_url,
                date_created=clock(),
            )
        )
    return sender


@functools.lru_cache(maxsize=4096)
def normalize_sender(value: str, default_region: str = "US") -> str:
    """E.164 for a number; alphanumeric sender IDs as they are."""
    text = value.strip()
    if _ALPHANUMERIC.match(text):
        return text
    return parse_phone(text, default_region, strict=False).e164


async def _insert(
    store: Store, name: str, kind: str, settings: dict[str, Any], secret: str | None, now: Any
) -> ConnectorInfo:
    connector = Connector(
        name=name,
        kind=kind,
        settings=settings,
        secret=store.cipher.seal(secret, f"connector:{name}") if secret else None,
        date_created=now,
    )
    try:
        async with store.db.transaction() as session:
            session.add(connector)
    except IntegrityError as exc:
        raise Conflict(f"a connector named '{name}' already exists") from exc
    return _info(connector)


def _check_credentials(path: str) -> None:
    try:
        key = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidParameter(
            f"cannot read the service account key {path}: {exc}", code=21100, field="credentials"
        ) from exc
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise InvalidParameter(
            f"{path} is not a Google service account key (type service_account)",
            code=21100,
            field="credentials",
        )


def _check_seconds(value: int, most: int, field: str, what: str) -> None:
    if not 1 <= value <= most:
        raise InvalidParameter(
            f"the {what} must be 1 to {most} seconds, not {value}", code=21100, field=field
        )


def _check_smpp(settings: SmppSettings, password: str) -> None:
    if not 1 <= settings.port <= 65535:
        raise InvalidParameter(f"port {settings.port} is not a TCP port", code=21100, field="port")
    if settings.tps < 1 or settings.window < 1:
        raise InvalidParameter("tps and window must be at least 1", code=21100, field="tps")
    if len(settings.system_id) > 15 or len(password) > 8:
        # SMPP 3.4 §4.1.1: system_id C-octet string of 16, password of 9 (terminator included).
        raise InvalidParameter(
            "SMPP 3.4 allows a system_id of at most 15 characters and a password of at most 8",
            code=21100,
            field="system_id",
        )
    _check_seconds(
        settings.enquire_link_interval,
        MAX_ENQUIRE_LINK_INTERVAL,
        "enquire_link_interval",
        "enquire_link interval",
    )
    _check_seconds(
        settings.response_timeout, MAX_RESPONSE_TIMEOUT, "response_timeout", "response timeout"
    )
    if settings.receipt_ids not in tuple(ReceiptIds):
        raise InvalidParameter(
            f"receipt ids must be one of {', '.join(ReceiptIds)}, not {settings.receipt_ids!r}",
            code=21100,
            field="receipt_ids",
        )
    if settings.tls_ca is not None:
        _check_tls_ca(settings)


def _check_tls_ca(settings: SmppSettings) -> None:
    """The CA file must be PEM certificates, read now rather than at the first bind."""
    if not settings.tls:
        raise InvalidParameter("--tls-ca needs --tls", code=21100, field="tls_ca")
    try:
        ssl.create_default_context(cafile=settings.tls_ca)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise InvalidParameter(
            f"--tls-ca {settings.tls_ca}: not a readable PEM file of CA certificates ({exc})",
            code=21100,
            field="tls_ca",
        ) from exc


def _check_http_url(url: str, field: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameter(
            f"--{field.replace('_', '-')} must be an http(s) URL, not {url!r}",
            code=21100,
            field=field,
        )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidParameter(
            f"connector name '{name}': letters, digits, '.', '_' and '-', at most 64",
            code=21100,
            field="name",
        )


def _info(connector: Connector) -> ConnectorInfo:
    return ConnectorInfo(connector.name, connector.kind, dict(connector.settings))
