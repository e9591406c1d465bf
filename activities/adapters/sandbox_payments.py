"""A sandbox payment provider that behaves like a real one in test mode.

Tokens as in providers' test modes: ``tok_visa``, ``tok_mastercard``, ``tok_ideal`` approve;
``tok_chargeDeclined`` and ``tok_insufficientFunds`` decline. Card payments are authorized and
captured later; iDEAL is paid at once. Every call honours the caller's idempotency key, and a
capture never exceeds the authorization nor a refund the capture (also database checks).
"""

import asyncio
import random
import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.ports import PaymentDeclined, ProviderPayment
from domain.enums import PaymentMethod, PaymentStatus
from storage.idempotency import run_once
from storage.models import SandboxPaymentIntent

APPROVING_TOKENS = frozenset({"tok_visa", "tok_mastercard", "tok_amex", "tok_ideal"})
DECLINE_REASONS = {
    "tok_chargeDeclined": "card declined",
    "tok_insufficientFunds": "insufficient funds",
}


class ProviderUnavailable(Exception):
    """A transient failure (timeout, 503): the caller retries with the same key."""


def _view(intent: SandboxPaymentIntent) -> ProviderPayment:
    return ProviderPayment(
        payment_id=intent.id,
        method=PaymentMethod(intent.method),
        status=PaymentStatus(intent.status),
        authorized=intent.authorized,
        captured=intent.captured,
        refunded=intent.refunded,
    )


class SandboxPaymentProvider:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, fail_rate: float = 0.0,
                 lost_answer_rate: float = 0.0, slow_rate: float = 0.0, slow_seconds: float = 0.0) -> None:
        """``fail_rate``: calls refused before acting (503). ``lost_answer_rate``: calls that act
        and then fail as if the answer was lost on the way back, the case idempotency keys
        exist for. ``slow_rate``: calls that act and answer only after ``slow_seconds``."""
        self._sessions = sessions
        self._fail_rate = fail_rate
        self._lost_answer_rate = lost_answer_rate
        self._slow_rate, self._slow_seconds = slow_rate, slow_seconds

    def _maybe_fail(self) -> None:
        if self._fail_rate and random.random() < self._fail_rate:
            raise ProviderUnavailable("sandbox payment provider: 503 service unavailable")

    async def _answer(self, result: ProviderPayment) -> ProviderPayment:
        """Hand back what was done, late or not at all, as the settings say."""
        if self._slow_rate and random.random() < self._slow_rate:
            await asyncio.sleep(self._slow_seconds)
        if self._lost_answer_rate and random.random() < self._lost_answer_rate:
            raise ProviderUnavailable("sandbox payment provider: connection reset before the answer arrived")
        return result

    async def authorize(
        self, *, reference: str, method: PaymentMethod, token: str, amount: Decimal, idempotency_key: str
    ) -> ProviderPayment:
        self._maybe_fail()

        async def work(session: AsyncSession) -> ProviderPayment:
            declined = DECLINE_REASONS.get(token) or (None if token in APPROVING_TOKENS else "unknown token")
            intent = SandboxPaymentIntent(
                id=f"pi_{uuid.uuid4().hex[:24]}",
                reference=reference,
                method=method,
                token=token,
                status=PaymentStatus.DECLINED if declined else (
                    PaymentStatus.CAPTURED if method == PaymentMethod.IDEAL else PaymentStatus.AUTHORIZED
                ),
                authorized=Decimal(0) if declined else amount,
                captured=amount if (method == PaymentMethod.IDEAL and not declined) else Decimal(0),
                refunded=Decimal(0),
            )
            session.add(intent)
            await session.flush()
            return _view(intent)

        result = await self._answer(await run_once(
            self._sessions, f"psp:authorize:{idempotency_key}", "psp.authorize", ProviderPayment, work))
        if result.status == PaymentStatus.DECLINED:
            raise PaymentDeclined(DECLINE_REASONS.get(token, "payment declined"))
        return result

    async def _change(self, op: str, payment_id: str, idempotency_key: str, apply) -> ProviderPayment:  # type: ignore[no-untyped-def]
        self._maybe_fail()

        async def work(session: AsyncSession) -> ProviderPayment:
            intent = await session.get(SandboxPaymentIntent, payment_id, with_for_update=True)
            if intent is None:
                raise PaymentDeclined(f"no such payment {payment_id}")
            apply(intent)
            await session.flush()
            return _view(intent)

        return await self._answer(await run_once(
            self._sessions, f"psp:{op}:{idempotency_key}", f"psp.{op}", ProviderPayment, work))

    async def capture(self, *, payment_id: str, amount: Decimal, idempotency_key: str,
                      final: bool = True) -> ProviderPayment:
        def apply(intent: SandboxPaymentIntent) -> None:
            if intent.status not in (PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_CAPTURED):
                raise PaymentDeclined(f"payment {payment_id} is {intent.status}; only an authorization can be captured")
            if amount < 0 or intent.captured + amount > intent.authorized:
                raise PaymentDeclined(f"capture of {amount} exceeds what is left of the authorized {intent.authorized}")
            intent.captured += amount
            intent.status = PaymentStatus.CAPTURED if final else PaymentStatus.PARTIALLY_CAPTURED

        return await self._change("capture", payment_id, idempotency_key, apply)

    async def void(self, *, payment_id: str, idempotency_key: str) -> ProviderPayment:
        def apply(intent: SandboxPaymentIntent) -> None:
            if intent.status == PaymentStatus.PARTIALLY_CAPTURED:
                intent.status = PaymentStatus.CAPTURED  # what was captured stays; the rest is released
                return
            if intent.status != PaymentStatus.AUTHORIZED:
                raise PaymentDeclined(f"payment {payment_id} is {intent.status}; only an authorization can be voided")
            intent.status = PaymentStatus.VOIDED

        return await self._change("void", payment_id, idempotency_key, apply)

    async def refund(self, *, payment_id: str, amount: Decimal, idempotency_key: str) -> ProviderPayment:
        def apply(intent: SandboxPaymentIntent) -> None:
            if intent.refunded + amount > intent.captured:
                raise PaymentDeclined(
                    f"refund of {amount} exceeds what is left of the capture ({intent.captured - intent.refunded})"
                )
            intent.refunded += amount
            # An authorization still open for later shipments stays open (partially captured).
            if intent.refunded == intent.captured and intent.status == PaymentStatus.CAPTURED:
                intent.status = PaymentStatus.REFUNDED

        return await self._change("refund", payment_id, idempotency_key, apply)
