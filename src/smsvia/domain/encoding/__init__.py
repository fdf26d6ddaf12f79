"""SMS text encoding: GSM-7 or UCS-2, segments, and the SMPP parts they become."""

from smsvia.domain.encoding.parts import (
    Part,
    check_text_coding,
    parse_part,
    sar_part,
    text_from_parts,
    text_with_gaps,
    to_parts,
)
from smsvia.domain.encoding.segments import (
    LIMITS,
    MAX_BODY_CHARACTERS,
    Encoding,
    Segmentation,
    Ucs2Character,
    check_body,
    segment,
)
from smsvia.domain.encoding.smart import Replacement

__all__ = [
    "LIMITS",
    "MAX_BODY_CHARACTERS",
    "Encoding",
    "Part",
    "Replacement",
    "Segmentation",
    "Ucs2Character",
    "check_body",
    "check_text_coding",
    "parse_part",
    "sar_part",
    "segment",
    "text_from_parts",
    "text_with_gaps",
    "to_parts",
]
