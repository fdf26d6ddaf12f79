"""Smart encoding: swap look-alike characters for GSM-7 ones, as Twilio's `SmartEncoded` does.

The swap is all or nothing: it is made only when it leaves the whole text in GSM-7. A text that
keeps an emoji is sent as UCS-2 anyway, and then the customer's curly quotes stay curly.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsvia.domain.encoding import gsm7


@dataclass(frozen=True, slots=True)
class Replacement:
    """One look-alike swapped for its GSM-7 equivalent."""

    position: int  # index of the character in the original text
    original: str
    replacement: str


def _table() -> dict[str, str]:
    groups = {
        '"': "«»“”„‟″‶〝〞＂❝❞ʺˮ",
        "'": "‘’‚‛′‵＇´`ʹʻʼʽˈˊˋ❛❜",
        "-": "‐‑‒–—―−⁃﹣－⎼⎽•",
        " ": "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
        "\u202f\u205f\u3000",
        # Invisible characters a word processor leaves behind; zero-width joiners are not here,
        # they hold emoji sequences together and those are UCS-2 in any case.
        "": "\u00ad\u200b\u2060\ufeff",
        "...": "…",
        "<": "‹＜",
        ">": "›＞",
        "/": "⁄∕÷／",
        "\\": "⧵⧹＼",
        "|": "∣｜¦",
        "~": "˜∼～",
        "^": "ˆ＾",
        "_": "＿",
        "!": "ǃ！",
        "?": "？",
        "@": "＠",
        "$": "＄",
        "#": "＃",
        "%": "％",
        "&": "＆",
        "*": "＊",
        "+": "＋",
        ",": "，",
        ".": "．",
        ":": "：",
        ";": "；",
        "=": "＝",
        "(": "（",
        ")": "）",
        "[": "［",
        "]": "］",
        "{": "｛",
        "}": "｝",
        "1/4": "¼",
        "1/2": "½",
        "3/4": "¾",
    }
    table = {char: replacement for replacement, chars in groups.items() for char in chars}
    # Full-width digits and Latin letters (U+FF10–FF19, FF21–FF3A, FF41–FF5A).
    for start, first in ((0xFF10, "0"), (0xFF21, "A"), (0xFF41, "a")):
        count = 10 if first == "0" else 26
        for offset in range(count):
            table[chr(start + offset)] = chr(ord(first) + offset)
    return table


LOOK_ALIKES: dict[str, str] = _table()


def suggestion(char: str) -> str | None:
    """The GSM-7 text smart encoding would put in place of `char`, if it knows one."""
    return LOOK_ALIKES.get(char)


def transliterate(text: str) -> tuple[str, tuple[Replacement, ...]]:
    """`text` with look-alikes swapped, and what was swapped; unchanged unless that yields GSM-7."""
    replacements: list[Replacement] = []
    chars: list[str] = []
    for position, char in enumerate(text):
        if char in gsm7.SEPTET_COST:
            chars.append(char)
            continue
        replacement = LOOK_ALIKES.get(char)
        if replacement is None:
            return text, ()
        replacements.append(Replacement(position, char, replacement))
        chars.append(replacement)
    if not replacements:
        return text, ()
    return "".join(chars), tuple(replacements)
