from hypothesis import given
from hypothesis import strategies as st

from smsvia.domain.receipt_ids import (
    Candidate,
    IdHabit,
    Reading,
    ReceiptIds,
    fitted,
    lookup_keys,
    readings,
    smsc_key,
)


def part(part_id: int, smsc_id: str, *, waiting=True, same_handset=True) -> Candidate:
    return Candidate(part_id, smsc_id, waiting, same_handset)


def test_keys_ignore_case_and_leading_zeros():
    assert smsc_key("0000000A") == smsc_key("a") == "a"
    assert smsc_key("000") == "0"


def test_a_decimal_receipt_id_is_looked_up_three_ways():
    assert lookup_keys("16") == {
        Reading.SAME: "16",
        Reading.HEX_TO_DECIMAL: "10",  # 16 written in hex
        Reading.DECIMAL_TO_HEX: "22",  # 0x16 written in decimal
    }
    assert lookup_keys("1f") == {Reading.SAME: "1f", Reading.DECIMAL_TO_HEX: "31"}
    assert lookup_keys("msg-7") == {Reading.SAME: "msg-7"}


def test_readings_between_ids():
    assert readings("16", "16") == {Reading.SAME}
    assert readings("16", "0010") == {Reading.HEX_TO_DECIMAL}
    assert readings("16", "22") == {Reading.DECIMAL_TO_HEX}
    assert readings("0A", "a") == {Reading.SAME}
    assert readings("16", "17") == set()


@given(st.integers(min_value=0, max_value=2**63))
def test_hex_submit_and_decimal_receipt_name_the_same_number(number):
    assert Reading.HEX_TO_DECIMAL in readings(str(number), format(number, "08x"))
    assert Reading.DECIMAL_TO_HEX in readings(format(number, "X"), str(number))


def test_decimal_counters_never_cross_when_the_exact_id_is_recorded():
    # "10" read as hex is 16: the receipt for "16" must not take the part "10".
    habit = IdHabit()
    choice = habit.choose("16", [part(1, "10", same_handset=False), part(7, "16")], settled=False)
    assert choice.part_id == 7


def test_an_exact_id_wins_even_when_a_variant_fits_the_same_handset():
    habit = IdHabit()
    assert habit.choose("16", [part(1, "10"), part(7, "16")], settled=True).part_id == 7


def test_a_receipt_whose_part_is_not_recorded_yet_waits_instead_of_crossing():
    habit = IdHabit()
    # Only another handset's "10" (0x10 = 16) is recorded; the real "16" is still in flight.
    early = habit.choose("16", [part(1, "10", same_handset=False)], settled=False)
    assert early.part_id is None


def test_variants_that_fit_two_ways_wait_and_are_never_guessed():
    habit = IdHabit()
    # "016": the same number with a zero ("16"), or 16 in hex ("10"): no exact id.
    choice = habit.choose("016", [part(1, "10"), part(2, "16")], settled=True)
    assert choice.part_id is None and "waits" in choice.why


def test_auto_learns_hex_submits_and_decimal_receipts():
    habit = IdHabit()
    for n in range(10, 15):
        waiting = habit.choose(str(n), [part(n, format(n, "x"))], settled=False)
        assert waiting.part_id is None  # a cross-base reading is trusted only once settled
        assert habit.choose(str(n), [part(n, format(n, "x"))], settled=True).part_id == n
    assert habit.reading == Reading.HEX_TO_DECIMAL
    # Learned: "16" now means 0x10, even though a part "16" exists, at once.
    choice = habit.choose("16", [part(1, "10"), part(2, "16")], settled=False)
    assert (choice.part_id, choice.reading) == (1, Reading.HEX_TO_DECIMAL)


def test_auto_learns_exact_ids_and_then_never_reads_across_bases():
    habit = IdHabit()
    for n in range(0xA0, 0xA5):  # "000000a0": nothing but the same id fits
        assert habit.choose(f"{n:08x}", [part(n, f"{n:08x}")], settled=False).part_id == n
    assert habit.reading == Reading.SAME
    assert habit.choose("16", [part(1, "10")], settled=True).part_id is None


def test_mixed_evidence_keeps_auto_careful():
    habit = IdHabit(learn_after=2)
    habit.choose("a1", [part(1, "a1")], settled=False)
    habit.choose("16", [part(2, "10")], settled=True)
    assert habit.reading is None


def test_another_handsets_part_is_taken_only_once_settled():
    # An SMSC that writes the handset differently in its receipts still gets its receipts.
    habit = IdHabit()
    assert habit.choose("abc", [part(1, "abc", same_handset=False)], settled=False).part_id is None
    assert habit.choose("abc", [part(1, "abc", same_handset=False)], settled=True).part_id == 1


def test_configured_hex_to_decimal_never_takes_the_exact_id():
    habit = IdHabit(ReceiptIds.HEX_TO_DECIMAL)
    assert habit.choose("16", [part(1, "16"), part(2, "0010")], settled=False).part_id == 2


def test_configured_exact_takes_only_the_same_characters():
    habit = IdHabit(ReceiptIds.EXACT)
    assert habit.choose("0a", [part(1, "a"), part(2, "0A")], settled=True).part_id is None
    assert habit.choose("0A", [part(1, "a"), part(2, "0A")], settled=True).part_id == 2


def test_a_waiting_part_wins_over_a_finished_one_with_the_same_id():
    habit = IdHabit(ReceiptIds.EXACT)
    old, new = part(1, "42", waiting=True), part(9, "42", waiting=False)
    assert habit.choose("42", [old, new], settled=False).part_id == 1


def test_an_id_within_smpps_64_characters_is_kept_as_it_is():
    assert fitted("0123abc") == "0123abc"
    assert fitted("x" * 64) == "x" * 64


def test_longer_ids_that_begin_alike_stay_apart_in_64_characters():
    relay = "relay-eu-west-1.node-07." * 3
    first, second = fitted(relay + "000000000001"), fitted(relay + "000000000002")
    assert first != second
    assert len(first) == len(second) == 64
    assert first.startswith(relay[:39] + "~")
    assert fitted(relay + "000000000001") == first  # read again (the receipt), the same
    assert lookup_keys(first) == {Reading.SAME: smsc_key(first)}  # never read across bases


@given(st.text(min_size=65, max_size=300))
def test_every_longer_id_fits(message_id):
    assert len(fitted(message_id)) == 64
