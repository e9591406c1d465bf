"""The search attributes operations filter orders by in the Temporal UI. No personal data:
``CustomerId`` is an opaque id."""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")

ALL = (ORDER_STATUS, CHANNEL, CUSTOMER_ID, NEEDS_ATTENTION)


def for_new_order(channel: str, customer_id: str) -> TypedSearchAttributes:
    """The attributes an order workflow starts with; status changes upsert the rest."""
    return TypedSearchAttributes([
        SearchAttributePair(CHANNEL, channel),
        SearchAttributePair(CUSTOMER_ID, customer_id),
        SearchAttributePair(ORDER_STATUS, "RECEIVED"),
        SearchAttributePair(NEEDS_ATTENTION, False),
    ])
