"""Request context for logging: every line logged while handling a request carries its
request id (the caller's ``X-Request-ID`` or a new one, echoed in the response) and, on
order routes, the order id."""

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logs import get_logger

log = get_logger("api.request")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_ORDER_PATH = re.compile(r"^/orders/(ord_[a-z0-9]{1,36})(?:/|$)")


class RequestContextMiddleware:
    """Pure ASGI (not ``BaseHTTPMiddleware``) so the context variables it binds are seen by
    the endpoint, which runs in the same task."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == REQUEST_ID_HEADER.encode()), None)
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        context = {"request_id": request_id}
        if (m := _ORDER_PATH.match(scope["path"])) is not None:
            context["order_id"] = m.group(1)
        status: int | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        before = structlog.contextvars.get_contextvars()
        structlog.contextvars.bind_contextvars(**context)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            log.info("request handled", method=scope["method"], path=scope["path"],
                     status=status if status is not None else 500,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))
            # Handlers bind more (order_id, key name); none of it may leak into the next request.
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**before)
