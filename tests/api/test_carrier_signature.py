"""POST /carrier/events is signed: a missing or wrong X-Signature answers 401 naming what to
do, before the body is even looked at; the right one gets through."""

import json

from domain.signing import sign, verify
from tests.api.conftest import CARRIER, OPS, Api
from tests.factories import signed_carrier_event

BODY = {"tracking_number": "3S0000000000000", "event": "IN_TRANSIT"}


async def test_missing_or_wrong_signature_is_refused(api: Api) -> None:
    unsigned = await api.http.post("/carrier/events", headers=CARRIER, json=BODY)
    assert unsigned.status_code == 401
    assert "X-Signature" in unsigned.json()["detail"] and "HMAC-SHA256" in unsigned.json()["detail"]

    wrong_secret = await api.http.post("/carrier/events", **signed_carrier_event(BODY, CARRIER, secret="guess"))
    assert wrong_secret.status_code == 401 and "does not match" in wrong_secret.json()["detail"]

    # Signed one body, sent another (a replayed signature on an edited event).
    request = signed_carrier_event(BODY, CARRIER)
    tampered = request["content"].replace(b"IN_TRANSIT", b"DELIVERED")
    response = await api.http.post("/carrier/events", content=tampered, headers=request["headers"])
    assert response.status_code == 401

    for garbage in ("sha256=", "sha256=zz", "🙂".encode(), "x" * 5000):
        response = await api.http.post("/carrier/events", content=request["content"],
                                       headers={**request["headers"], "X-Signature": garbage})
        assert response.status_code == 401, garbage

    # A body that is not even JSON is refused with a clear 4xx, never a 500.
    junk = await api.http.post("/carrier/events", headers={**CARRIER, "Content-Type": "application/json"},
                               content=b"\xff{not json")
    assert junk.status_code in (400, 401) and junk.json()["detail"]


async def test_the_key_is_checked_first_and_a_good_signature_gets_through(api: Api) -> None:
    no_key = await api.http.post("/carrier/events", **signed_carrier_event(BODY, {}))
    assert no_key.status_code == 401 and "X-API-Key" in no_key.json()["detail"]
    signed = await api.http.post("/carrier/events", **signed_carrier_event(BODY, CARRIER))
    assert signed.status_code == 404 and "3S0000000000000" in signed.json()["detail"]  # past the signature
    content = json.dumps(BODY).encode()
    bare_hex = sign(api.settings.carrier_signing_secret, content).removeprefix("sha256=")
    as_openssl = await api.http.post("/carrier/events", content=content, headers={
        **OPS, "Content-Type": "application/json", "X-Signature": bare_hex.upper()})
    assert as_openssl.status_code == 404
    signed_bad_body = await api.http.post("/carrier/events", **signed_carrier_event({"event": "LOST"}, CARRIER))
    assert signed_bad_body.status_code == 422


def test_verify() -> None:
    sig = sign("s3cret", b"{}")
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("s3cret", b"{}", sig) and verify("s3cret", b"{}", sig[7:]) and verify("s3cret", b"{}", f" {sig} ")
    assert not verify("s3cret", b"{} ", sig) and not verify("other", b"{}", sig) and not verify("s3cret", b"{}", "")


def test_production_refuses_the_documented_dev_secret() -> None:
    import pytest
    from pydantic import ValidationError

    from settings import DEV_CARRIER_SIGNING_SECRET

    from tests.api.test_carrier_secrets import _production

    with pytest.raises(ValidationError, match="ORDERFLOW_CARRIER_SIGNING_SECRET"):
        _production(carrier_signing_secret=DEV_CARRIER_SIGNING_SECRET)
    assert _production(carrier_signing_secret="s3cret").carrier_signing_secret == "s3cret"
