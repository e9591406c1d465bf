"""An order's documents: a shipping label per package (PDF and ZPL), the sales invoice and the
packing slip, rendered by the worker right after the shipment is booked and stored in the
database."""

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import OrderReader, Sessions, load_order
from api.errors import ApiError
from api.routers.orders import AUTH_RESPONSES, OrderId
from api.schemas import ErrorOut
from storage.models import Invoice, OrderDocument

router = APIRouter(prefix="/orders", tags=["documents"])

DOCUMENT_ID = re.compile(r"^doc_[0-9a-f]{20}$")
NOT_FOUND = {404: {"model": ErrorOut, "description": "No such order for this key, or no such document"}}


class DocumentOut(BaseModel):
    id: str
    kind: str  # label, invoice, packing_slip
    filename: str
    content_type: str
    size: int
    shipment_id: str | None
    created_at: datetime
    url: str


class DocumentList(BaseModel):
    order_id: str
    invoice_number: str | None = Field(description="The first shipment's invoice (the only one unless the order ships in parts)")
    invoice_numbers: list[str] = Field(default_factory=list,
                                       description="One invoice per shipment, in shipment order (an order shipped in parts has several)")
    documents: list[DocumentOut]


@router.get("/{order_id}/documents", response_model=DocumentList, summary="List an order's documents",
            responses={**AUTH_RESPONSES, **NOT_FOUND})
async def list_documents(order_id: OrderId, principal: OrderReader, sessions: Sessions) -> DocumentList:
    """A label per package (PDF and ZPL, "package n of m"), the invoice and the packing slip
    (of each shipment, for an order shipped in parts),
    each with the URL that returns its file. Empty until the shipment is booked (after the
    pack). Roles: channel (own orders), warehouse, ops."""
    order = await load_order(sessions, principal, order_id)
    async with sessions() as session:
        rows = (await session.execute(
            select(OrderDocument.id, OrderDocument.kind, OrderDocument.filename, OrderDocument.content_type,
                   OrderDocument.shipment_id, OrderDocument.created_at,
                   OrderDocument.content)  # size: len() below; documents are tens of kB
            .where(OrderDocument.order_id == order.id).order_by(OrderDocument.kind, OrderDocument.filename))).all()
        invoices = (await session.execute(select(Invoice.reference).where(Invoice.order_id == order.id)
                                          .order_by(Invoice.part))).scalars().all()
    return DocumentList(order_id=order.id, invoice_number=invoices[0] if invoices else None,
                        invoice_numbers=list(invoices), documents=[
        DocumentOut(id=r.id, kind=r.kind, filename=r.filename, content_type=r.content_type, size=len(r.content),
                    shipment_id=r.shipment_id, created_at=r.created_at,
                    url=f"/orders/{order.id}/documents/{r.id}") for r in rows])


@router.get("/{order_id}/documents/{document_id}", summary="Download one document",
            responses={**AUTH_RESPONSES, **NOT_FOUND,
                       200: {"content": {"application/pdf": {}, "application/zpl": {}},
                             "description": "The file, as a download"}})
async def get_document(
    order_id: OrderId, principal: OrderReader, sessions: Sessions,
    document_id: Annotated[str, Path(description="A document id from GET /orders/{id}/documents")],
) -> Response:
    """The document's bytes (PDF, or ZPL for thermal printers). Roles: channel (own orders),
    warehouse, ops."""
    order = await load_order(sessions, principal, order_id)
    row = None
    if DOCUMENT_ID.match(document_id):
        async with sessions() as session:
            row = await session.get(OrderDocument, document_id)
    if row is None or row.order_id != order.id:
        raise ApiError(404, f"order {order.id} has no document {document_id[:64]!r}; "
                            f"GET /orders/{order.id}/documents lists them")
    return Response(content=row.content, media_type=row.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{row.filename}"'})
