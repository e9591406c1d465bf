"""Property-based fuzz of the whole HTTP API from its own OpenAPI schema (schemathesis), against
the real processes, with a valid key of every role: whatever the input, no 5xx, and every
response matches the schema documented for its status code. A 500 is a failure to fix at its
cause, never to hide behind a catch-all handler.

Bounded for a shared 2-core machine: a few examples per operation and role
(``ORDERFLOW_FUZZ_EXAMPLES`` raises it). Schemathesis's pytest plugin does not run under this
pytest, so each operation's strategy is run with Hypothesis directly, in a thread (the calls
are synchronous)."""

import asyncio
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from scripts.stack import CARRIER_KEY, CHANNEL_KEY, OPS_KEY, WAREHOUSE_KEY, Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

EXAMPLES = int(os.environ.get("ORDERFLOW_FUZZ_EXAMPLES", "4"))
# No 5xx, and every response matches what the schema documents for it (body and media type).
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Revoking keys at random would revoke the dev keys the fuzz itself uses (the ops key can be
# revoked once the fuzz has created another), and every later call would answer 401 and test
# nothing. tests/api/test_api_keys.py covers revocation, bad input included.
NOT_FUZZED = {("POST", "/admin/api-keys/{key_id}/revoke")}
KEYS = {"channel": CHANNEL_KEY, "warehouse": WAREHOUSE_KEY, "carrier": CARRIER_KEY, "ops": OPS_KEY}


def fuzz(api_url: str) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            for key in KEYS.values():
                case.call_and_validate(base_url=api_url, headers={**(case.headers or {}), **key},
                                       checks=CHECKS, timeout=30)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 (collect every operation's failure, then report all)
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:2000]}")
    return operations, failures


async def test_no_input_makes_the_api_fail(stack: Stack) -> None:
    operations, failures = await asyncio.to_thread(fuzz, stack.api_url)
    print(f"fuzzed {operations} operations x {len(KEYS)} roles, {EXAMPLES} examples each")
    assert operations > 10
    assert failures == [], "\n\n".join(failures)
