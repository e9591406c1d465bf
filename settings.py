"""Orderflow's settings: the one place that reads the environment (prefix ``ORDERFLOW_``,
plus ``DATABASE_URL``). Every process builds one ``Settings`` and passes what it needs on."""

import base64
import binascii
import ipaddress
import json
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from domain.enums import BackorderDecision, OrderStatus
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

# The dev profile's documented SMS and app-push webhook secrets; production refuses them.
DEV_SMS_WEBHOOK_SECRET = "sms-dev-secret"
DEV_APP_WEBHOOK_SECRET = "app-dev-secret"

# The dev profile's documented feedback-link secret; production refuses to start with it.
DEV_FEEDBACK_LINK_SECRET = "feedback-link-dev-secret"

# The dev profile's documented payload encryption key (32 bytes, base64): it is public, so it
# hides nothing; production refuses to start with it.
DEV_PAYLOAD_KEY_ID = "dev"
DEV_PAYLOAD_KEY = "b3JkZXJmbG93LWRldi1wYXlsb2FkLWtleS1wdWJsaWM="


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
    # When the renewal is declined the customer is asked for a new payment
    # (POST /orders/{id}/payment); none that works within this time cancels the order.
    new_payment_wait_seconds: float = Field(default=timedelta(hours=48).total_seconds(), gt=0)

    # After-sales. The return window counts from delivery; EU law gives at least 14 days, so a
    # shorter setting is refused at startup. A return whose parcel has not arrived after
    # return_parcel_wait_seconds is closed.
    return_window_days: int = Field(default=30, ge=14)
    return_parcel_wait_seconds: float = timedelta(days=30).total_seconds()
    # Where return parcels go (the carrier prices the return label to here); the label's
    # recipient is the seller's name and address.
    returns_country: str = Field(default="NL", min_length=2, max_length=2)
    returns_postcode: str = "1015 AA"

    # --- After-sales: feedback links and loyalty codes (domain/feedback_links.py, domain/loyalty.py) ---
    # The feedback request (and its reminder) carries {public_base_url}/feedback/{token}: the
    # order id with an HMAC-SHA256 of it under feedback_link_secret, so the link works without
    # an API key for that one order only. Production refuses the documented dev secret.
    public_base_url: str = "http://127.0.0.1:8000"
    feedback_link_secret: SecretStr = SecretStr(DEV_FEEDBACK_LINK_SECRET)
    # Loyalty codes issued by themselves: single use, tied to the customer, valid
    # loyalty_code_valid_days, at most one of each kind per order. A thank-you code
    # (loyalty_thanks_percent % off) after a rating of loyalty_thanks_min_rating or more; a
    # make-up code (EUR loyalty_make_up_amount off) when a low rating opens a case, or when the
    # parcel arrives more than loyalty_late_delivery_grace_hours after the carrier's transit time.
    loyalty_codes_enabled: bool = True
    loyalty_thanks_min_rating: int = Field(default=4, ge=1, le=5)
    loyalty_thanks_percent: Decimal = Field(default=Decimal("10"), gt=0, le=100)
    loyalty_make_up_amount: Decimal = Field(default=Decimal("10.00"), gt=0)
    loyalty_code_valid_days: int = Field(default=90, ge=1)
    loyalty_late_delivery_grace_hours: float = Field(default=24.0, ge=0)

    # Sandbox outside systems.
    supplier_confirm_delay_seconds: float = 30.0
    sandbox_supplier_late_days: int = 0
    sandbox_carrier_fail_rate: float = 0.0
    sandbox_payment_fail_rate: float = 0.0
    # The sandbox payment provider's bad days: answers lost after acting, and slow answers.
    sandbox_payment_lost_answer_rate: float = Field(default=0.0, ge=0, le=1)
    sandbox_payment_slow_rate: float = Field(default=0.0, ge=0, le=1)
    sandbox_payment_slow_seconds: float = Field(default=2.0, ge=0)

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

    # --- Customer messages, SMS/app webhooks and per-carrier secrets (issue 6; README: Customer
    # messages, Carrier events) ---
    # Which order statuses reach the customer: names as a JSON list or comma-separated
    # (e.g. "SHIPPED,DELIVERED"); an empty value tells the customer nothing. Unknown names are
    # refused at startup.
    customer_statuses: Annotated[frozenset[OrderStatus], NoDecode] = CUSTOMER_STATUSES_DEFAULT
    # SMS and app push: "sandbox" records the message only; "webhook" POSTs signed JSON
    # (X-Signature: sha256=<HMAC-SHA256 of the body with the channel's secret>) to the channel's
    # gateway URL through the customer_messages outbox. Production refuses the dev secrets.
    sms_backend: Literal["sandbox", "webhook"] = "sandbox"
    sms_webhook_url: str = "http://127.0.0.1:8091/sms"
    sms_webhook_secret: SecretStr = SecretStr(DEV_SMS_WEBHOOK_SECRET)
    app_backend: Literal["sandbox", "webhook"] = "sandbox"
    app_webhook_url: str = "http://127.0.0.1:8091/push"
    app_webhook_secret: SecretStr = SecretStr(DEV_APP_WEBHOOK_SECRET)
    # Each carrier's own secret for its tracking events, as JSON {"dhl": "...", "postnl": "..."};
    # the carrier names itself in the X-Carrier header. Carriers not listed (and events without
    # X-Carrier) are checked against carrier_signing_secret.
    carrier_signing_secrets: dict[str, SecretStr] = {}

    @field_validator("customer_statuses", mode="before")
    @classmethod
    def _statuses_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                names = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
            except ValueError as exc:
                raise ValueError(f"ORDERFLOW_CUSTOMER_STATUSES is not a JSON list ({exc}); write e.g. "
                                 '["SHIPPED", "DELIVERED"] or SHIPPED,DELIVERED') from None
            if not isinstance(names, list):
                raise ValueError('ORDERFLOW_CUSTOMER_STATUSES must be a list, e.g. ["SHIPPED", "DELIVERED"]')
        elif isinstance(value, (list, tuple, set, frozenset)):
            names = list(value)
        else:
            return value
        names = [str(n).strip().upper() for n in names if str(n).strip()]
        unknown = sorted(n for n in names if n not in OrderStatus.__members__)
        if unknown:
            raise ValueError(f"ORDERFLOW_CUSTOMER_STATUSES: unknown order status {', '.join(map(repr, unknown))}; "
                             f"use names from: {', '.join(OrderStatus.__members__)}")
        return frozenset(OrderStatus[n] for n in names)

    @field_validator("carrier_signing_secrets", mode="after")
    @classmethod
    def _carrier_codes_lower_case(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for code, secret in value.items():
            if not code.strip() or not secret.get_secret_value():
                raise ValueError(f"ORDERFLOW_CARRIER_SIGNING_SECRETS: carrier {code!r} needs a code and a secret, "
                                 'e.g. {"dhl": "<secret>"}')
        return {code.strip().lower(): secret for code, secret in value.items()}

    @model_validator(mode="after")
    def _production_needs_its_own_message_and_carrier_secrets(self) -> "Settings":
        if self.profile != Profile.PRODUCTION:
            return self
        for channel, backend, secret, dev in (("SMS", self.sms_backend, self.sms_webhook_secret, DEV_SMS_WEBHOOK_SECRET),
                                              ("APP", self.app_backend, self.app_webhook_secret, DEV_APP_WEBHOOK_SECRET)):
            if backend == "webhook" and secret.get_secret_value() == dev:
                raise ValueError(f"the production profile needs its own ORDERFLOW_{channel}_WEBHOOK_SECRET, "
                                 "not the documented dev secret")
        owners: dict[str, str] = {}
        for code, secret in sorted(self.carrier_signing_secrets.items()):
            value = secret.get_secret_value()
            if value == DEV_CARRIER_SIGNING_SECRET:
                raise ValueError(f"ORDERFLOW_CARRIER_SIGNING_SECRETS: carrier {code!r} has the documented dev secret; "
                                 "give it its own")
            if value in owners:
                raise ValueError(f"ORDERFLOW_CARRIER_SIGNING_SECRETS: carriers {owners[value]!r} and {code!r} share a "
                                 "secret, so either could sign the other's events; give each its own")
            owners[value] = code
        return self

    def carrier_secret(self, carrier: str | None) -> str:
        """The secret that signs ``carrier``'s events: its own, else the shared one."""
        own = self.carrier_signing_secrets.get(carrier or "")
        return own.get_secret_value() if own is not None else self.carrier_signing_secret

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

    # --- Warehouse waves (issue 5; api/routers/waves.py, activities/planning/waves.py) ---
    # POST /warehouse/waves groups open pick lists into one picking round: the orders due for
    # the earliest carrier pickup, plus those due up to wave_window_minutes later, up to a
    # trolley's load. An order is due at its carrier's next pickup cut-off after its release
    # (carrier_pickup_cutoffs: carrier -> "HH:MM" wall-clock time in warehouse_timezone;
    # without a named carrier, the earliest cut-off of all), on a day the carrier collects
    # (carrier_pickup_days: carrier -> weekdays such as "Mon-Fri"; Monday to Friday for a
    # carrier not named). PostNL's default includes Saturday: set "Mon-Fri" when the contract
    # has no Saturday collection.
    wave_window_minutes: int = Field(default=60, ge=0, le=24 * 60)
    wave_max_orders: int = Field(default=10, ge=1, le=100)
    wave_max_volume_litres: float = Field(default=400.0, gt=0, le=10_000)
    wave_max_weight_kg: float = Field(default=150.0, gt=0, le=10_000)
    carrier_pickup_cutoffs: dict[str, str] = Field(default_factory=lambda: {
        "postnl": "17:00", "dhl": "16:30", "dpd": "16:00", "freight": "14:00"})
    carrier_pickup_days: dict[str, str] = Field(default_factory=lambda: {
        "postnl": "Mon-Sat", "dhl": "Mon-Fri", "dpd": "Mon-Fri", "freight": "Mon-Fri"})
    warehouse_timezone: str = "Europe/Amsterdam"
    # Each carrier with a cut-off has a Temporal Schedule (orderflow-dispatch-<carrier>) that
    # makes its dispatch dispatch_lead_minutes before the cut-off on its pickup days, as
    # POST /warehouse/dispatches would (workflows/dispatching.py). Off: the worker deletes them.
    dispatch_schedules_enabled: bool = True
    dispatch_lead_minutes: int = Field(default=30, le=12 * 60)

    @field_validator("dispatch_lead_minutes")
    @classmethod
    def _lead_before_the_cut_off(cls, value: int) -> int:
        # A tick on the cut-off itself is for the next pickup (the first strictly after it).
        if value < 1:
            raise ValueError(f"ORDERFLOW_DISPATCH_LEAD_MINUTES is {value}; it must be at least 1 (minutes before "
                             "the cut-off), or the dispatch is made for the pickup after")
        return value

    @field_validator("carrier_pickup_cutoffs")
    @classmethod
    def _cutoffs_are_times(cls, value: dict[str, str]) -> dict[str, str]:
        from datetime import time

        if not value:
            raise ValueError("ORDERFLOW_CARRIER_PICKUP_CUTOFFS needs at least one carrier, e.g. {\"postnl\": \"17:00\"}")
        for carrier, at in value.items():
            try:
                time.fromisoformat(at)
            except ValueError:
                raise ValueError(f"ORDERFLOW_CARRIER_PICKUP_CUTOFFS: {carrier!r} has {at!r}; give a time as HH:MM") from None
        return value

    @field_validator("carrier_pickup_days")
    @classmethod
    def _pickup_days_are_weekdays(cls, value: dict[str, str]) -> dict[str, str]:
        from activities.planning.waves import parse_pickup_days

        for carrier, days in value.items():
            try:
                parse_pickup_days(days)
            except ValueError as e:
                raise ValueError(f"ORDERFLOW_CARRIER_PICKUP_DAYS: {carrier!r} has {e}") from None
        return value

    @model_validator(mode="after")
    def _pickup_days_for_known_carriers(self) -> "Settings":
        # Only when set: the defaults name the demo carriers, which a deployment may drop
        # from the cut-offs; a carrier named here without a cut-off is most likely a typo.
        if "carrier_pickup_days" in self.model_fields_set:
            unknown = sorted(set(self.carrier_pickup_days) - set(self.carrier_pickup_cutoffs))
            if unknown:
                raise ValueError(f"ORDERFLOW_CARRIER_PICKUP_DAYS: no cut-off in ORDERFLOW_CARRIER_PICKUP_CUTOFFS for "
                                 f"{', '.join(map(repr, unknown))} (it has {', '.join(self.carrier_pickup_cutoffs)}); "
                                 "add one there or drop the name")
        return self

    @field_validator("warehouse_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"ORDERFLOW_WAREHOUSE_TIMEZONE: {value!r} is no IANA time zone; e.g. Europe/Amsterdam") from None
        return value

    # The seller printed on invoices and as the sender on shipping labels.
    seller_name: str = "Orderflow Demo B.V."
    seller_address: str = "Keizersgracht 100, 1015 AA Amsterdam, NL"
    seller_vat_number: str = "NL000099998B57"
    seller_coc_number: str = "12345678"

    # --- Payload encryption and the codec server (codec.py, codec_server.py) ---
    # Every payload in Temporal is encrypted (AES-256-GCM) with the key payload_key_id names.
    # ORDERFLOW_PAYLOAD_KEYS is JSON: {"key id": "<32 random bytes in base64>", ...}. Rotation
    # adds a key and makes it current; old keys stay listed so older histories stay readable.
    payload_keys: dict[str, SecretStr] = Field(default_factory=lambda: {DEV_PAYLOAD_KEY_ID: SecretStr(DEV_PAYLOAD_KEY)})
    payload_key_id: str = DEV_PAYLOAD_KEY_ID
    # The codec server decrypts payloads for the Temporal UI and the temporal CLI of operators
    # who send "Authorization: Bearer <codec_server_token>". Without a token (dev profile
    # only) it serves only while bound to a loopback address. The CORS origins are the UI's
    # (JSON list or comma-separated); empty means the local dev UI on temporal_ui_port.
    codec_server_host: str = "127.0.0.1"
    codec_server_port: int = 8081
    codec_server_token: SecretStr | None = None
    codec_cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("codec_cors_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.lstrip().startswith("[") else \
                [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _payload_keys_usable(self) -> "Settings":
        for key_id, key in self.payload_keys.items():
            try:
                raw = base64.b64decode(key.get_secret_value(), validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValueError(
                    f"ORDERFLOW_PAYLOAD_KEYS: key {key_id!r} must be 32 random bytes in base64 (44 characters); "
                    "make one with: python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'")
        if self.payload_key_id not in self.payload_keys:
            raise ValueError(f"ORDERFLOW_PAYLOAD_KEY_ID {self.payload_key_id!r} is not among ORDERFLOW_PAYLOAD_KEYS "
                             f"({', '.join(sorted(self.payload_keys)) or 'none'}); add the key or pick one of those")
        if self.profile == Profile.PRODUCTION and base64.b64decode(DEV_PAYLOAD_KEY) in self.payload_key_material().values():
            raise ValueError("the production profile needs its own ORDERFLOW_PAYLOAD_KEYS and "
                             "ORDERFLOW_PAYLOAD_KEY_ID, not the documented dev payload key")
        if not self.codec_cors_origins:
            self.codec_cors_origins = [f"http://localhost:{self.temporal_ui_port}",
                                       f"http://127.0.0.1:{self.temporal_ui_port}"]
        return self

    def payload_key_material(self) -> dict[str, bytes]:
        return {key_id: base64.b64decode(key.get_secret_value()) for key_id, key in self.payload_keys.items()}

    @property
    def codec_server_on_loopback(self) -> bool:
        if self.codec_server_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.codec_server_host).is_loopback
        except ValueError:
            return False

    # --- Metrics and tracing (README: Metrics and tracing) ---
    # The worker serves Prometheus metrics (the Temporal SDK's and Orderflow's business
    # metrics) at http://<worker_metrics_address>/metrics; empty turns the endpoint off.
    worker_metrics_address: str = "127.0.0.1:9464"
    # The API's GET /metrics is open (Prometheus sends no API key, and the figures hold no
    # personal data) unless a token is set: then it needs "Authorization: Bearer <token>".
    api_metrics_token: SecretStr | None = None
    # Tracing is off unless an OTLP/gRPC collector is named (e.g. http://127.0.0.1:4317):
    # then the API and the worker export spans there, and log lines carry the trace id.
    otlp_endpoint: str | None = None

    # --- Temporal beyond the dev server (README: Production deployment) ---
    # temporal_tls: TLS to the frontend, checked against the system's CA roots. A client
    # certificate and key (PEM files) add mutual TLS (Temporal Cloud's mTLS, or a cluster that
    # asks for one); temporal_tls_ca trusts a private CA instead of the system's. An API key
    # (Temporal Cloud) travels as a bearer token and implies TLS.
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: SecretStr | None = None
    # The worker and `python -m scripts.prepare_temporal` register the search attributes and
    # set the retention through the operator API. Temporal Cloud does not take that from SDK
    # clients: there, create them with tcld or in the Cloud UI and set this to false (then
    # prepare_temporal only checks that they are there).
    temporal_manage_namespace: bool = True

    @model_validator(mode="after")
    def _temporal_client_certificate_pair(self) -> "Settings":
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("ORDERFLOW_TEMPORAL_TLS_CERT and ORDERFLOW_TEMPORAL_TLS_KEY go together: a client "
                             "certificate needs its private key (set both, or neither)")
        return self

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stdout is not a terminal

    @model_validator(mode="after")
    def _production_needs_its_own_carrier_secret(self) -> "Settings":
        if self.profile == Profile.PRODUCTION and self.carrier_signing_secret == DEV_CARRIER_SIGNING_SECRET:
            raise ValueError("the production profile needs its own ORDERFLOW_CARRIER_SIGNING_SECRET, "
                             "not the documented dev secret")
        return self

    # After the carrier check: a production set-up missing several secrets hears of that one first.
    @model_validator(mode="after")
    def _production_needs_its_own_feedback_link_secret(self) -> "Settings":
        secret = self.feedback_link_secret.get_secret_value()
        if self.profile == Profile.PRODUCTION and secret == DEV_FEEDBACK_LINK_SECRET:
            raise ValueError("the production profile needs its own ORDERFLOW_FEEDBACK_LINK_SECRET, "
                             "not the documented dev secret")
        if len(secret) < 16:
            raise ValueError("ORDERFLOW_FEEDBACK_LINK_SECRET must be at least 16 characters; make one with: "
                             "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
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
