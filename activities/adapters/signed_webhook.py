"""Signed JSON webhooks out: one POST of a JSON body signed with HMAC-SHA256
(``X-Signature: sha256=<hex>``, as carrier events in are) and an ``Idempotency-Key`` the
receiver can drop duplicates by. Used by the PIM and by the SMS and app-push gateways."""

import json
from typing import Any

import httpx

from domain.signing import SIGNATURE_HEADER, sign


class WebhookRejected(Exception):
    """The receiver answered with an error status (the activity is retried)."""


class SignedWebhook:
    def __init__(self, *, url: str, secret: str, timeout: float = 10.0) -> None:
        self.url, self._secret, self._timeout = url, secret, timeout

    async def post(self, payload: dict[str, Any], *, idempotency_key: str) -> None:
        """POST ``payload``; raises ``WebhookRejected`` on a non-2xx answer and httpx's errors
        when the receiver cannot be reached, so Temporal retries with back-off."""
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            response = await client.post(self.url, content=body, headers={
                "Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body),
                "Idempotency-Key": idempotency_key})
        if not response.is_success:
            raise WebhookRejected(f"{self.url} answered {response.status_code} for {idempotency_key}")
