"""The media of MMS: each picture, GIF or video a message carried, as it was sent (after
re-encoding) or, for an inbound MMS, as the handset sent it. The bytes live in files under
the data directory, named by their SHA-256 (store/media.py); a row says whose they are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsvia.store.base import Base
from smsvia.store.types import BigId


class Media(Base):
    """One medium of one message (Twilio's Media subresource)."""

    __tablename__ = "media"
    __table_args__ = (Index("ix_media_message_id_position", "message_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)  # ME…
    account_id: Mapped[int] = mapped_column(BigId)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the order it was sent in, from 0
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)  # bytes, as sent
    sha256: Mapped[str] = mapped_column(String(64))  # names the file
    source_url: Mapped[str | None] = mapped_column(Text)  # the MediaUrl it came from
    date_created: Mapped[datetime]
