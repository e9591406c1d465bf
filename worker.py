"""The Orderflow worker: builds the adapters from settings, prepares the Temporal namespace
(retention, search attributes) and runs the order workflow and its activities.

Run with ``python worker.py`` (``make run`` does it for you).
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import UpdateNamespaceRequest
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from google.protobuf.duration_pb2 import Duration

from activities.adapters.sandbox_carrier import SandboxCarrierGateway
from activities.adapters.sandbox_outbound import RecordOnlyOpsNotifier, SandboxNotifier, SandboxPim
from activities.adapters.sandbox_payments import SandboxPaymentProvider
from activities.adapters.sandbox_supplier import SandboxSupplier
from activities.adapters.smtp_email import SmtpEmailNotifier, SmtpOpsNotifier, SmtpSender
from activities.adapters.webhook_notifier import WebhookNotifier
from activities.adapters.webhook_pim import WebhookPim
from activities.adapters.temporal_replenishment import TemporalReplenishment
from activities.alerts import AlertActivities
from activities.cases import CaseActivities
from activities.dispatching import DispatchActivities, pickup_times
from activities.documents import DocumentActivities, Seller
from activities.inventory import InventoryActivities
from activities.logging_interceptor import LoggingInterceptor
from activities.metrics import worker_runtime
from activities.order_status import OrderStatusActivities
from activities.payments import PaymentActivities
from activities.purchasing import PurchasingActivities
from activities.return_labels import ReturnLabelActivities
from activities.returns import ReturnActivities
from activities.shipping import ShippingActivities
from activities.warehouse import WarehouseActivities
from domain.enums import NotificationChannel
from domain.feedback_links import FeedbackLinks
from domain.loyalty import LoyaltyRules
from logs import configure_logging, get_logger
from tracing import configure_tracing
import temporal_client
from settings import Settings, get_settings
from storage.alerts import EscalationRules
from storage.db import create_engine, create_session_factory
from workflows import search_attributes
from workflows.cases import CaseRefundWorkflow
from workflows.dispatch_schedules import schedule_pickup_dispatches
from workflows.dispatching import PickupDispatchWorkflow
from workflows.escalations import SCHEDULE_ID as ESCALATION_SCHEDULE_ID, EscalationSweepWorkflow
from workflows.order import OrderWorkflow
from workflows.replenishment import ReplenishmentWorkflow
from workflows.returns import ReturnWorkflow

WORKFLOWS: Sequence[type] = (OrderWorkflow, ReplenishmentWorkflow, ReturnWorkflow, EscalationSweepWorkflow,
                              CaseRefundWorkflow, PickupDispatchWorkflow)
log = get_logger(__name__)


def build_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: Client | None = None
) -> list[Callable[..., Any]]:
    """Every activity, bound to the adapters the settings choose. Without a client, demand is
    not passed on to the replenishment workflows (some tests want that)."""
    payment_provider = SandboxPaymentProvider(
        sessions, fail_rate=settings.sandbox_payment_fail_rate, lost_answer_rate=settings.sandbox_payment_lost_answer_rate,
        slow_rate=settings.sandbox_payment_slow_rate, slow_seconds=settings.sandbox_payment_slow_seconds)
    payments = PaymentActivities(sessions, payment_provider)
    replenishment = TemporalReplenishment(client, settings.task_queue, settings.supplier_confirm_delay_seconds) if client else None
    inventory = InventoryActivities(sessions, replenishment)
    purchasing = PurchasingActivities(sessions, SandboxSupplier(late_days=settings.sandbox_supplier_late_days))
    carrier = SandboxCarrierGateway(sessions, fail_rate=settings.sandbox_carrier_fail_rate)
    shipping = ShippingActivities(sessions, carrier)
    seller = Seller(
        name=settings.seller_name, address_lines=tuple(p.strip() for p in settings.seller_address.split(",")),
        vat_number=settings.seller_vat_number, coc_number=settings.seller_coc_number)
    documents = DocumentActivities(sessions, seller)
    return_labels = ReturnLabelActivities(sessions, carrier, seller, settings.returns_country, settings.returns_postcode)
    warehouse = WarehouseActivities(sessions)
    notifier = SandboxNotifier(sessions)
    notifiers = customer_notifiers(settings, sessions)
    pim: Any = SandboxPim(sessions)
    if settings.pim_backend == "webhook":
        pim = WebhookPim(sessions, url=settings.pim_webhook_url, secret=settings.pim_webhook_secret)
    links = FeedbackLinks(settings.public_base_url, settings.feedback_link_secret.get_secret_value())
    status = OrderStatusActivities(sessions, pim, notifiers, settings.customer_statuses,
                                   feedback_link=links.for_order, loyalty=loyalty_rules(settings))
    ops: Any = RecordOnlyOpsNotifier()
    if settings.email_backend == "smtp":
        ops = SmtpOpsNotifier(SmtpSender(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_sender,
                                         sender_name=settings.seller_name), settings.ops_email)
    alerts = AlertActivities(sessions, ops, escalation_rules(settings), client)
    returns = ReturnActivities(sessions, payment_provider, {channel: notifier for channel in NotificationChannel})
    cases = CaseActivities(sessions, payment_provider)
    dispatching = DispatchActivities(sessions, pickup_times(settings.carrier_pickup_cutoffs, settings.carrier_pickup_days,
                                                            settings.warehouse_timezone), settings.returns_country)
    return [
        payments.authorize_payment, payments.capture_payment, payments.cancel_payment,
        payments.settle_payment_to_order, payments.reauthorize_payment,
        inventory.reserve_stock, inventory.reserve_order_stock, inventory.place_preorders, inventory.drop_lines,
        inventory.held_stock,
        inventory.book_goods_receipt, inventory.release_stock, inventory.ship_reserved_stock,
        purchasing.plan_purchase, purchasing.confirm_purchase_order, purchasing.record_supplier_delay,
        shipping.book_shipment, shipping.cancel_shipment,
        documents.create_order_documents,
        warehouse.create_pick_list, warehouse.plan_packing,
        status.publish_status_change, status.publish_status_changes,
        alerts.raise_alert, alerts.run_escalation_sweep,
        return_labels.create_return_label,
        returns.publish_return_status, returns.book_return_inspection, returns.refund_return,
        cases.refund_case, cases.record_case_refund_failure,
        dispatching.make_pickup_dispatch,
    ]


def customer_notifiers(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> dict[NotificationChannel, Any]:
    """The customer's channels: each sandbox (recorded only) unless its backend setting names
    the real one (SMTP for e-mail, a signed webhook for SMS and app push)."""
    notifier = SandboxNotifier(sessions)
    notifiers: dict[NotificationChannel, Any] = {channel: notifier for channel in NotificationChannel}
    if settings.email_backend == "smtp":
        notifiers[NotificationChannel.EMAIL] = SmtpEmailNotifier(
            sessions, host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_sender,
            sender_name=settings.seller_name)
    domain = settings.smtp_sender.rsplit("@", 1)[-1]
    for channel, backend, url, secret in (
            (NotificationChannel.SMS, settings.sms_backend, settings.sms_webhook_url, settings.sms_webhook_secret),
            (NotificationChannel.APP, settings.app_backend, settings.app_webhook_url, settings.app_webhook_secret)):
        if backend == "webhook":
            notifiers[channel] = WebhookNotifier(sessions, channel, url=url, secret=secret.get_secret_value(),
                                                 domain=domain)
    return notifiers


async def connect(settings: Settings) -> Client:
    # The worker's client lives on a runtime that serves the metrics endpoint: only workers of
    # a client on that runtime report there.
    return await temporal_client.connect(settings, runtime=worker_runtime(settings.worker_metrics_address))


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Idempotent: a restarted dev server ignores new --search-attribute flags on an old file."""
    existing = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    wanted = {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in search_attributes.ALL}
    missing = {name: kind for name, kind in wanted.items() if name not in existing.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing))


async def set_retention(client: Client, namespace: str, days: int) -> None:
    await client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=namespace,
        config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=int(timedelta(days=days).total_seconds()))),
    ))


async def prepare_namespace(client: Client, settings: Settings) -> None:
    # Temporal Cloud refuses operator calls from SDK clients: there tcld does these two.
    if settings.temporal_manage_namespace:
        await register_search_attributes(client, settings.temporal_namespace)
        await set_retention(client, settings.temporal_namespace, settings.namespace_retention_days)
    await schedule_escalation_sweep(client, settings)
    await schedule_pickup_dispatches(client, settings)


def loyalty_rules(settings: Settings) -> LoyaltyRules | None:
    if not settings.loyalty_codes_enabled:
        return None
    return LoyaltyRules(thanks_min_rating=settings.loyalty_thanks_min_rating,
                        thanks_percent=settings.loyalty_thanks_percent,
                        make_up_amount=settings.loyalty_make_up_amount, valid_days=settings.loyalty_code_valid_days,
                        late_delivery_grace=timedelta(hours=settings.loyalty_late_delivery_grace_hours))


def escalation_rules(settings: Settings) -> EscalationRules:
    return EscalationRules(pick_sla=timedelta(seconds=settings.pick_sla_seconds),
                           tracking_silence=timedelta(seconds=settings.tracking_silence_seconds),
                           case_sla=timedelta(seconds=settings.case_sla_seconds),
                           supplier_grace=timedelta(seconds=settings.supplier_grace_seconds))


async def schedule_escalation_sweep(client: Client, settings: Settings) -> None:
    """Create the escalation sweep's schedule, or bring its interval up to the settings; with
    escalation_sweep_seconds 0 it is deleted. Safe when several workers start at once."""
    handle = client.get_schedule_handle(ESCALATION_SCHEDULE_ID)
    if not settings.escalation_sweep_seconds:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    every = timedelta(seconds=settings.escalation_sweep_seconds)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(EscalationSweepWorkflow.run, id="escalation-sweep",
                                           task_queue=settings.task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A sweep still running when the next is due makes the next one unnecessary.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(ESCALATION_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        await handle.update(lambda update: ScheduleUpdate(schedule=schedule))


def build_worker(client: Client, settings: Settings, activities: list[Callable[..., Any]]) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        interceptors=[LoggingInterceptor()],
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
    )


async def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    tracer_provider = configure_tracing(settings, "orderflow-worker")
    engine = create_engine(settings.database_url, echo=settings.database_echo)
    sessions = create_session_factory(engine)
    client = await connect(settings)
    await prepare_namespace(client, settings)
    worker = build_worker(client, settings, build_activities(settings, sessions, client))
    log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_address,
             max_concurrent_activities=settings.worker_max_concurrent_activities,
             max_cached_workflows=settings.worker_max_cached_workflows,
             metrics=f"http://{settings.worker_metrics_address}/metrics" if settings.worker_metrics_address else None,
             tracing=settings.otlp_endpoint)
    try:
        await worker.run()
    finally:
        await engine.dispose()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # the last spans still go out


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
