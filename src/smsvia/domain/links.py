"""Short links: finding the URLs in a text, the codes that replace them, the UTM parameters
a click's redirect adds, who is a link-preview fetcher rather than a person, and the Open
Graph tags of a page.

A text is shortened before it is priced, with placeholders as long as the real codes, so
its encoding and segments are already those of the text that goes out; each recipient's
own codes take the placeholders' places when the message is written (services/links.py).
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

CODE_LENGTH = 8  # 62**8 codes: a guess finds a link once in ~10**14 tries
ALPHABET = string.ascii_letters + string.digits
MAX_LINKS = 20  # per message; the placeholders number them with two digits
_PLACEHOLDER = "zZ0000"  # + two digits: eight characters, like a code, GSM-7 like a code
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""  # punctuation after a URL belongs to the sentence
# Fetchers that build the preview a messaging app shows under a link (not a person).
_PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebookcatalog|twitterbot|slackbot|slack-imgproxy|whatsapp|"
    r"telegrambot|applebot|discordbot|linkedinbot|skypeuripreview|pinterest|embedly|"
    r"googlemessages|google-pagerenderer|iframely|vkshare|redditbot|bingpreview|"
    r"\bbot\b|crawler|spider|preview",
    re.IGNORECASE,
)


def new_code() -> str:
    return new_codes(1)[0]


# A random byte maps to ALPHABET[byte % 62]; the bytes from 248 (4 x 62) up are dropped, so
# every character is equally likely.
_TO_ALPHABET = bytes(ord(ALPHABET[byte % len(ALPHABET)]) for byte in range(256))
_UNEVEN = bytes(range(256 - 256 % len(ALPHABET), 256))


def new_codes(count: int) -> list[str]:
    """`count` random codes from one read of the system's randomness (a campaign's batch
    needs a thousand at once)."""
    wanted = count * CODE_LENGTH
    text = ""
    while len(text) < wanted:
        short = wanted - len(text)
        raw = secrets.token_bytes(short + short // 16 + 8)  # about 3 % are dropped
        text += raw.translate(_TO_ALPHABET, _UNEVEN).decode("ascii")
    return [text[at : at + CODE_LENGTH] for at in range(0, wanted, CODE_LENGTH)]


def placeholder(position: int) -> str:
    """The stand-in for the code of a text's link number `position` (see the module doc)."""
    return f"{_PLACEHOLDER}{position:02d}"


def link_url(base: str, code: str) -> str:
    return f"{base.rstrip('/')}/l/{code}"


@dataclass
class Shortener:
    """Shortens the texts of one message: each distinct URL gets the next position, and
    the same URL twice keeps one code."""

    base: str
    urls: list[str]

    def __call__(self, text: str) -> str:
        if "://" not in text:  # most texts of a campaign: nothing to look for
            return text
        own = self.base.rstrip("/") + "/l/"
        pieces, last = [], 0
        for start, end in url_spans(text):
            url = text[start:end]
            if url.startswith(own):
                continue
            if url not in self.urls:
                if len(self.urls) >= MAX_LINKS:
                    continue
                self.urls.append(url)
            pieces += [text[last:start], link_url(self.base, placeholder(self.urls.index(url)))]
            last = end
        return "".join(pieces) + text[last:]


def url_spans(text: str) -> Iterable[tuple[int, int]]:
    """Where the http(s) URLs of a text start and end, trailing punctuation left out."""
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
                break  # a parenthesis that belongs to the URL, as in Wikipedia's
            end -= 1
        if end - start > len("https://"):
            yield start, end


def fill(text: str, codes: Sequence[str]) -> str:
    """The text with each placeholder link replaced by its real code."""
    for position, code in enumerate(codes):
        text = text.replace(f"/l/{placeholder(position)}", f"/l/{code}")
    return text


def with_utm(url: str, medium: str, campaign: str | None) -> str:
    """The destination with utm_source=smsvia, utm_medium and utm_campaign added; values
    the shop set itself are kept."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in query}
    extra = [("utm_source", "smsvia"), ("utm_medium", medium)]
    if campaign:
        extra.append(("utm_campaign", campaign))
    query += [(name, value) for name, value in extra if name not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_preview_fetcher(method: str, user_agent: str) -> bool:
    """A HEAD request, or an agent that fetches pages to draw a link's preview."""
    return method.upper() == "HEAD" or bool(_PREVIEW_AGENTS.search(user_agent or ""))


@dataclass(frozen=True)
class OpenGraph:
    title: str | None = None
    description: str | None = None
    image: str | None = None

    def __bool__(self) -> bool:
        return any((self.title, self.description, self.image))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            found = dict(attrs)
            key = (found.get("property") or found.get("name") or "").lower()
            if key and found.get("content") and key not in self.meta:
                self.meta[key] = found["content"] or ""
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def open_graph(html: str, page_url: str) -> OpenGraph:
    """A page's preview: og:title/description/image, else its <title> and description."""
    parser = _Tags()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # broken markup: keep what was read
        pass
    meta = parser.meta
    image = meta.get("og:image") or meta.get("twitter:image")
    if image:
        image = urljoin(page_url, image.strip())
    return OpenGraph(
        title=_short(meta.get("og:title") or meta.get("twitter:title") or parser.title, 200),
        description=_short(meta.get("og:description") or meta.get("description"), 500),
        image=image if image and image.startswith(("http://", "https://")) else None,
    )


def _short(text: str | None, limit: int) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text[:limit] or None
