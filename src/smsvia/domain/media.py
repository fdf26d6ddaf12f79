"""What an MMS may carry, and making it fit: each medium's real type read from its bytes,
and pictures re-encoded (Pillow) until the whole message is under the connector's limit.

Pictures shrink: JPEG and PNG become a JPEG at falling quality, then smaller; an animated
GIF keeps its animation at smaller sizes while it can, else becomes its first frame. Video,
audio and the rest go as they are, or not at all. No I/O: bytes in, bytes out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageSequence, UnidentifiedImageError

from smsvia.domain.errors import DomainError

MAX_FETCH = 5 * 1024 * 1024  # bytes of one medium, as fetched
# Room in the message for the SOAP, the text and the multipart headers.
ENVELOPE_BYTES = 4 * 1024
MAX_PIXELS = 40_000_000  # more is a decompression bomb, not a product picture

# Error codes, as Twilio's: the media URL could not be fetched; a type no carrier takes;
# bigger than the carrier takes, even re-encoded.
FETCH_FAILED = 11200
UNSUPPORTED_TYPE = 12300
TOO_LARGE = 30019

IMAGES = ("image/jpeg", "image/png", "image/gif")
# What carriers deliver by MMS, past pictures.
PASSED_THROUGH = (
    "video/mp4",
    "video/3gpp",
    "audio/mpeg",
    "audio/mp4",
    "audio/amr",
    "text/vcard",
    "text/x-vcard",
    "application/pdf",
)
# Pictures carriers may not take as they are, but that become a JPEG.
CONVERTED = ("image/webp", "image/bmp")

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"#!AMR", "audio/amr"),
    (b"ID3", "audio/mpeg"),
    (b"%PDF", "application/pdf"),
    (b"BEGIN:VCARD", "text/vcard"),
)

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class MediaRefused(DomainError):
    """A medium that cannot go by MMS; `code` says why (FETCH_FAILED, UNSUPPORTED_TYPE,
    TOO_LARGE)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Medium:
    content_type: str
    data: bytes
    source_url: str | None = None
    note: str = ""  # what was done to it, for the timeline

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes, declared: str = "") -> str:
    """The type the bytes are, whatever the server said; the declared type when they do
    not say."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "audio/mp4" if brand.startswith(b"M4A") else "video/mp4"
    if data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return declared.split(";", 1)[0].strip().lower() or "application/octet-stream"


def check_type(medium: Medium) -> Medium:
    """The medium as a type carriers take, or MediaRefused (UNSUPPORTED_TYPE)."""
    kind = sniff(medium.data, medium.content_type)
    if kind in IMAGES or kind in PASSED_THROUGH or kind in CONVERTED:
        return Medium(kind, medium.data, medium.source_url, medium.note)
    raise MediaRefused(
        f"{medium.source_url or 'a medium'} is {kind}, which MMS does not carry",
        code=UNSUPPORTED_TYPE,
    )


def fit(media: list[Medium], limit: int, text_bytes: int = 0) -> list[Medium]:
    """The media re-encoded so the whole message stays within `limit` bytes.

    What cannot shrink (video, audio, documents) takes its room first; the pictures share
    the rest equally. MediaRefused (TOO_LARGE) when it cannot be done."""
    room = limit - ENVELOPE_BYTES - text_bytes
    checked = [check_type(medium) for medium in media]
    fixed = [m for m in checked if m.content_type not in IMAGES + CONVERTED]
    room -= sum(m.size for m in fixed)
    if room < 0 or (room == 0 and len(fixed) < len(checked)):
        raise MediaRefused(
            f"the media are {sum(m.size for m in fixed):,} bytes; this connector takes "
            f"{limit:,} in all",
            code=TOO_LARGE,
        )
    pictures = len(checked) - len(fixed)
    share = room // pictures if pictures else room
    return [_fit_picture(m, share) if m.content_type in IMAGES + CONVERTED else m for m in checked]


def _fit_picture(medium: Medium, budget: int) -> Medium:
    if medium.size <= budget and medium.content_type in IMAGES:
        return medium
    try:
        with Image.open(io.BytesIO(medium.data)) as image:
            image.load()
            if getattr(image, "is_animated", False) and medium.content_type == "image/gif":
                animated = _smaller_gif(image, budget)
                if animated is not None:
                    return _noted(medium, "image/gif", animated, "animation kept, resized")
                image.seek(0)
                first = image.convert("RGBA")
                return _noted(medium, "image/jpeg", _jpeg_within(first, budget), "first frame")
            return _noted(medium, "image/jpeg", _jpeg_within(image, budget), "re-encoded")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise MediaRefused(
            f"{medium.source_url or 'a picture'} is not a readable picture ({exc})",
            code=UNSUPPORTED_TYPE,
        ) from exc


def _noted(medium: Medium, kind: str, data: bytes, how: str) -> Medium:
    note = f"{medium.content_type} {medium.size:,} B -> {kind} {len(data):,} B ({how})"
    return Medium(kind, data, medium.source_url, note)


def _jpeg_within(image: Image.Image, budget: int) -> bytes:
    """The picture as a JPEG within `budget` bytes: lower quality first, then smaller."""
    flat = _flatten(image)
    flat.thumbnail((1600, 1600))
    while min(flat.size) >= 16:
        for quality in (85, 70, 55, 40):
            out = io.BytesIO()
            flat.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= budget:
                return out.getvalue()
        flat = flat.resize((max(flat.width * 3 // 4, 1), max(flat.height * 3 // 4, 1)))
    raise MediaRefused(f"a picture does not fit in {budget:,} bytes", code=TOO_LARGE)


def _smaller_gif(image: Image.Image, budget: int) -> bytes | None:
    """The animation, scaled down step by step until it fits; None if it never does."""
    frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    durations = [frame.info.get("duration", 100) for frame in frames]
    scale = 1.0
    for _ in range(6):
        size = (max(int(image.width * scale), 1), max(int(image.height * scale), 1))
        resized = [frame.convert("RGBA").resize(size) for frame in frames]
        out = io.BytesIO()
        resized[0].save(
            out,
            "GIF",
            save_all=True,
            append_images=resized[1:],
            duration=durations,
            loop=image.info.get("loop", 0),
            optimize=True,
            disposal=2,
        )
        if out.tell() <= budget:
            return out.getvalue()
        scale *= 0.7
        if min(size) < 32:
            break
    return None


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (JPEG has none)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")
