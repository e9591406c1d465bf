"""The product-information system over an HTTP webhook: one signed JSON POST per status
change. The body is signed like carrier events (``X-Signature: sha256=<hex HMAC-SHA256>`` with
the PIM's shared secret) and carries ``Idempotency-Key: <order>:<sequence>``. A failed or
non-2xx POST raises, so Temporal retries the activity with back-off; once the PIM accepted
it, a ``pim_updates`` row records that, and a retry sends nothing. A crash between the PIM's
acceptance and that row resends the same Idempotency-Key, which the PIM drops.
"""

import json

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.ports import PimStatusUpdate
from domain.signing import SIGNATURE_HEADER, sign
from storage.db import transaction
from storage.models import PimUpdate


class PimRejected(Exception):
    """The PIM answered with an error status (the activity is retried)."""


class WebhookPim:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, url: str, secret: str,
                 timeout: float = 10.0) -> None:
        self._sessions = sessions
        self._url, self._secret, self._timeout = url, secret, timeout

    async def publish_order_status(self, update: PimStatusUpdate) -> None:
        async with self._sessions() as session:
            done = await session.scalar(select(PimUpdate.id).where(
                PimUpdate.order_id == update.order_id, PimUpdate.sequence == update.sequence))
        if done is not None:
            return  # delivered by an earlier attempt
        payload = update.model_dump(mode="json")
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            response = await client.post(self._url, content=body, headers={
                "Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body),
                "Idempotency-Key": f"{update.order_id}:{update.sequence}"})
        if not response.is_success:
            raise PimRejected(f"PIM answered {response.status_code} for {update.order_id}:{update.sequence}")
        try:
            async with transaction(self._sessions) as session:
                session.add(PimUpdate(order_id=update.order_id, sequence=update.sequence, status=update.status,
                                      payload=payload))
        except IntegrityError:
            pass  # a concurrent attempt recorded it
