"""The product-information system over an HTTP webhook: one signed JSON POST per status
change. The body is signed like carrier events (``X-Signature: sha256=<hex HMAC-SHA256>`` with
the PIM's shared secret) and carries ``Idempotency-Key: <order>:<sequence>``. A failed or
non-2xx POST raises, so Temporal retries the activity with back-off; once the PIM accepted
it, a ``pim_updates`` row records that, and a retry sends nothing. A crash between the PIM's
acceptance and that row resends the same Idempotency-Key, which the PIM drops.
"""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.adapters.signed_webhook import SignedWebhook, WebhookRejected
from activities.ports import PimStatusUpdate
from storage.db import transaction
from storage.models import PimUpdate


class PimRejected(WebhookRejected):
    """The PIM answered with an error status (the activity is retried)."""


class WebhookPim:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, url: str, secret: str,
                 timeout: float = 10.0) -> None:
        self._sessions = sessions
        self._webhook = SignedWebhook(url=url, secret=secret, timeout=timeout)

    async def publish_order_status(self, update: PimStatusUpdate) -> None:
        async with self._sessions() as session:
            done = await session.scalar(select(PimUpdate.id).where(
                PimUpdate.order_id == update.order_id, PimUpdate.sequence == update.sequence))
        if done is not None:
            return  # delivered by an earlier attempt
        payload = update.model_dump(mode="json")
        try:
            await self._webhook.post(payload, idempotency_key=f"{update.order_id}:{update.sequence}")
        except WebhookRejected as exc:
            raise PimRejected(f"PIM: {exc}") from None
        try:
            async with transaction(self._sessions) as session:
                session.add(PimUpdate(order_id=update.order_id, sequence=update.sequence, status=update.status,
                                      payload=payload))
        except IntegrityError:
            pass  # a concurrent attempt recorded it
