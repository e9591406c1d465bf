"""Customer-service case activities: the refund a resolved case asks for, through the payment
provider with a credit note (``activities.refunds``, as for returns), and recording on the case
that it was made or that it kept failing.

One refund per case: its idempotency key is the case's, so a retried activity, a repeated
workflow or a provider that acted but lost its answer never refunds twice."""


from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.ports import PaymentProvider
from activities.refunds import RefundOrder, refund_done, refund_with_credit_note
from domain.cases import CaseActionKind, CaseActionStatus, CaseRefundFailed, CaseRefundInput, CaseRefundResult
from domain.enums import ErrorType
from storage.db import transaction
from storage.models import CaseNote, Payment, Refund, ServiceCase

AUTHOR = "orderflow"


def refund_key(case_id: str) -> str:
    return f"case-{case_id}:refund"


class CaseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], provider: PaymentProvider) -> None:
        self._sessions = sessions
        self._provider = provider

    @activity.defn
    async def refund_case(self, req: CaseRefundInput) -> CaseRefundResult:
        """Refund the amount the case was resolved with, never more than what is left of the
        capture (a refusal, not retried, when that shrank since), and note it on the case."""
        key = refund_key(req.case_id)
        async with self._sessions() as session:
            done = await refund_done(session, key)
            case = await session.get(ServiceCase, req.case_id)
            if case is None or case.action_kind != CaseActionKind.REFUND or case.refund_amount is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"case {req.case_id} was not resolved with a refund")
            payment = (await session.execute(select(Payment).where(Payment.order_id == case.order_id)))\
                .scalar_one_or_none() if case.order_id else None
        if done is None:
            if payment is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"order {case.order_id} of case {case.id} has no payment")
            left = payment.captured - payment.refunded
            if case.refund_amount > left:
                raise refusal(ErrorType.INVALID_REQUEST, f"EUR {case.refund_amount} is more than the EUR {left} "
                                                         f"left to refund on order {case.order_id}")
            done = await refund_with_credit_note(self._sessions, self._provider, RefundOrder(
                order_id=payment.order_id, payment_id=payment.id, amount=case.refund_amount, idempotency_key=key,
                case_id=case.id, actor=req.actor))
        await self._note(case.id, CaseActionStatus.DONE, _refunded(done))
        return CaseRefundResult(amount=done.amount, credit_note_number=done.credit_note_number)

    @activity.defn
    async def record_case_refund_failure(self, failed: CaseRefundFailed) -> CaseRefundFailed:
        """The refund was given up on: the case says so (once), for operations to take over."""
        order_id = await self._note(failed.case_id, CaseActionStatus.FAILED, f"refund failed: {failed.reason}")
        return failed.model_copy(update={"order_id": order_id})

    async def _note(self, case_id: str, status: CaseActionStatus, text: str) -> str | None:
        """Set the action's outcome and note it, once (a retry finds it set)."""
        async with transaction(self._sessions) as session:
            case = await session.get(ServiceCase, case_id, with_for_update=True)
            if case is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"case {case_id} does not exist")
            if case.action_status != status.value:
                case.action_status = status.value
                session.add(CaseNote(case_id=case.id, author=AUTHOR, text=text[:10_000]))
            return case.order_id


def _refunded(row: Refund) -> str:
    return f"EUR {row.amount:.2f} refunded; credit note {row.credit_note_number}"


__all__ = ["CaseActivities", "refund_key"]
