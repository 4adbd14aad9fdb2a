"""End-to-end acknowledgements: ranges, encoding, strict decoding on the agent side."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.ingest.pipeline import ACK_PREFIX
from protocol.ack import MAX_RANGES, AckError, decode_ack, encode_ack, to_ranges
from protocol.envelope import MAX_WIRE_INT


@given(st.lists(st.integers(min_value=1, max_value=10_000), max_size=300))
def test_ranges_cover_exactly_the_numbers(seqs: list[int]) -> None:
    ranges = to_ranges(seqs)
    covered = [s for a, b in ranges for s in range(a, b + 1)]
    assert covered == sorted(set(seqs))
    assert all(b + 1 < c for (_, b), (c, _) in pairwise(ranges))


def test_round_trip_and_split() -> None:
    seqs = list(
        range(1, 2 * MAX_RANGES + 5, 2)
    )  # every other number: one range each, 10,002 ranges
    payloads = encode_ack("gw-1", [*seqs, 0, MAX_WIRE_INT + 1])  # presence's 0 never acked
    assert len(payloads) == 2 and all(p.startswith(ACK_PREFIX) for p in payloads)
    got = [s for p in payloads for a, b in decode_ack("gw-1", p) for s in range(a, b + 1)]
    assert got == seqs


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"not json", "malformed"),
        (b'{"v":1,"gw":"gw-2","ts":1,"ranges":[[1,2]]}', "gw-2"),
        (b'{"v":2,"gw":"gw-1","ts":1,"ranges":[[1,2]]}', "version"),
        (b'{"v":1,"gw":"gw-1","ts":1,"ranges":[[5,2]]}', "bad range"),
        (b'{"v":1,"gw":"gw-1","ts":1,"ranges":[[0,2]]}', "bad range"),
        (b'{"v":1,"gw":"gw-1","ts":1,"ranges":[[1,9223372036854775808]]}', "bad range"),
        (b'{"v":1,"gw":"gw-1","ts":1,"ranges":[[1,2]],"x":1}', "malformed"),
        (b" " * (600 * 1024), "bytes"),
    ],
)
def test_malformed_acknowledgements_are_refused(payload: bytes, words: str) -> None:
    with pytest.raises(AckError, match=words):
        decode_ack("gw-1", payload)
