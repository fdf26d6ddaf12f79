"""Media made to fit an MMS: real types read from the bytes, pictures re-encoded under the
limit, animated GIFs kept animated where they fit, what cannot fit refused with its code."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from smsvia.domain import media
from smsvia.domain.media import MediaRefused, Medium


def noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = random.Random(width * height + seed)
    return Image.frombytes(mode, (width, height), rng.randbytes(width * height * len(mode)))


def encoded(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def gif(frames: int, size: int) -> bytes:
    images = [noise(size, size, seed=n).convert("P") for n in range(frames)]
    return encoded(images[0], "GIF", save_all=True, append_images=images[1:], duration=80)


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize(
    ("data", "declared", "kind"),
    [
        (b"\xff\xd8\xff\xe0rest", "text/html", "image/jpeg"),
        (b"GIF89a...", "", "image/gif"),
        (b"\x00\x00\x00\x18ftypmp42", "application/octet-stream", "video/mp4"),
        (b"\x00\x00\x00\x18ftyp3gp4", "", "video/3gpp"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "", "image/webp"),
        (b"plain words", "text/plain; charset=utf-8", "text/plain"),
    ],
)
def test_the_bytes_say_what_they_are(data, declared, kind):
    assert media.sniff(data, declared) == kind


def test_a_large_photo_is_re_encoded_under_the_limit():
    photo = encoded(noise(3000, 2000), "JPEG", quality=95)
    assert len(photo) > media.MAX_FETCH // 2
    [fitted] = media.fit([Medium("image/jpeg", photo, "https://shop.example/big.jpg")], 300_000)
    assert fitted.content_type == "image/jpeg"
    assert fitted.size <= 300_000 - media.ENVELOPE_BYTES
    assert opened(fitted.data).format == "JPEG"
    assert "re-encoded" in fitted.note


def test_what_fits_goes_as_it_is():
    png = encoded(noise(64, 64), "PNG")
    [same] = media.fit([Medium("image/png", png)], 600_000)
    assert same.data == png and same.note == ""


def test_a_transparent_png_becomes_a_jpeg_on_white():
    picture = noise(1200, 1200, "RGBA")
    [fitted] = media.fit([Medium("image/png", encoded(picture, "PNG"))], 150_000)
    assert fitted.content_type == "image/jpeg" and opened(fitted.data).mode == "RGB"


def test_an_animated_gif_over_the_limit_stays_animated():
    animation = gif(frames=6, size=400)
    assert len(animation) > 200_000
    [fitted] = media.fit([Medium("image/gif", animation)], 200_000)
    assert fitted.content_type == "image/gif" and fitted.size <= 200_000
    assert opened(fitted.data).n_frames == 6
    assert "animation kept" in fitted.note


def test_an_animation_that_cannot_fit_becomes_its_first_frame():
    animation = gif(frames=40, size=300)
    [fitted] = media.fit([Medium("image/gif", animation)], media.ENVELOPE_BYTES + 12_000)
    assert fitted.content_type == "image/jpeg" and "first frame" in fitted.note


def test_pictures_share_what_a_video_leaves():
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(200_000)
    photo = encoded(noise(1500, 1500), "JPEG", quality=95)
    fitted = media.fit([Medium("video/mp4", video), Medium("image/jpeg", photo)], 400_000)
    assert fitted[0].data == video
    assert sum(m.size for m in fitted) <= 400_000 - media.ENVELOPE_BYTES


def test_a_video_larger_than_the_limit_is_refused_as_too_large():
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(700_000)
    with pytest.raises(MediaRefused) as refused:
        media.fit([Medium("video/mp4", video)], 600_000)
    assert refused.value.code == media.TOO_LARGE


def test_a_type_no_carrier_takes_is_refused():
    with pytest.raises(MediaRefused) as refused:
        media.fit([Medium("text/html", b"<html>a page</html>", "https://shop.example/")], 600_000)
    assert refused.value.code == media.UNSUPPORTED_TYPE
    assert "text/html" in refused.value.message


def test_a_broken_picture_that_must_shrink_is_refused_as_unreadable():
    broken = b"\xff\xd8\xff\xe0" + bytes(500_000)
    with pytest.raises(MediaRefused) as refused:
        media.fit([Medium("image/jpeg", broken)], 100_000)
    assert refused.value.code == media.UNSUPPORTED_TYPE
