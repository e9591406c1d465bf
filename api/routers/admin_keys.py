"""API key administration by operations: create a key (its plain text is answered once and
stored nowhere, only its SHA-256), list keys (never a hash or a key), and revoke one (it is
refused at once). Who created or revoked a key is recorded by the calling key's name."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field, StringConstraints, model_validator

from api.deps import Ops, Sessions
from api.errors import ApiError
from api.routers.orders import AUTH_RESPONSES
from api.schemas import CHANNEL_PATTERN, ErrorOut
from domain.enums import Role
from logs import get_logger
from storage.api_keys import DuplicateKeyName, LastOpsKey, UnknownKey, create_key, list_keys, revoke_key
from storage.models import ApiKey

router = APIRouter(prefix="/admin/api-keys", tags=["admin"])
log = get_logger(__name__)

# Printable, no leading or trailing blank: the name shows on timelines and in ledgers.
KeyName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$")]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id from POST or GET /admin/api-keys")]


class NewKeyBody(BaseModel):
    name: KeyName = Field(description="Who acts with this key, e.g. 'warehouse hall 2' or 'webshop-nl'; unique "
                                      "among active keys; shown on timelines and in the stock ledger")
    role: Role = Field(description="channel, warehouse, carrier or ops")
    channel: Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)] | None = Field(
        default=None, description="Required for a channel key (the sales channel it acts for); not allowed otherwise")

    @model_validator(mode="after")
    def _channel_fits_role(self) -> "NewKeyBody":
        # Checked here so a wrong combination is a 422 naming the field, like any other bad input.
        if self.role == Role.CHANNEL and self.channel is None:
            raise ValueError("a channel key needs \"channel\": the sales channel it places orders for, e.g. \"webshop\"")
        if self.role != Role.CHANNEL and self.channel is not None:
            raise ValueError(f"only a channel key is bound to a channel; leave \"channel\" out for a {self.role} key")
        return self


class ApiKeyOut(BaseModel):
    id: int
    name: str
    role: Role
    channel: str | None
    created_at: datetime
    created_by: str | None = Field(description="The key that created it (null: the dev profile's keys)")
    revoked: bool
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None = Field(description="When it was last used, to the minute")


class NewKeyOut(ApiKeyOut):
    key: str = Field(description="The key itself. Shown only now: store it safely; Orderflow keeps only its hash")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]


def _out(row: ApiKey) -> dict[str, Any]:
    return dict(id=row.id, name=row.name, role=Role(row.role), channel=row.channel, created_at=row.created_at,
                created_by=row.created_by, revoked=row.revoked, revoked_at=row.revoked_at, revoked_by=row.revoked_by,
                last_used_at=row.last_used_at)


@router.post("", status_code=201, response_model=NewKeyOut, summary="Create an API key",
             responses={**AUTH_RESPONSES,
                        409: {"model": ErrorOut, "description": "An active key has this name"},
                        422: {"description": "Unknown role, channel missing for a channel key (or given for another)"}})
async def create(
    principal: Ops, sessions: Sessions, response: Response,
    body: Annotated[NewKeyBody, Body(openapi_examples={
        "warehouse": {"summary": "A warehouse key", "value": {"name": "warehouse hall 2", "role": "warehouse"}},
        "channel": {"summary": "A sales channel's key",
                    "value": {"name": "webshop-nl", "role": "channel", "channel": "webshop"}}})],
) -> NewKeyOut:
    """Body: `{"name", "role", "channel"?}`. Answers 201 with the key's record and the key
    itself in `key` (prefix `of_`), which is shown this once only. Send it in `X-API-Key`.
    Roles: ops."""
    try:
        row, plain = await create_key(sessions, name=body.name, role=body.role, channel=body.channel,
                                      created_by=principal.name)
    except DuplicateKeyName as exc:
        raise ApiError(409, f"an active key is named {body.name!r} already; choose another name, or revoke that "
                            "key first (every recorded action must name one key)") from exc
    log.info("api key created", key_id=row.id, key_role=row.role)
    response.headers["Location"] = f"/admin/api-keys/{row.id}"
    response.headers["Cache-Control"] = "no-store"
    return NewKeyOut(**_out(row), key=plain)


@router.get("", response_model=ApiKeyPage, responses=AUTH_RESPONSES, summary="List API keys")
async def list_all(
    principal: Ops, sessions: Sessions,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys")] = True,
) -> ApiKeyPage:
    """Every key with its name, role, channel, who created it, whether and when it was revoked
    and by whom, and when it was last used. Never a key or its hash. Roles: ops."""
    async with sessions() as session:
        rows = await list_keys(session, include_revoked=include_revoked)
    return ApiKeyPage(items=[ApiKeyOut(**_out(r)) for r in rows])


@router.post("/{key_id}/revoke", response_model=ApiKeyOut, summary="Revoke an API key",
             responses={**AUTH_RESPONSES,
                        404: {"model": ErrorOut, "description": "No key with this id"},
                        409: {"model": ErrorOut, "description": "The last active ops key"}})
async def revoke(key_id: KeyId, principal: Ops, sessions: Sessions) -> ApiKeyOut:
    """The key is refused (401) from the next request on. Revoking a revoked key answers 200
    with its record, unchanged. The last active ops key cannot be revoked (409): create
    another ops key first. Roles: ops."""
    try:
        row, revoked_now = await revoke_key(sessions, key_id, revoked_by=principal.name)
    except UnknownKey as exc:
        raise ApiError(404, f"no API key with id {key_id}; see GET /admin/api-keys") from exc
    except LastOpsKey as exc:
        raise ApiError(409, f"{exc.args[0]!r} is the last active ops key; revoking it would lock operations out. "
                            "Create another ops key first (POST /admin/api-keys), then revoke this one") from exc
    if revoked_now:
        log.info("api key revoked", key_id=row.id, key_role=row.role)
    return ApiKeyOut(**_out(row))
