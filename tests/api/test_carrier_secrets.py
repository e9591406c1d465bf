"""Per-carrier signing secrets: a carrier with its own secret names itself in X-Carrier and
signs with that secret; one carrier's secret never moves another carrier's parcels (401 or
403), the shared secret still serves carriers without their own, production refuses the dev
secret and shared ones."""

import base64
import json
import os
import uuid

import pytest
from pydantic import SecretStr, ValidationError

from domain.signing import sign
from settings import DEV_CARRIER_SIGNING_SECRET, Profile, Settings
from tests.api.conftest import CARRIER, OPS, WAREHOUSE, Api

SECRETS = {"dhl": "dhl-test-secret", "postnl": "postnl-test-secret"}


@pytest.fixture
async def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "task_queue": f"api-{uuid.uuid4().hex[:8]}",
        "carrier_signing_secrets": {code: SecretStr(secret) for code, secret in SECRETS.items()}})


def _event(tracking_number: str, secret: str, carrier: str | None, event: str = "IN_TRANSIT") -> dict:
    content = json.dumps({"tracking_number": tracking_number, "event": event}).encode()
    headers = {**CARRIER, "Content-Type": "application/json", "X-Signature": sign(secret, content)}
    if carrier is not None:
        headers["X-Carrier"] = carrier
    return {"content": content, "headers": headers}


async def _ready(api: Api, reference: str, carrier: str) -> tuple[str, str]:
    order_id = await api.placed(external_reference=reference, shipping={"preference": "named", "carrier": carrier})
    await api.wait_for_status(order_id, "PICKING")
    for step in ("pick", "pack"):
        assert (await api.http.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE)).status_code == 200
    order = await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert order["shipments"][0]["carrier"] == carrier
    return order_id, order["shipments"][0]["tracking_number"]


async def test_one_carriers_secret_never_moves_another_carriers_parcel(api: Api) -> None:
    _, postnl_number = await _ready(api, "WEB-SEC-1", "postnl")
    dhl_order, dhl_number = await _ready(api, "WEB-SEC-2", "dhl")
    _, dpd_number = await _ready(api, "WEB-SEC-3", "dpd")
    assert (await api.http.post(f"/orders/{dhl_order}/handover", headers=WAREHOUSE)).status_code == 200
    await api.wait_for_status(dhl_order, "SHIPPED")

    async def post(**kwargs):
        return await api.http.post("/carrier/events", **_event(**kwargs))

    # PostNL, signing correctly as itself, about DHL's parcel: refused.
    r = await post(tracking_number=dhl_number, secret=SECRETS["postnl"], carrier="postnl")
    assert r.status_code == 403 and "is not a postnl shipment" in r.json()["detail"]
    # PostNL's secret passed off as DHL's: the signature does not match DHL's secret.
    r = await post(tracking_number=dhl_number, secret=SECRETS["postnl"], carrier="dhl")
    assert r.status_code == 401 and "carrier dhl's own secret" in r.json()["detail"]
    # PostNL's secret without X-Carrier: checked against the shared secret, which it is not.
    r = await post(tracking_number=dhl_number, secret=SECRETS["postnl"], carrier=None)
    assert r.status_code == 401 and "shared secret" in r.json()["detail"]
    # The shared secret no longer speaks for DHL, which has its own.
    r = await post(tracking_number=dhl_number, secret=DEV_CARRIER_SIGNING_SECRET, carrier=None)
    assert r.status_code == 403 and "X-Carrier: dhl" in r.json()["detail"]
    # DPD has no secret of its own: the shared one, as DPD, still may not touch PostNL's parcel.
    r = await post(tracking_number=postnl_number, secret=DEV_CARRIER_SIGNING_SECRET, carrier="dpd")
    assert r.status_code == 403 and "is not a dpd shipment" in r.json()["detail"]
    for unknown in ("ups", "", "x" * 40):
        r = await post(tracking_number=dhl_number, secret=SECRETS["dhl"], carrier=unknown)
        assert r.status_code in (401, 422) and r.json()["detail"], unknown
    r = await post(tracking_number=dhl_number, secret=SECRETS["dhl"], carrier="ups")
    assert r.status_code == 401 and "unknown carrier 'ups'" in r.json()["detail"]

    # Nothing above reached the order.
    assert (await api.http.get(f"/orders/{dhl_order}", headers=OPS)).json()[
        "status"] == "SHIPPED"
    # DHL as itself (any case) moves its own parcel; DPD with the shared secret, its own.
    r = await post(tracking_number=dhl_number, secret=SECRETS["dhl"], carrier="DHL")
    assert r.status_code == 200 and r.json()["accepted"] is True, r.text
    await api.wait_for_status(dhl_order, "IN_TRANSIT")
    r = await post(tracking_number=dpd_number, secret=DEV_CARRIER_SIGNING_SECRET, carrier=None)
    assert r.status_code == 409 and "READY_TO_SHIP" in r.text  # past the signature: not handed over yet
    r = await post(tracking_number=dpd_number, secret=DEV_CARRIER_SIGNING_SECRET, carrier="dpd")
    assert r.status_code == 409


def _production(**values) -> Settings:
    others: dict = {"payload_keys": {"k1": base64.b64encode(os.urandom(32)).decode()}, "payload_key_id": "k1",
                    "carrier_signing_secret": "a-real-shared-secret", "_env_file": None}
    if "feedback_link_secret" in Settings.model_fields:  # another check of the production profile
        others["feedback_link_secret"] = "a-real-feedback-link-secret"
    return Settings(profile=Profile.PRODUCTION, **{**others, **values})


def test_production_refuses_dev_and_shared_carrier_secrets(monkeypatch) -> None:
    with pytest.raises(ValidationError, match="carrier 'dhl' has the documented dev secret"):
        _production(carrier_signing_secrets={"dhl": DEV_CARRIER_SIGNING_SECRET})
    with pytest.raises(ValidationError, match="carriers 'dhl' and 'postnl' share a secret"):
        _production(carrier_signing_secrets={"dhl": "same-secret", "postnl": "same-secret"})
    with pytest.raises(ValidationError, match="ORDERFLOW_CARRIER_SIGNING_SECRET"):
        _production(carrier_signing_secret=DEV_CARRIER_SIGNING_SECRET)
    with pytest.raises(ValidationError, match="needs a code and a secret"):
        _production(carrier_signing_secrets={"dhl": ""})
    monkeypatch.setenv("ORDERFLOW_CARRIER_SIGNING_SECRETS", '{"DHL": "dhl-real", "postnl": "postnl-real"}')
    settings = _production()
    assert settings.carrier_secret("dhl") == "dhl-real" and settings.carrier_secret("postnl") == "postnl-real"
    assert settings.carrier_secret("dpd") == settings.carrier_secret(None) == "a-real-shared-secret"
