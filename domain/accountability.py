"""Who did what: the actor of a staff action (the API key that was used, and the person the
caller named, if any) and the kinds of action the action log records. Stdlib + pydantic only:
workflow inputs carry an ``Actor``."""

from enum import StrEnum

from pydantic import BaseModel, Field


class Actor(BaseModel):
    """The caller of a staff action. ``key_name`` and ``role`` come from the API key the request
    was authenticated with, so they are what accountability rests on; ``person`` is who the
    caller says did it (a picker's name under a shared warehouse key), recorded as given."""

    key_name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    person: str | None = Field(default=None, max_length=100)

    def label(self) -> str:
        """For timelines and ledger notes: ``Jan via warehouse hall 2 (warehouse)``."""
        key = f"{self.key_name} ({self.role})"
        return f"{self.person} via {key}" if self.person and self.person != self.key_name else key


class StaffActionKind(StrEnum):
    """The actions the action log (``staff_actions``) records, one row per action done."""

    PICK = "pick"  # the whole order confirmed picked
    PICK_STEP = "pick_step"  # one step of a pick list scanned
    PACK = "pack"
    HANDOVER = "handover"
    CANCEL = "cancel"
    BACKORDER_DECISION = "backorder_decision"
    NEW_PAYMENT = "new_payment"  # the customer paid again after a renewal was declined
    FEEDBACK = "feedback"
    RETURN_REQUEST = "return_request"
    RETURN_INSPECTION = "return_inspection"  # which also starts the refund
    GOODS_RECEIPT = "goods_receipt"
    STOCK_ADJUSTMENT = "stock_adjustment"
    CYCLE_COUNT = "cycle_count"
    PUT_AWAY = "put_away"
    WAVE = "wave"  # a picking round built
    DISPATCH = "dispatch"  # a vehicle load made up for a carrier (or cancelled)


# The order workflow notes these itself on its timeline, with the actor's label (its update
# inputs carry it), so a running order's timeline does not show them twice.
NOTED_BY_ORDER_WORKFLOW = frozenset({StaffActionKind.PICK, StaffActionKind.PACK, StaffActionKind.HANDOVER,
                                     StaffActionKind.CANCEL})
