"""The payload codec (codec.py), the data converter built on it, the settings that feed it, and
the codec server (codec_server.py) over HTTP: tokens, CORS for the Temporal UI, bad bodies."""

import base64
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

import settings as settings_module
import temporal_client
from codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeyError
from codec_server import RefusedToStart, check_can_serve, create_app
from settings import DEV_PAYLOAD_KEY, Profile, Settings

OLD, NEW = os.urandom(32), os.urandom(32)
SECRET_ORDER = b'{"customer":"Anna de Vries","street":"Damrak 1","total":"50.89"}'
TOKEN = "codec-token-for-tests-0123456789"
UI_ORIGIN = "http://localhost:8233"


def plain(data: bytes = SECRET_ORDER) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def make_settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


# --- the codec ----------------------------------------------------------------------------


async def test_a_payload_round_trips_and_is_unreadable_in_between() -> None:
    codec = EncryptionCodec({"k1": OLD}, "k1")

    [sealed] = await codec.encode([plain()])

    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    assert b"Anna" not in sealed.SerializeToString() and b"50.89" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # even the inner encoding is hidden
    assert await codec.decode([sealed]) == [plain()]


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec({"k1": OLD}, "k1")

    first, second = await codec.encode([plain(), plain()])

    assert first.data != second.data  # a fresh nonce per payload


async def test_after_rotation_old_payloads_decode_and_new_ones_use_the_new_key() -> None:
    [before] = await EncryptionCodec({"k1": OLD}, "k1").encode([plain()])
    rotated = EncryptionCodec({"k1": OLD, "k2": NEW}, "k2")

    [after] = await rotated.encode([plain()])

    assert await rotated.decode([before, after]) == [plain(), plain()]
    assert after.metadata[KEY_ID] == b"k2"
    with pytest.raises(PayloadKeyError, match="'k2'"):
        await EncryptionCodec({"k1": OLD}, "k1").decode([after])


async def test_an_unknown_key_id_names_the_key_and_what_to_do() -> None:
    [sealed] = await EncryptionCodec({"gone": OLD}, "gone").encode([plain()])

    with pytest.raises(PayloadKeyError) as err:
        await EncryptionCodec({"k1": NEW}, "k1").decode([sealed])

    assert "'gone'" in str(err.value) and "ORDERFLOW_PAYLOAD_KEYS" in str(err.value)


async def test_tampered_ciphertext_fails_authentication() -> None:
    codec = EncryptionCodec({"k1": OLD}, "k1")
    [sealed] = await codec.encode([plain()])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1

    with pytest.raises(PayloadKeyError, match="failed authentication"):
        await codec.decode([Payload(metadata=sealed.metadata, data=bytes(flipped))])


async def test_a_payload_relabelled_with_another_key_id_fails() -> None:
    # Both keys known: the key id is bound to the ciphertext, so relabelling is noticed.
    codec = EncryptionCodec({"k1": OLD, "k2": OLD}, "k1")
    [sealed] = await codec.encode([plain()])
    relabelled = Payload(metadata={"encoding": ENCODING, KEY_ID: b"k2"}, data=sealed.data)

    with pytest.raises(PayloadKeyError, match="failed authentication"):
        await codec.decode([relabelled])


async def test_a_plain_payload_passes_through_undecoded() -> None:
    codec = EncryptionCodec({"k1": OLD}, "k1")

    assert await codec.decode([plain()]) == [plain()]


def test_a_codec_refuses_a_key_that_is_not_aes_256() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptionCodec({"short": b"x" * 16}, "short")
    with pytest.raises(ValueError, match="not among the keys"):
        EncryptionCodec({"k1": OLD}, "k2")


# --- the data converter -----------------------------------------------------------------------


async def test_the_data_converter_encrypts_values_and_failure_messages() -> None:
    converter = temporal_client.data_converter(make_settings())
    [payload] = await converter.encode([{"customer": "Anna de Vries"}])
    assert payload.metadata["encoding"] == ENCODING
    assert await converter.decode([payload]) == [{"customer": "Anna de Vries"}]

    failure = Failure()
    try:
        raise ApplicationError("card of Anna de Vries declined for EUR 50.89", type="PaymentDeclined",
                               non_retryable=True)
    except ApplicationError as err:
        await converter.encode_failure(err, failure)

    assert b"Anna" not in failure.SerializeToString() and b"50.89" not in failure.SerializeToString()
    assert failure.message == "Encoded failure"
    assert failure.application_failure_info.type == "PaymentDeclined"  # the type stays readable
    decoded = await converter.decode_failure(failure)
    assert decoded.message == "card of Anna de Vries declined for EUR 50.89"


# --- settings ---------------------------------------------------------------------------------


def test_the_dev_profile_has_the_documented_key_and_local_ui_origins() -> None:
    settings = make_settings()

    assert settings.payload_key_material()[settings.payload_key_id] == base64.b64decode(DEV_PAYLOAD_KEY)
    assert settings.codec_cors_origins == ["http://localhost:8233", "http://127.0.0.1:8233"]
    assert make_settings(temporal_ui_port=9233).codec_cors_origins == ["http://localhost:9233", "http://127.0.0.1:9233"]


def test_keys_and_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_PAYLOAD_KEYS", json.dumps({"2026-01": b64(OLD), "2026-06": b64(NEW)}))
    monkeypatch.setenv("ORDERFLOW_PAYLOAD_KEY_ID", "2026-06")
    monkeypatch.setenv("ORDERFLOW_CODEC_CORS_ORIGINS", "https://temporal-ui.example, https://ui2.example")
    monkeypatch.setenv("ORDERFLOW_CODEC_SERVER_TOKEN", TOKEN)

    settings = make_settings()

    assert settings.payload_key_material() == {"2026-01": OLD, "2026-06": NEW}
    assert settings.payload_key_id == "2026-06"
    assert settings.codec_cors_origins == ["https://temporal-ui.example", "https://ui2.example"]
    assert TOKEN not in repr(settings)  # secrets stay out of logs and tracebacks
    monkeypatch.setenv("ORDERFLOW_CODEC_CORS_ORIGINS", '["https://temporal-ui.example"]')
    assert make_settings().codec_cors_origins == ["https://temporal-ui.example"]


@pytest.mark.parametrize("keys, key_id, message", [
    ({"k1": "not base64!"}, "k1", "key 'k1' must be 32 random bytes in base64"),
    ({"k1": b64(b"too short")}, "k1", "key 'k1' must be 32 random bytes in base64"),
    ({"k1": b64(OLD)}, "k2", "ORDERFLOW_PAYLOAD_KEY_ID 'k2' is not among ORDERFLOW_PAYLOAD_KEYS"),
])
def test_unusable_keys_are_refused_with_a_reason(keys: dict[str, str], key_id: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(payload_keys=keys, payload_key_id=key_id)


def production(**overrides: Any) -> dict[str, Any]:
    """Production settings with every other documented dev secret replaced, so that only the
    payload key decides (other parts of the product add refusals of their own)."""
    dev_values = {v for k, v in vars(settings_module).items() if k.startswith("DEV_") and isinstance(v, str)}

    def text_of(default: Any) -> Any:
        return default.get_secret_value() if isinstance(default, SecretStr) else default

    real = {name: f"real-{name}-0123456789abcdef" for name, field in Settings.model_fields.items()
            if isinstance(text_of(field.default), str) and text_of(field.default) in dev_values
            and not name.startswith("payload_")}
    return {**real, "profile": Profile.PRODUCTION, **overrides}


def test_production_refuses_the_documented_dev_key() -> None:
    with pytest.raises(ValidationError, match="not the documented dev payload key"):
        make_settings(**production())
    # Also when it is kept only to read old histories: everything under it is public.
    with pytest.raises(ValidationError, match="not the documented dev payload key"):
        make_settings(**production(payload_keys={"dev": DEV_PAYLOAD_KEY, "k1": b64(OLD)}, payload_key_id="k1"))
    assert make_settings(**production(payload_keys={"k1": b64(OLD)}, payload_key_id="k1")).payload_key_id == "k1"


# --- the codec server: who may start it ----------------------------------------------------------


def test_production_refuses_to_start_the_codec_server_without_a_token() -> None:
    settings = make_settings(**production(payload_keys={"k1": b64(OLD)}, payload_key_id="k1"))
    with pytest.raises(RefusedToStart, match="ORDERFLOW_CODEC_SERVER_TOKEN"):
        check_can_serve(settings)
    with pytest.raises(RefusedToStart, match="at least 16 characters"):
        check_can_serve(settings.model_copy(update={"codec_server_token": SecretStr("short")}))
    check_can_serve(settings.model_copy(update={"codec_server_token": SecretStr(TOKEN)}))


def test_without_a_token_the_codec_server_serves_only_on_loopback() -> None:
    check_can_serve(make_settings(codec_server_host="127.0.0.1"))
    check_can_serve(make_settings(codec_server_host="::1"))
    with pytest.raises(RefusedToStart, match="only on a loopback address"):
        check_can_serve(make_settings(codec_server_host="0.0.0.0"))
    check_can_serve(make_settings(codec_server_host="0.0.0.0", codec_server_token=TOKEN))


# --- the codec server over HTTP ------------------------------------------------------------------


@pytest.fixture
async def codec_http() -> AsyncIterator[httpx.AsyncClient]:
    """The codec server with a token and rotated keys (current k2, old k1)."""
    app = create_app(make_settings(payload_keys={"k1": b64(OLD), "k2": b64(NEW)}, payload_key_id="k2",
                                   codec_server_token=TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8081") as http:
        yield http


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def body(*payloads: Payload) -> dict[str, Any]:
    return {"payloads": [{"metadata": {k: b64(v) for k, v in p.metadata.items()}, "data": b64(p.data)}
                         for p in payloads]}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-the-token"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
])
async def test_decode_without_the_right_bearer_token_is_401(codec_http: httpx.AsyncClient,
                                                             headers: dict[str, str]) -> None:
    response = await codec_http.post("/decode", json=body(plain()), headers=headers)

    assert response.status_code == 401, response.text
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await codec_http.post("/encode", json=body(plain()), headers=headers)).status_code == 401


async def test_what_encode_gives_decode_returns(codec_http: httpx.AsyncClient) -> None:
    encoded = await codec_http.post("/encode", json=body(plain()), headers={**AUTH, "X-Namespace": "default"})
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    assert base64.b64decode(sealed["metadata"][KEY_ID]) == b"k2"
    assert b"Anna" not in base64.b64decode(sealed["data"])

    decoded = await codec_http.post("/decode", json=encoded.json(), headers=AUTH)

    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == body(plain())


async def test_decode_reads_old_keys_and_leaves_plain_payloads_alone(codec_http: httpx.AsyncClient) -> None:
    [old] = await EncryptionCodec({"k1": OLD}, "k1").encode([plain(b'"old"')])

    decoded = await codec_http.post("/decode", json=body(old, plain(b'"never encrypted"')), headers=AUTH)

    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == body(plain(b'"old"'), plain(b'"never encrypted"'))


async def test_a_payload_under_an_unknown_key_is_422_naming_the_key(codec_http: httpx.AsyncClient) -> None:
    [sealed] = await EncryptionCodec({"k0": os.urandom(32)}, "k0").encode([plain()])

    response = await codec_http.post("/decode", json=body(sealed), headers=AUTH)

    assert response.status_code == 422, response.text
    assert "'k0'" in response.json()["detail"]


@pytest.mark.parametrize("content", [
    b"", b"not json", b"[1, 2]", b'{"payloads": "x"}', b'{"payloads": [{"data": 5}]}',
    b'{"payloads": [{"data": "a"}]}', b"\xff\xfe",
])
async def test_a_body_that_is_not_payloads_json_is_400(codec_http: httpx.AsyncClient, content: bytes) -> None:
    response = await codec_http.post("/decode", content=content,
                                     headers={**AUTH, "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert '{"payloads"' in response.json()["detail"]


async def test_the_ui_origin_passes_the_cors_preflight(codec_http: httpx.AsyncClient) -> None:
    response = await codec_http.options("/decode", headers={
        "Origin": UI_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace"})

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_another_origin_fails_the_cors_preflight(codec_http: httpx.AsyncClient) -> None:
    response = await codec_http.options("/decode", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_refusal_still_carries_cors_headers_so_the_ui_can_read_it(codec_http: httpx.AsyncClient) -> None:
    response = await codec_http.post("/decode", json=body(plain()), headers={"Origin": UI_ORIGIN})

    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_tokenless_dev_codec_server_answers_only_requests_to_loopback() -> None:
    app = create_app(make_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8081") as local:
        assert (await local.post("/decode", json=body(plain()))).status_code == 200
    # A page whose name was rebound to 127.0.0.1 still sends its own name as the Host.
    async with httpx.AsyncClient(transport=transport, base_url="http://rebound.evil.example:8081") as rebound:
        response = await rebound.post("/decode", json=body(plain()))
    assert response.status_code == 403, response.text
    assert "loopback" in response.json()["detail"]


async def test_health_needs_no_token(codec_http: httpx.AsyncClient) -> None:
    assert (await codec_http.get("/healthz")).json() == {"status": "ok"}
