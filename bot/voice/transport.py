"""RTP packets and the transport encryption Discord accepts in 2026 (the two `_rtpsize` AEAD modes).

The `_rtpsize` modes authenticate the RTP header (12 bytes, the CSRCs and the 4-byte extension preamble) as
associated data, encrypt everything after it (extension body included), and append a 32-bit big-endian counter
that is the only varying part of the nonce. The counter increments per packet and the sender refuses to wrap it,
so a nonce is never used twice under one key.
"""

from __future__ import annotations

import struct

import attrs
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_encrypt

from bot.voice.settings import EncryptionMode

SUPPORTED_MODES: tuple[EncryptionMode, ...] = ("aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize")
RTP_HEADER = struct.Struct(">BBHII")
OPUS_PAYLOAD_TYPE = 0x78
_NONCE_SIZE: dict[EncryptionMode, int] = {"aead_aes256_gcm_rtpsize": 12, "aead_xchacha20_poly1305_rtpsize": 24}


class NonceExhausted(Exception):
    """The 32-bit packet counter would wrap: the session must get a new key (reconnect) before sending more."""


class UndecryptablePacket(Exception):
    """A packet that is too short, malformed or fails authentication."""


@attrs.frozen
class RtpPacket:
    """A received RTP packet after transport decryption; `payload` excludes the header extension body."""

    sequence: int
    timestamp: int
    ssrc: int
    payload_type: int
    payload: bytes


def choose_mode(offered: list[str], preferred: EncryptionMode) -> EncryptionMode:
    """The mode to SELECT_PROTOCOL with: the preferred one if offered, else any supported one offered."""
    if preferred in offered:
        return preferred
    for mode in SUPPORTED_MODES:
        if mode in offered:
            return mode
    raise ValueError(f"voice server offers no supported encryption mode: {offered}")


def rtp_header(sequence: int, timestamp: int, ssrc: int) -> bytes:
    """A 12-byte RTP header for one Opus frame (no CSRCs, no extension)."""
    return RTP_HEADER.pack(0x80, OPUS_PAYLOAD_TYPE, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)


def header_length(packet: bytes) -> tuple[int, int]:
    """(length of the authenticated header, length of the encrypted extension body) of an RTP packet."""
    if len(packet) < 12:
        raise UndecryptablePacket("shorter than an RTP header")
    first = packet[0]
    length = 12 + 4 * (first & 0x0F)
    extension_body = 0
    if first & 0x10:
        if len(packet) < length + 4:
            raise UndecryptablePacket("truncated header extension")
        (words,) = struct.unpack_from(">H", packet, length + 2)
        length += 4
        extension_body = 4 * words
    return length, extension_body


class TransportCipher:
    """Seals and opens RTP packets under one session key in one `_rtpsize` mode."""

    def __init__(self, mode: EncryptionMode, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("voice secret key must be 32 bytes")
        self.mode: EncryptionMode = mode
        self._key = key
        self._aes = AESGCM(key) if mode == "aead_aes256_gcm_rtpsize" else None
        self._nonce_size = _NONCE_SIZE[mode]
        self._counter = 0

    def _full_nonce(self, counter: bytes) -> bytes:
        return counter + bytes(self._nonce_size - 4)

    def seal(self, header: bytes, payload: bytes) -> bytes:
        """header + ciphertext + 4-byte counter; the counter is never reused for this key."""
        if self._counter >= 0xFFFFFFFF:
            raise NonceExhausted("packet counter exhausted for this key")
        self._counter += 1
        counter = struct.pack(">I", self._counter)
        nonce = self._full_nonce(counter)
        if self._aes is not None:
            sealed = self._aes.encrypt(nonce, payload, header)
        else:
            sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(payload, header, nonce, self._key)
        return header + sealed + counter

    def open(self, packet: bytes) -> RtpPacket:
        """Authenticate and decrypt a received packet; raises UndecryptablePacket if it is not genuine."""
        head_len, extension_body = header_length(packet)
        if len(packet) < head_len + 16 + 4:
            raise UndecryptablePacket("too short for a sealed payload")
        header = packet[:head_len]
        nonce = self._full_nonce(packet[-4:])
        ciphertext = packet[head_len:-4]
        try:
            if self._aes is not None:
                plain = self._aes.decrypt(nonce, ciphertext, header)
            else:
                plain = crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, header, nonce, self._key)
        except Exception as exc:  # both libraries raise their own "invalid tag" types
            raise UndecryptablePacket("authentication failed") from exc
        first, payload_type, sequence, timestamp, ssrc = RTP_HEADER.unpack_from(packet)
        end = len(plain)
        if first & 0x20:
            # RTP padding (P bit): its last byte says how many bytes to drop, and it sits inside the ciphertext,
            # so it comes off after transport decryption and before anything (DAVE, Opus) reads the payload.
            padding = plain[-1] if plain else 0
            if padding == 0 or padding > len(plain) - extension_body:
                raise UndecryptablePacket("invalid RTP padding")
            end -= padding
        return RtpPacket(
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload_type=payload_type & 0x7F,
            payload=plain[extension_body:end],
        )


def discovery_request(ssrc: int) -> bytes:
    """The 74-byte IP discovery request (type 1, length 70)."""
    return struct.pack(">HHI64sH", 1, 70, ssrc, b"", 0)


def parse_discovery_response(packet: bytes) -> tuple[str, int]:
    """(external address, port) from an IP discovery response (type 2)."""
    if len(packet) < 74:
        raise ValueError("short IP discovery response")
    kind, _length, _ssrc, address, port = struct.unpack_from(">HHI64sH", packet)
    if kind != 2:
        raise ValueError(f"unexpected IP discovery packet type {kind}")
    return address.split(b"\0", 1)[0].decode("ascii"), port
