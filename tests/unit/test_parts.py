import pytest

from smsvia.domain.encoding import (
    check_text_coding,
    parse_part,
    sar_part,
    segment,
    text_from_parts,
    text_with_gaps,
    to_parts,
)
from smsvia.domain.encoding.parts import (
    DATA_CODING_DEFAULT,
    DATA_CODING_UCS2,
    ESM_CLASS_UDHI,
    Part,
)
from smsvia.domain.errors import UndecodableText


def test_single_gsm7_message_has_no_header():
    (part,) = to_parts(segment("Hi {name}"), reference=1)
    assert part.short_message == b"Hi \x1b\x28name\x1b\x29"
    assert (part.data_coding, part.esm_class, part.udh) == (DATA_CODING_DEFAULT, 0, b"")


def test_single_ucs2_message_is_utf16_big_endian():
    (part,) = to_parts(segment("€😜"), reference=1)
    assert part.data_coding == DATA_CODING_UCS2
    assert part.short_message == "€😜".encode("utf-16-be")


def test_multipart_carries_8bit_concatenation_header():
    parts = to_parts(segment("a" * 320), reference=0xAB)
    assert [p.udh for p in parts] == [bytes([5, 0, 3, 0xAB, 3, n]) for n in (1, 2, 3)]
    assert all(p.esm_class == ESM_CLASS_UDHI for p in parts)
    assert [len(p.payload) for p in parts] == [153, 153, 14]
    assert all(p.air_octets <= 140 for p in parts)


def test_reference_must_be_an_octet():
    with pytest.raises(ValueError, match="256"):
        to_parts(segment("a" * 200), reference=256)


def test_parts_decode_back_in_any_order():
    text = "😜 " + "ü" * 150
    parts = to_parts(segment(text), reference=9)
    assert text_from_parts(reversed(parts)) == text


def test_received_part_with_16bit_reference_is_read():
    udh = bytes([6, 0x08, 4, 0x12, 0x34, 2, 1])
    part = parse_part(udh + b"abc", DATA_CODING_DEFAULT, ESM_CLASS_UDHI)
    assert (part.reference, part.total, part.sequence, part.text()) == (0x1234, 2, 1, "abc")


def test_received_part_without_udhi_is_whole():
    part = parse_part(b"hello", DATA_CODING_DEFAULT, 0)
    assert (part.total, part.text()) == (1, "hello")


def test_header_longer_than_message_is_refused():
    with pytest.raises(UndecodableText):
        parse_part(bytes([9, 0, 3, 1]), DATA_CODING_DEFAULT, ESM_CLASS_UDHI)


def test_missing_part_is_refused():
    parts = to_parts(segment("a" * 320), reference=1)
    with pytest.raises(UndecodableText, match="one whole message of 3"):
        text_from_parts(parts[:2])


def test_parts_of_two_messages_are_not_joined():
    first = to_parts(segment("a" * 200), reference=1)
    second = to_parts(segment("b" * 200), reference=2)
    with pytest.raises(UndecodableText):
        text_from_parts([first[0], second[1]])


def test_invalid_utf16_payload_is_refused():
    with pytest.raises(UndecodableText):
        Part(b"\xd8\x3d", DATA_CODING_UCS2, 0, None, 1, 1).text()


def test_latin1_and_ia5_payloads_decode():
    assert Part(b"caf\xe9", 0x03, 0, None, 1, 1).text() == "café"
    assert Part(b"ok", 0x01, 0, None, 1, 1).text() == "ok"


def test_binary_data_coding_is_not_text():
    with pytest.raises(UndecodableText, match="0x04"):
        Part(b"\x00", 0x04, 0, None, 1, 1).text()


def test_a_part_split_inside_a_surrogate_pair_is_whole_once_joined():
    payload = ("ab" + "😜").encode("utf-16-be")  # the emoji's two halves: octets 4-5, 6-7
    first = Part(payload[:6], DATA_CODING_UCS2, 0, 5, 1, 2)
    second = Part(payload[6:], DATA_CODING_UCS2, 0, 5, 2, 2)
    assert text_from_parts([second, first]) == "ab😜"


def test_sar_tlvs_place_a_part_and_must_agree():
    part = sar_part(b"hello", DATA_CODING_DEFAULT, 0, 0x1234, 3, 2)
    assert (part.reference, part.sequence, part.total, part.text()) == (0x1234, 2, 3, "hello")
    with pytest.raises(UndecodableText, match="part 4 of 3"):
        sar_part(b"hello", DATA_CODING_DEFAULT, 0, 1, 3, 4)
    with pytest.raises(UndecodableText, match="empty"):
        sar_part(b"hello", DATA_CODING_DEFAULT, 0, 1, None, 1)


def test_only_text_codings_are_read():
    check_text_coding(DATA_CODING_UCS2)
    with pytest.raises(UndecodableText, match="0x04"):
        check_text_coding(0x04)  # 8-bit binary: a ringtone, not a text


def test_a_text_missing_parts_reads_with_a_gap_for_each_run_missing():
    parts = to_parts(segment("a" * 153 + "b" * 153 + "c" * 153 + "d" * 10), reference=3)
    assert text_with_gaps([parts[1], parts[2]], 4, "~") == "~" + "b" * 153 + "c" * 153 + "~"
    assert text_with_gaps([parts[3], parts[0]], 4, "~") == "a" * 153 + "~" + "d" * 10


def test_a_gap_inside_a_surrogate_pair_leaves_a_replacement_character():
    payload = ("ab" + "😜" + "cd").encode("utf-16-be")
    first = Part(payload[:6], DATA_CODING_UCS2, 0, 5, 1, 3)
    third = Part(payload[8:], DATA_CODING_UCS2, 0, 5, 3, 3)
    assert text_with_gaps([first, third], 3, "~") == "ab\ufffd~cd"
