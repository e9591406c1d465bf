"""Feedback links that work without an API key, for one order only.

The token is ``{order_id}.{mac}``: the mac is HMAC-SHA256 of ``feedback:{order_id}`` under the
feedback-link secret, base64url without padding. The purpose prefix keeps a feedback token from
ever matching a signature made with the same secret for anything else. Verification compares
in constant time and answers only "this order" or "no": a forged or mangled token tells the
caller nothing about which part was wrong.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

_PURPOSE = b"feedback:"
# An order id (ord_ + hex) and 43 base64url characters: the 32-byte mac without padding.
_TOKEN = re.compile(r"^(ord_[a-z0-9]{1,36})\.([A-Za-z0-9_-]{43})$")


def _mac(secret: str, order_id: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), _PURPOSE + order_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def feedback_token(secret: str, order_id: str) -> str:
    return f"{order_id}.{_mac(secret, order_id)}"


def order_of_token(secret: str, token: str) -> str | None:
    """The order the token was made for, or None when it was not made with this secret."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    order_id, given = match.groups()
    if not hmac.compare_digest(_mac(secret, order_id).encode("ascii"), given.encode("ascii")):
        return None
    return order_id


@dataclass(frozen=True)
class FeedbackLinks:
    """Builds the link a customer follows to give feedback on one order."""

    base_url: str
    secret: str

    def for_order(self, order_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/feedback/{feedback_token(self.secret, order_id)}"
