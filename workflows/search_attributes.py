"""The search attributes operations filter orders by in the Temporal UI. No personal data:
``CustomerId`` is an opaque id."""

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")

ALL = (ORDER_STATUS, CHANNEL, CUSTOMER_ID, NEEDS_ATTENTION)
