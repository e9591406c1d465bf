"""The codec server: decrypts (and encrypts) Temporal payloads for operators, so the Temporal
Web UI and the ``temporal`` CLI show orders in plain text while the server stores ciphertext.

``python codec_server.py`` serves Temporal's remote codec protocol on
``codec_server_host:codec_server_port``: ``POST /decode`` and ``POST /encode`` take and return
``{"payloads": [{"metadata": {...}, "data": "<base64>"}]}`` (protobuf JSON, as the UI and CLI
send it). ``GET /healthz`` answers without a token for health checks.

Who may decode: a caller that sends ``Authorization: Bearer <codec_server_token>``
(``temporal --codec-auth "Bearer <token>"``). The local Web UI of the dev server cannot send a
token (the UI only passes its own OIDC access token, and only to an https endpoint), so the
dev profile without a token serves requests addressed to a loopback address while bound to
loopback, and refuses to start on any other address. The production profile refuses to start
without a token. Browsers may call it only from the configured UI origins (CORS).
"""

import hmac
import sys
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from codec import EncryptionCodec, PayloadKeyError, codec_from_settings
from logs import configure_logging, get_logger
from settings import Profile, Settings, get_settings

log = get_logger(__name__)

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
# A production token shorter than this is a placeholder, not a secret.
MIN_TOKEN_LENGTH = 16


class RefusedToStart(RuntimeError):
    """The settings would expose decrypted payloads to callers who should not see them."""


def _token(settings: Settings) -> str:
    return settings.codec_server_token.get_secret_value().strip() if settings.codec_server_token else ""


def check_can_serve(settings: Settings) -> None:
    token = _token(settings)
    if settings.profile == Profile.PRODUCTION and len(token) < MIN_TOKEN_LENGTH:
        raise RefusedToStart(
            "the production profile refuses to start the codec server without ORDERFLOW_CODEC_SERVER_TOKEN "
            f"(at least {MIN_TOKEN_LENGTH} characters; e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if not token and not settings.codec_server_on_loopback:
        raise RefusedToStart(
            f"the codec server without ORDERFLOW_CODEC_SERVER_TOKEN serves only on a loopback address, not on "
            f"{settings.codec_server_host!r}: set a token, or ORDERFLOW_CODEC_SERVER_HOST=127.0.0.1")


def _bearer_check(settings: Settings):  # type: ignore[no-untyped-def]
    token = _token(settings).encode() or None

    async def authorized(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
        if token is None:
            # Tokenless dev mode: only requests addressed to loopback, so that a web page whose
            # name was rebound to 127.0.0.1 (DNS rebinding) cannot read payloads.
            if request.url.hostname not in LOOPBACK_NAMES:
                raise HTTPException(403, "this codec server has no token and answers only requests to a "
                                         "loopback address (http://127.0.0.1:<port>)")
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
            raise HTTPException(401, "send the codec server token as 'Authorization: Bearer <token>' "
                                     "(temporal CLI: --codec-auth 'Bearer <token>')",
                                headers={"WWW-Authenticate": 'Bearer realm="orderflow-codec"'})

    return authorized


async def _read_payloads(request: Request) -> list[Payload]:
    body = await request.body()
    try:
        return list(json_format.Parse(body, Payloads(), ignore_unknown_fields=True).payloads)
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as err:
        raise HTTPException(400, 'send JSON {"payloads": [{"metadata": {"encoding": "<base64>"}, '
                                 f'"data": "<base64>"}}]}} as the Temporal UI and CLI do; this body was not: {err}')


def _answer(payloads: list[Payload]) -> JSONResponse:
    return JSONResponse({"payloads": [json_format.MessageToDict(p) for p in payloads]})


def create_app(settings: Settings | None = None, codec: EncryptionCodec | None = None) -> FastAPI:
    settings = settings or get_settings()
    check_can_serve(settings)
    codec = codec or codec_from_settings(settings)
    app = FastAPI(title="Orderflow codec server", docs_url=None, redoc_url=None, openapi_url=None)
    authorized = Depends(_bearer_check(settings))

    @app.post("/decode", dependencies=[authorized])
    async def decode(request: Request) -> JSONResponse:
        try:
            return _answer(await codec.decode(await _read_payloads(request)))
        except PayloadKeyError as err:
            raise HTTPException(422, str(err))

    @app.post("/encode", dependencies=[authorized])
    async def encode(request: Request) -> JSONResponse:
        return _answer(await codec.encode(await _read_payloads(request)))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Outermost, so that refusals (401, 400) carry CORS headers too and the UI can read them.
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.codec_cors_origins, allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        # The UI's "include cross-origin credentials" option sends cookies: allowed, for an
        # organisation whose proxy in front of this server authenticates by cookie.
        allow_credentials=True, max_age=600)
    return app


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        app = create_app(settings)
    except RefusedToStart as err:
        log.error(str(err))
        return 2
    log.info("codec server starting", host=settings.codec_server_host, port=settings.codec_server_port,
             token_required=bool(_token(settings)), key_id=settings.payload_key_id,
             key_ids=sorted(settings.payload_keys), ui_origins=settings.codec_cors_origins)
    uvicorn.run(app, host=settings.codec_server_host, port=settings.codec_server_port, log_config=None,
                timeout_graceful_shutdown=3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
