"""The payment provider has a bad day: 30 % of its calls fail with transient errors before
acting, 10 % act and then lose the answer, and 20 % answer only after 1.5 s. Activities retry
(with the same idempotency key) and every approved order completes with one authorization and
one capture; hard declines still end PAYMENT_FAILED with nothing reserved
(``invariants.check``)."""

import time

import pytest

from scripts.bench_driver import Driver
from scripts.stack import Stack
from tests.resilience import invariants

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

APPROVED, DECLINED = 16, 8
FINISH_TIMEOUT = 150.0
STACK_SETTINGS = {"ORDERFLOW_SANDBOX_PAYMENT_FAIL_RATE": "0.3", "ORDERFLOW_SANDBOX_PAYMENT_LOST_ANSWER_RATE": "0.1",
                  "ORDERFLOW_SANDBOX_PAYMENT_SLOW_RATE": "0.2", "ORDERFLOW_SANDBOX_PAYMENT_SLOW_SECONDS": "1.5"}


async def test_transient_provider_failures_retry_and_declines_fail(stack: Stack) -> None:
    started = time.monotonic()
    on_hand_before = await invariants.on_hand(stack)
    approved = await invariants.place_orders(stack, (f"PSP-OK-{i}" for i in range(APPROVED)))
    declined = await invariants.place_orders(stack, (f"PSP-NO-{i}" for i in range(DECLINED)), token="tok_chargeDeclined")
    driver = Driver(stack.temporal, "OrderWorkflow")
    await driver.run_until(APPROVED + DECLINED, FINISH_TIMEOUT)
    print(f"{APPROVED + DECLINED} orders with a failing, forgetful and slow provider in {time.monotonic() - started:.0f} s")

    await invariants.check(stack, {**{oid: invariants.COMPLETED for oid in approved},
                                   **{oid: invariants.PAYMENT_FAILED for oid in declined}}, on_hand_before)
