"""Encryption of every payload Orderflow writes to Temporal: workflow and activity inputs and
results, signals, updates, queries, memos, and (through the data converter's failure
converter) failure messages and stack traces. The Temporal server, its database and anyone
reading a raw history see ciphertext; search attributes are not payloads and stay plain.

AES-256-GCM with a random 12-byte nonce per payload. The whole serialized payload (its
metadata and data) is encrypted, so not even the original encoding leaks. The key id travels
in the encrypted payload's metadata and is bound to the ciphertext as associated data: keys
rotate by adding a new key and making it the current one, and histories written under an
older key stay readable as long as that key is configured.

A payload without the encrypted encoding passes through undecoded, so histories written before
encryption was switched on (the committed replay histories) still replay.
"""

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """A payload cannot be decrypted with the keys this process has."""


class EncryptionCodec(PayloadCodec):
    """Encrypts with the current key; decrypts with whichever configured key a payload names."""

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        if short := sorted(key_id for key_id, key in keys.items() if len(key) != 32):
            raise ValueError(f"payload keys {', '.join(short)} are not 32 bytes (AES-256)")
        if current_key_id not in keys:
            raise ValueError(f"the current payload key id {current_key_id!r} is not among the keys "
                             f"({', '.join(sorted(keys)) or 'none'})")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current_key_id = current_key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.current_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was switched on, or not ours to open
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(
                f"payload is encrypted with key id {key_id!r}, which is not among the configured payload keys "
                f"({', '.join(sorted(self._ciphers))}); add that key to ORDERFLOW_PAYLOAD_KEYS to read it")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadKeyError(
                f"payload under key id {key_id!r} failed authentication: it was altered, or the key configured "
                f"as {key_id!r} is not the one it was encrypted with") from None
        return Payload.FromString(plain)


def codec_from_settings(settings: Settings) -> EncryptionCodec:
    """The codec with this process's configured keys (``ORDERFLOW_PAYLOAD_KEYS``, ``..._KEY_ID``)."""
    return EncryptionCodec(settings.payload_key_material(), settings.payload_key_id)
