"""Orderflow's settings: the one place that reads the environment (prefix ``ORDERFLOW_``,
plus ``DATABASE_URL``). Every process builds one ``Settings`` and passes what it needs on."""

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator

from domain.enums import BackorderDecision
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent


class Profile(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


DEV_API_KEYS = {
    "channel-dev-key": ("channel", "webshop dev key", "webshop"),
    "warehouse-dev-key": ("warehouse", "warehouse dev key", None),
    "carrier-dev-key": ("carrier", "carrier dev key", None),
    "ops-dev-key": ("ops", "ops dev key", None),
}


# The dev profile's documented carrier secret; production refuses to start with it.
DEV_CARRIER_SIGNING_SECRET = "carrier-dev-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", env_file=".env", extra="ignore")

    profile: Profile = Profile.DEV
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'orderflow.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "ORDERFLOW_DATABASE_URL"),
    )
    database_echo: bool = False

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    temporal_db_file: Path = ROOT / "var" / "temporal.db"
    namespace_retention_days: int = 30
    task_queue: str = "orders"

    worker_max_concurrent_activities: int = 100
    worker_max_concurrent_workflow_tasks: int = 100
    worker_max_cached_workflows: int = 1000
    # On shutdown, running activities get this long to finish: one cut off half-way through
    # a SQLite write would hold the lock until the busy timeout.
    worker_graceful_shutdown_seconds: float = 10.0

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # Follow-up timers: how long after delivery feedback is asked for, and how long after
    # that the order completes without feedback. Short values make a quick demo.
    feedback_request_delay_seconds: float = timedelta(days=3).total_seconds()
    feedback_wait_seconds: float = timedelta(days=14).total_seconds()
    # One reminder this long after feedback was asked for, if there is no answer yet (0: none).
    feedback_reminder_after_seconds: float = Field(default=timedelta(days=7).total_seconds(), ge=0)

    # Out of stock: how long a customer has to answer the "ask" policy and what applies when
    # they do not (preorder, cancel = drop the missing lines, cancel_order).
    backorder_decision_timeout_seconds: float = timedelta(hours=48).total_seconds()
    backorder_default: BackorderDecision = BackorderDecision.CANCEL
    # Card authorizations expire; an order waiting longer is authorized again before shipping.
    authorization_validity_seconds: float = timedelta(days=7).total_seconds()

    # After-sales. The return window counts from delivery; EU law gives at least 14 days, so a
    # shorter setting is refused at startup. A return whose parcel has not arrived after
    # return_parcel_wait_seconds is closed.
    return_window_days: int = Field(default=30, ge=14)
    return_parcel_wait_seconds: float = timedelta(days=30).total_seconds()

    # Sandbox outside systems.
    supplier_confirm_delay_seconds: float = 30.0
    sandbox_supplier_late_days: int = 0
    sandbox_carrier_fail_rate: float = 0.0
    sandbox_payment_fail_rate: float = 0.0

    # Carriers sign each tracking event (POST /carrier/events) with this shared secret:
    # HMAC-SHA256 of the raw body.
    carrier_signing_secret: str = DEV_CARRIER_SIGNING_SECRET

    # Customer e-mail: "sandbox" records it in the database only; "smtp" sends it to smtp_host
    # (make run starts a local sink there) through the customer_messages outbox.
    email_backend: Literal["sandbox", "smtp"] = "sandbox"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "orders@orderflow.example"
    # make run: the local SMTP sink stores every mail here (an mbox file).
    smtp_sink_mbox: Path = ROOT / "var" / "mail.mbox"

    # Order status to the PIM: "sandbox" records it in the database only; "webhook" POSTs signed
    # JSON (X-Signature: sha256=<HMAC-SHA256 with pim_webhook_secret>) to pim_webhook_url.
    pim_backend: Literal["sandbox", "webhook"] = "sandbox"
    pim_webhook_url: str = "http://127.0.0.1:8090/order-status"
    pim_webhook_secret: str = "pim-dev-secret"

    # --- Escalations (alerts; workflows/escalations.py, storage/alerts.py) ---
    # A Temporal Schedule runs the escalation sweep every escalation_sweep_seconds (0: no
    # schedule). An order in PICKING longer than pick_sla_seconds, with the carrier without a
    # tracking event for tracking_silence_seconds, an open case nobody answered within
    # case_sla_seconds, or a purchase order supplier_grace_seconds past its expected date
    # raises an alert. Alerts go to ops_email over SMTP when email_backend is "smtp".
    escalation_sweep_seconds: float = Field(default=60.0, ge=0)
    pick_sla_seconds: float = Field(default=timedelta(hours=2).total_seconds(), gt=0)
    tracking_silence_seconds: float = Field(default=timedelta(hours=48).total_seconds(), gt=0)
    case_sla_seconds: float = Field(default=timedelta(hours=24).total_seconds(), gt=0)
    supplier_grace_seconds: float = Field(default=timedelta(days=1).total_seconds(), ge=0)
    ops_email: str = "ops@orderflow.example"

    # The seller printed on invoices and as the sender on shipping labels.
    seller_name: str = "Orderflow Demo B.V."
    seller_address: str = "Keizersgracht 100, 1015 AA Amsterdam, NL"
    seller_vat_number: str = "NL000099998B57"
    seller_coc_number: str = "12345678"

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stdout is not a terminal

    @model_validator(mode="after")
    def _production_needs_its_own_carrier_secret(self) -> "Settings":
        if self.profile == Profile.PRODUCTION and self.carrier_signing_secret == DEV_CARRIER_SIGNING_SECRET:
            raise ValueError("the production profile needs its own ORDERFLOW_CARRIER_SIGNING_SECRET, "
                             "not the documented dev secret")
        return self

    @property
    def feedback_request_delay(self) -> timedelta:
        return timedelta(seconds=self.feedback_request_delay_seconds)

    @property
    def feedback_wait(self) -> timedelta:
        return timedelta(seconds=self.feedback_wait_seconds)


@lru_cache
def get_settings() -> Settings:
    return Settings()
