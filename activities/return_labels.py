"""The return label: the parcel a customer sends back is booked with a carrier (the one that
brought the order, if it takes the parcel; else the cheapest that does) and labelled from the
customer to the returns address. The label is stored with the order's documents, so the
customer's channel can offer it for download, and the tracking number is told to the
customer in the return's first message."""

import asyncio
import uuid
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.documents import DocumentKind, LabelData, Seller, _address_lines, render_label_pdf
from activities.errors import refusal
from activities.ports import CarrierGateway, CarrierRefused
from activities.shipping import _parcel
from domain.enums import ErrorType
from domain.returns import ReturnLabel, ReturnLabelRequest
from storage.db import transaction
from storage.models import Order, OrderDocument, Product, Return, ReturnLine, Shipment


def label_filename(return_number: int) -> str:
    return f"return-label-R{return_number}.pdf"


class ReturnLabelActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], carrier: CarrierGateway, returns_to: Seller,
                 returns_country: str, returns_postcode: str) -> None:
        self._sessions = sessions
        self._carrier = carrier
        self._returns_to = returns_to
        self._country, self._postcode = returns_country, returns_postcode

    @activity.defn
    async def create_return_label(self, req: ReturnLabelRequest) -> ReturnLabel:
        """Book the return parcel and store its label, once per return: a retry finds the
        stored label, and the carrier honours the idempotency key for the booking itself."""
        async with self._sessions() as session:
            ret = await session.get(Return, req.return_id)
            if ret is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"return {req.return_id} does not exist")
            order = await session.get(Order, ret.order_id)
            assert order is not None
            rows = (await session.execute(
                select(ReturnLine.quantity, Product).join(Product, Product.sku == ReturnLine.sku)
                .where(ReturnLine.return_id == ret.id))).all()
            shipped_with = (await session.execute(
                select(Shipment.carrier, Shipment.service).where(Shipment.order_id == order.id,
                                                                  Shipment.status != "cancelled")
                .order_by(Shipment.created_at))).first()
            customer_lines = _address_lines(order) or ("",)
            number, order_id = ret.number, order.id
        parcel = _parcel([(q, p) for q, p in rows], self._country, self._postcode)
        rates = await self._carrier.rates([parcel])
        if not rates:
            raise refusal(ErrorType.CARRIER_REFUSED, f"no carrier takes the return parcel of return R{number} "
                                                     f"({parcel.weight_grams} g)")
        same = [r for r in rates if shipped_with and (r.carrier, r.service) == tuple(shipped_with)]
        rate = same[0] if same else min(rates, key=lambda r: (r.price, r.transit_days))
        try:
            booking = await self._carrier.book(carrier=rate.carrier, service=rate.service, parcels=[parcel],
                                               idempotency_key=req.idempotency_key)
        except CarrierRefused as exc:
            raise refusal(ErrorType.CARRIER_REFUSED, str(exc)) from exc
        label = ReturnLabel(carrier=booking.carrier, service=booking.service, tracking_number=booking.tracking_number,
                            document_id="", url="")
        async with self._sessions() as session:
            if (document_id := await self._stored(session, order_id, number)) is not None:
                return _with_document(label, order_id, document_id)  # a retry: booked and stored before
        sender = replace(self._returns_to, name=customer_lines[0], address_lines=customer_lines[1:])
        pdf = await asyncio.to_thread(render_label_pdf, LabelData(
            sender=sender, recipient_lines=(self._returns_to.name, *self._returns_to.address_lines),
            carrier=booking.carrier, service=booking.service, tracking_number=booking.tracking_number,
            package_number=1, package_count=1, weight_grams=parcel.weight_grams, order_id=order_id,
            country=self._country))
        try:
            async with transaction(self._sessions) as session:
                document = OrderDocument(id=f"doc_{uuid.uuid4().hex[:20]}", order_id=order_id, kind=DocumentKind.LABEL,
                                         filename=label_filename(number), content_type="application/pdf",
                                         shipment_id=None, content=pdf)
                session.add(document)
                await session.flush()
        except IntegrityError:
            pass  # stored by a concurrent attempt
        async with self._sessions() as session:
            document_id = await self._stored(session, order_id, number)
        assert document_id is not None
        return _with_document(label, order_id, document_id)

    async def _stored(self, session: AsyncSession, order_id: str, number: int) -> str | None:
        return (await session.execute(select(OrderDocument.id).where(
            OrderDocument.order_id == order_id, OrderDocument.filename == label_filename(number))
            .order_by(OrderDocument.created_at).limit(1))).scalar_one_or_none()


def _with_document(label: ReturnLabel, order_id: str, document_id: str) -> ReturnLabel:
    return label.model_copy(update={"document_id": document_id, "url": f"/orders/{order_id}/documents/{document_id}"})
