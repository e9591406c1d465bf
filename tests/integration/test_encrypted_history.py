"""Encrypted histories on real processes: orders run through the dev server, worker and API
(each with the stack's payload key); then someone with access to Temporal but without the key
reads the raw histories and finds no customer name, address, e-mail, phone or amount in any
event, failures included, while the codec (and the codec server, through the ``temporal``
CLI) shows the order to an operator who has the key."""

import asyncio
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import Client
from temporalio.converter import PayloadCodec

import temporal_client
from codec import ENCODING
from scripts.stack import TEMPORAL_CLI, Processes, eventually
from tests.integration.conftest import CHANNEL_KEY, Stack, free_port
from tests.integration.test_end_to_end import carrier_event, confirm, new_order, place, wait_for_status

pytestmark = pytest.mark.integration

CODEC_TOKEN = "integration-codec-token-0123456789"
MONEY = re.compile(r"^\d+\.\d{2}$")


def customer_data() -> dict[str, Any]:
    """A customer whose every detail is unmistakable in a byte search."""
    tag = uuid.uuid4().hex[:8]
    return {
        "customer": {"id": f"c-{tag}", "name": f"Griet Oosterhuis {tag}", "email": f"griet.{tag}@example.nl",
                     "phone": "+31687654321", "locale": "nl", "notification_channels": ["email", "sms"]},
        "shipping_address": {"country": "NL", "street": f"Oudegracht{tag}", "house_number": "231",
                             "postcode": "3511 NK", "city": f"Utrecht{tag}"},
    }


def secrets_of(body: dict[str, Any], order: dict[str, Any]) -> set[str]:
    """The customer's personal data and every money amount the API shows for the order."""
    customer, address = body["customer"], body["shipping_address"]
    found = {customer["name"], customer["email"], customer["phone"], address["street"], address["postcode"],
             address["city"]}

    def amounts(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for item in value.values():
                yield from amounts(item)
        elif isinstance(value, list):
            for item in value:
                yield from amounts(item)
        elif isinstance(value, str) and MONEY.match(value) and value != "0.00":
            yield value

    money = set(amounts(order))
    assert {line["unit_price"] for line in order["lines"]} <= money and order["total_amount"] in money
    return found | money


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload anywhere in ``message`` (inputs, results, failures, memos, headers, search
    attributes), with the field path that leads to it."""
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [(f"{path}.{field.name}[{k}]", v) for k, v in value.items()]
        elif field.is_repeated:
            items = [(f"{path}.{field.name}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(f"{path}.{field.name}", value)]
        for item_path, item in items:
            if isinstance(item, Payload):
                yield item_path, item
            elif isinstance(item, Message):
                yield from payloads_in(item, item_path)


def failures_in(message: Message) -> Iterator[Failure]:
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE or field.message_type.GetOptions().map_entry:
            continue
        for item in (value if field.is_repeated else [value]):
            if isinstance(item, Failure):
                yield item
            if isinstance(item, Message):
                yield from failures_in(item)


def may_stay_plain(path: str) -> bool:
    # Search attributes are indexed by the server, so they cannot be encrypted: they hold
    # status, channel and opaque ids only. Headers carry trace context (no business data).
    # workflow.patched() markers are written by the SDK's core, past the codec: a patch id.
    return (".search_attributes." in path or ".header." in path
            or ".marker_recorded_event_attributes.details[patch-data]" in path)


async def decode_all(codec: PayloadCodec, events: list[HistoryEvent]) -> list[tuple[Payload, Payload]]:
    """(encrypted, decrypted) for every encrypted payload of the history."""
    encrypted = [p for p in payloads_in(History(events=events)) if not may_stay_plain(p[0])]
    return list(zip((p for _, p in encrypted), await codec.decode([p for _, p in encrypted])))


async def run_happy_path(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    order_id = (await place(api, body))["order_id"]
    await wait_for_status(api, order_id, "PICKING")
    await confirm(api, order_id, "pick")
    await wait_for_status(api, order_id, "PACKING")
    await confirm(api, order_id, "pack")
    ready = await wait_for_status(api, order_id, "READY_TO_SHIP")
    await confirm(api, order_id, "handover")
    await wait_for_status(api, order_id, "SHIPPED")
    tracking_number = ready["shipments"][0]["tracking_number"]
    await carrier_event(api, tracking_number, "IN_TRANSIT")
    await carrier_event(api, tracking_number, "DELIVERED")
    await wait_for_status(api, order_id, "FEEDBACK_REQUESTED")
    feedback = await api.post(f"/orders/{order_id}/feedback", headers=CHANNEL_KEY,
                              json={"rating": 4, "comment": f"Bezorgd bij {body['customer']['name']}"})
    assert feedback.status_code in (200, 202), feedback.text
    await wait_for_status(api, order_id, "COMPLETED")
    return order_id


@pytest.fixture(scope="module")
async def orders(stack: Stack) -> dict[str, Any]:
    """One order to COMPLETED and one whose card is declined, for the same customer."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api:
        body = new_order(**customer_data())
        happy = await run_happy_path(api, body)
        declined = (await place(api, {**new_order(**{k: body[k] for k in ("customer", "shipping_address")}),
                                      "payment": {"method": "card", "token": "tok_chargeDeclined"}}))["order_id"]
        await wait_for_status(api, declined, "PAYMENT_FAILED")
        views = {oid: (await api.get(f"/orders/{oid}", headers=CHANNEL_KEY)).json() for oid in (happy, declined)}
    secrets = secrets_of(body, views[happy]) | secrets_of(body, views[declined])
    secrets.add(f"Bezorgd bij {body['customer']['name']}")
    return {"happy": happy, "declined": declined, "secrets": secrets, "views": views}


async def raw_history(stack: Stack, order_id: str) -> list[HistoryEvent]:
    # Someone with access to the Temporal server but without the payload key.
    keyless = await Client.connect(stack.temporal_address)
    return list((await keyless.get_workflow_handle(f"order-{order_id}").fetch_history()).events)


@pytest.mark.parametrize("which", ["happy", "declined"])
async def test_no_event_of_the_raw_history_holds_personal_data_or_amounts(
        stack: Stack, orders: dict[str, Any], which: str) -> None:
    events = await raw_history(stack, orders[which])
    assert len(events) > 10

    for event in events:
        kind = EventType.Name(event.event_type)
        raw, text = event.SerializeToString(), json_format.MessageToJson(event)
        for secret in orders["secrets"]:
            # An amount is a whole number: "9.00" is not found inside a timestamp's "59.008".
            pattern = rf"(?<![\d.]){re.escape(secret)}(?![\d])"
            assert not re.search(pattern.encode(), raw) and not re.search(pattern, text), \
                f"{secret!r} readable in {kind}:\n{text}"
        for path, payload in payloads_in(event):
            if ".search_attributes." in path:  # readable for the UI's filters (and scanned above)
                assert payload.metadata.get("encoding") == b"json/plain", f"{kind}{path}"
            elif not may_stay_plain(path):
                assert payload.metadata.get("encoding") == ENCODING, f"plain payload at {kind}{path}:\n{text}"
        for failure in failures_in(event):
            if failure.HasField("server_failure_info"):
                continue  # written by the Temporal server itself (e.g. "Failure exceeds size limit.")
            assert (failure.message, failure.stack_trace) == ("Encoded failure", ""), f"{kind}:\n{text}"

    if which == "declined":
        failed = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]
        assert failed, "the declined card left no activity failure in the history to check"


async def test_an_operator_with_the_key_reads_the_order_and_its_failure(
        stack: Stack, orders: dict[str, Any]) -> None:
    converter = temporal_client.data_converter(stack.settings)
    assert converter.payload_codec is not None
    for which in ("happy", "declined"):
        order_id, view = orders[which], orders["views"][orders[which]]
        events = await raw_history(stack, order_id)
        decoded = [plain for _, plain in await decode_all(converter.payload_codec, events)]
        everything = "\n".join(p.data.decode() for p in decoded)
        assert order_id in everything
        if which == "happy":  # the payment, as the workflow saw it: what the raw history hides
            assert f'"amount":"{view["total_amount"]}"' in everything

    declined = await raw_history(stack, orders["declined"])
    failure = next(e.activity_task_failed_event_attributes.failure for e in declined
                   if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED)
    error = await converter.decode_failure(failure)
    assert "declined" in str(error).lower()


async def test_payload_size_overhead_per_order(stack: Stack, orders: dict[str, Any]) -> None:
    """A figure, not a limit: the bytes encryption adds to an order's history (printed)."""
    converter = temporal_client.data_converter(stack.settings)
    assert converter.payload_codec is not None
    for which in ("happy", "declined"):
        events = await raw_history(stack, orders[which])
        pairs = await decode_all(converter.payload_codec, events)
        sealed = sum(e.ByteSize() for e, _ in pairs)
        plain = sum(p.ByteSize() for _, p in pairs)
        history = sum(e.ByteSize() for e in events)
        print(f"{which}: {len(events)} events, {len(pairs)} payloads: {plain} bytes plain, {sealed} encrypted "
              f"(+{sealed - plain}, {(sealed - plain) / len(pairs):.0f} per payload, "
              f"+{100 * (sealed - plain) / plain:.0f} %); whole history {history} bytes "
              f"(+{100 * (sealed - plain) / (history - sealed + plain):.1f} %)")
        # Nonce (12) and tag (16) at least, per payload.
        assert sealed - plain >= 28 * len(pairs)


@pytest.fixture
async def codec_server(stack: Stack) -> AsyncIterator[str]:
    """``python codec_server.py`` with a token, on the stack's keys."""
    port = free_port()
    processes = Processes(stack.directory, {**stack.processes.env, "ORDERFLOW_CODEC_SERVER_PORT": str(port),
                                            "ORDERFLOW_CODEC_SERVER_TOKEN": CODEC_TOKEN})
    processes.start("codec", [sys.executable, "codec_server.py"])
    url = f"http://127.0.0.1:{port}"
    try:
        async def healthy() -> bool | None:
            async with httpx.AsyncClient(timeout=3) as http:
                return True if (await http.get(f"{url}/healthz")).status_code == 200 else None

        await eventually(processes, "the codec server", healthy)
        yield url
    finally:
        processes.stop_all(quiet=True)


async def temporal_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        TEMPORAL_CLI, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(errors="replace")


async def test_the_temporal_cli_decrypts_through_the_codec_server_with_the_token(
        stack: Stack, orders: dict[str, Any], codec_server: str) -> None:
    order_id, view = orders["happy"], orders["views"][orders["happy"]]
    show = ["workflow", "show", "--address", stack.temporal_address, "-w", f"order-{order_id}", "--output", "json",
            "--codec-endpoint", codec_server]

    code, out = await temporal_cli(*show, "--codec-auth", f"Bearer {CODEC_TOKEN}")

    assert code == 0, out
    shown = [p for path, p in payloads_in(json_format.Parse(out, History(), ignore_unknown_fields=True))
             if not may_stay_plain(path)]
    assert shown and all(p.metadata.get("encoding") != ENCODING for p in shown), out[:3000]
    assert any(f'"amount":"{view["total_amount"]}"'.encode() in p.data for p in shown)

    # The CLI retries a refused decode until its command times out.
    code, out = await temporal_cli(*show, "--codec-auth", "Bearer wrong-token", "--command-timeout", "3s")
    assert code != 0 and view["total_amount"] not in out, out[:3000]  # refused: nothing decrypted
