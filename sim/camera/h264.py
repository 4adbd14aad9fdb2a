"""H.264 plumbing: read ffmpeg's FLV tags into access units, and packetise NAL units into RTP.

ffmpeg writes FLV rather than a raw Annex B stream because FLV frames every encoded picture with
its length: with Annex B the end of a picture is only known when the next one starts, which would
add a whole frame interval of latency to every stream.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
FU_A = 28
RTP_PAYLOAD_TYPE = 96
RTP_MAX_PAYLOAD = 1400  # keeps packets under a typical MTU, and exercises FU-A on every IDR


@dataclass(frozen=True)
class AccessUnit:
    """One encoded picture: its NAL units (no start codes) and whether it is a keyframe."""

    nals: tuple[bytes, ...]
    keyframe: bool
    stamp: float = 0.0  # monotonic time the encoder produced it; drives RTP timestamps


@dataclass(frozen=True)
class ParameterSets:
    """SPS and PPS, needed by DESCRIBE and prepended to every IDR."""

    sps: bytes
    pps: bytes

    def sprop(self) -> str:
        """The SDP ``sprop-parameter-sets`` value (RFC 6184 §8.1)."""
        enc = [base64.b64encode(x).decode("ascii") for x in (self.sps, self.pps)]
        return ",".join(enc)

    def profile_level_id(self) -> str:
        return self.sps[1:4].hex().upper()


class FlvError(Exception):
    """The encoder's output is not the FLV we asked for."""


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _parse_avcc(payload: bytes) -> ParameterSets:
    """Pull the first SPS and PPS out of an AVCDecoderConfigurationRecord."""
    if len(payload) < 8 or payload[0] != 1:
        raise FlvError("bad AVC decoder configuration record")
    pos = 6
    (sps_len,) = struct.unpack_from(">H", payload, pos)
    sps = payload[pos + 2 : pos + 2 + sps_len]
    pos += 2 + sps_len + 1  # skip the PPS count byte
    (pps_len,) = struct.unpack_from(">H", payload, pos)
    pps = payload[pos + 2 : pos + 2 + pps_len]
    return ParameterSets(sps=bytes(sps), pps=bytes(pps))


def _split_length_prefixed(payload: bytes) -> tuple[bytes, ...]:
    nals = []
    pos = 0
    while pos + 4 <= len(payload):
        (size,) = struct.unpack_from(">I", payload, pos)
        nals.append(payload[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return tuple(nals)


def read_flv(stream: IO[bytes]) -> Iterator[ParameterSets | AccessUnit]:
    """Yield parameter sets and access units from an FLV byte stream until it ends."""
    header = _read_exact(stream, 13)  # 9-byte file header + first PreviousTagSize
    if header is None:
        return
    if header[:3] != b"FLV":
        raise FlvError("encoder output does not start with an FLV header")
    while True:
        tag = _read_exact(stream, 11)
        if tag is None:
            return
        size = int.from_bytes(tag[1:4], "big")
        body = _read_exact(stream, size + 4)
        if body is None:
            return
        if tag[0] != 9 or size < 5:  # not video
            continue
        packet_type = body[1]
        payload = body[5:size]
        if packet_type == 0:
            yield _parse_avcc(payload)
        elif packet_type == 1:
            nals = _split_length_prefixed(payload)
            yield AccessUnit(nals=nals, keyframe=any(n and n[0] & 0x1F == NAL_IDR for n in nals))


class RtpPacketizer:
    """Turns access units into RTP packets (RFC 6184 single NAL unit and FU-A modes)."""

    def __init__(self, ssrc: int, seq: int = 0) -> None:
        self.ssrc = ssrc
        self.seq = seq & 0xFFFF

    def _packet(self, payload: bytes, timestamp: int, marker: bool) -> bytes:
        first = 0x80
        second = (0x80 if marker else 0) | RTP_PAYLOAD_TYPE
        head = struct.pack(">BBHII", first, second, self.seq, timestamp & 0xFFFFFFFF, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        return head + payload

    def _fragments(self, nal: bytes) -> Iterator[bytes]:
        indicator = (nal[0] & 0xE0) | FU_A
        kind = nal[0] & 0x1F
        body = nal[1:]
        step = RTP_MAX_PAYLOAD - 2
        for start in range(0, len(body), step):
            flags = 0x80 if start == 0 else 0
            if start + step >= len(body):
                flags |= 0x40
            yield bytes((indicator, flags | kind)) + body[start : start + step]

    def packetize(self, nals: tuple[bytes, ...], timestamp: int) -> list[bytes]:
        """All RTP packets of one picture; the marker bit is set on the last one."""
        payloads: list[bytes] = []
        for nal in nals:
            if not nal:
                continue
            if len(nal) <= RTP_MAX_PAYLOAD:
                payloads.append(nal)
            else:
                payloads.extend(self._fragments(nal))
        last = len(payloads) - 1
        return [self._packet(p, timestamp, i == last) for i, p in enumerate(payloads)]
