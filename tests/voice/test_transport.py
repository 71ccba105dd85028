"""Transport encryption against the fake server's independent implementation: both modes, header extensions, nonces."""

from __future__ import annotations

import os

import pytest

from bot.voice.transport import TransportCipher, UndecryptablePacket, choose_mode, rtp_header
from tests.fakes.voice import AES, XCHACHA, seal, unseal


@pytest.mark.parametrize("mode", [AES, XCHACHA])
def test_sealed_packets_open_on_the_server_and_never_repeat_a_nonce(mode: str) -> None:
    key = os.urandom(32)
    cipher = TransportCipher(mode, key)  # type: ignore[arg-type]
    counters: set[int] = set()
    for i in range(10_000):
        packet = cipher.seal(rtp_header(i, i * 960, 77), b"opus-%d" % i)
        fields, payload = unseal(mode, key, packet)
        assert payload == b"opus-%d" % i
        assert fields["seq"] == i & 0xFFFF
        counters.add(fields["counter"])
    assert len(counters) == 10_000


@pytest.mark.parametrize("mode", [AES, XCHACHA])
def test_server_packets_with_header_extension_decrypt_to_the_bare_payload(mode: str) -> None:
    import struct

    key = os.urandom(32)
    header = struct.pack(">BBHII", 0x90, 0x78, 5, 4800, 99) + struct.pack(">HH", 0xBEDE, 1)
    packet = seal(mode, key, header, b"\x10\xff\x00\x00" + b"opus frame", 7)
    opened = TransportCipher(mode, key).open(packet)  # type: ignore[arg-type]
    assert (opened.sequence, opened.timestamp, opened.ssrc, opened.payload) == (5, 4800, 99, b"opus frame")


def test_tampered_packet_is_rejected() -> None:
    key = os.urandom(32)
    packet = bytearray(TransportCipher(AES, key).seal(rtp_header(1, 960, 5), b"hello"))  # type: ignore[arg-type]
    packet[14] ^= 1
    with pytest.raises(UndecryptablePacket):
        TransportCipher(AES, key).open(bytes(packet))  # type: ignore[arg-type]


def test_aes_gcm_is_preferred_when_offered_and_xchacha_otherwise() -> None:
    assert choose_mode([XCHACHA, AES], AES) == AES
    assert choose_mode([XCHACHA, "xsalsa20_poly1305"], AES) == XCHACHA
    with pytest.raises(ValueError, match="no supported"):
        choose_mode(["xsalsa20_poly1305"], AES)
