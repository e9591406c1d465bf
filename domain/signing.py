"""HMAC-SHA256 signatures of raw request bodies (carrier events in, webhooks out).

The header value is ``sha256=<hex digest>`` (the bare hex digest is accepted too, which is
what ``openssl dgst -sha256 -hmac SECRET`` prints). Verification compares in constant time.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    given = header.strip()
    given = given[len(PREFIX):] if given.lower().startswith(PREFIX) else given
    expected = sign(secret, body)[len(PREFIX):]
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii", "replace"))
