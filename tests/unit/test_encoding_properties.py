"""Properties of segmentation and SMPP parts over arbitrary text."""

from hypothesis import given, settings
from hypothesis import strategies as st

from smsvia.domain.encoding import LIMITS, gsm7, segment, text_from_parts, to_parts
from smsvia.domain.encoding.parts import MAX_TPDU_OCTETS

MAX = 1600

# Any sendable text: every code point but NUL and surrogates.
any_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=MAX)
# Mostly GSM-7 with many escapes, so long GSM-7 messages and escape boundaries come up often.
gsm_text = st.text(st.sampled_from("aZ0 @£\n" + "".join(gsm7.EXTENSION_TABLE)), max_size=MAX)
# Mostly astral characters, so surrogate pairs meet part boundaries.
astral_text = st.text(st.sampled_from("a😜🇮🇹€é"), max_size=MAX)
texts = st.one_of(any_text, gsm_text, astral_text)


@settings(max_examples=300)
@given(texts, st.integers(0, 255))
def test_parts_count_equals_segment_count(text, reference):
    result = segment(text)
    assert len(to_parts(result, reference)) == result.segments


@settings(max_examples=300)
@given(texts, st.integers(0, 255))
def test_every_part_fits_140_octets_with_its_header(text, reference):
    for part in to_parts(segment(text), reference):
        assert part.air_octets <= MAX_TPDU_OCTETS


@settings(max_examples=300)
@given(texts, st.integers(0, 255))
def test_parts_decode_back_to_the_input(text, reference):
    assert text_from_parts(to_parts(segment(text), reference)) == text


@settings(max_examples=300)
@given(texts)
def test_no_part_boundary_splits_an_escape_or_a_surrogate_pair(text):
    for part in to_parts(segment(text), reference=0):
        # Each part decodes on its own (strictly): a part ending inside an escape sequence or
        # holding half of a surrogate pair raises UndecodableText.
        part.text()


@settings(max_examples=300)
@given(texts)
def test_segment_count_is_within_what_the_unit_count_allows(text):
    result = segment(text)
    limits = LIMITS[result.encoding]
    if result.units <= limits.single:
        assert result.segments == 1
    else:
        # Each part holds at most `multipart` units and, because a two-unit character may be
        # pushed to the next part, at least one less.
        assert -(-result.units // limits.multipart) <= result.segments
        assert result.segments <= -(-result.units // (limits.multipart - 1))


@settings(max_examples=300)
@given(texts)
def test_every_part_but_the_last_is_full(text):
    result = segment(text)
    if result.segments == 1:
        return
    capacity = LIMITS[result.encoding].multipart
    for units, following in zip(result.part_units, result.parts[1:], strict=False):
        char = following[0]
        next_cost = (
            (2 if ord(char) > 0xFFFF else 1)
            if result.encoding == "UCS-2"
            else gsm7.SEPTET_COST[char]
        )
        assert units + next_cost > capacity
