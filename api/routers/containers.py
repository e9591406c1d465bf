"""The container catalogue: the boxes, crates and pallets the packing plans use. Warehouse
staff read it; operations add containers, change their sizes, limits and cost, and retire
them (``active: false``). Packing plans made from then on use the active containers only;
plans already made keep the containers they name."""

import re
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from activities.planning.packing import KINDS
from api.deps import Ops, Sessions, WarehouseOrOps
from api.errors import ApiError
from api.routers.orders import AUTH_RESPONSES, invalid
from api.schemas import CleanText, Dimension, ErrorOut
from logs import get_logger
from storage.containers import Container, list_containers
from storage.db import transaction

router = APIRouter(prefix="/warehouse/containers", tags=["warehouse"])
log = get_logger(__name__)

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
_CODE = re.compile(CODE_PATTERN)
Grams = Annotated[int, Field(gt=0, le=10_000_000, description="grams")]
Tare = Annotated[int, Field(ge=0, le=10_000_000, description="grams: the empty container's own weight")]
Cost = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2,
                                description="euro per container used, e.g. \"0.85\"")]
ContainerName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Code = Annotated[str, Path(description="The container's code, e.g. BOX-M (case does not matter)")]
NOT_FOUND = {404: {"model": ErrorOut, "description": "No container with that code"}}
# FastAPI's own 422 schema (api.errors documents what it really carries), with our description.
UNPROCESSABLE = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
BOX_EXAMPLE = {"code": "BOX-XL", "name": "Box XL", "kind": "box", "length_mm": 800, "width_mm": 500,
               "height_mm": 500, "max_weight_grams": 30_000, "tare_grams": 900, "cost": "2.10"}


class ContainerIn(CleanText):
    """``POST /warehouse/containers``: a container to add to the catalogue."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN, description="Letters, digits, - and _, up to 32; stored in upper case")
    name: ContainerName
    kind: str = Field(description="box, crate or pallet", json_schema_extra={"enum": list(KINDS)})
    length_mm: Dimension = Field(description="inner length, mm")
    width_mm: Dimension = Field(description="inner width, mm")
    height_mm: Dimension = Field(description="inner height, mm (a pallet: the height it may be loaded to)")
    max_weight_grams: Grams = Field(description="the most its contents may weigh, grams")
    tare_grams: Tare
    cost: Cost
    active: bool = Field(default=True, description="false: in the catalogue, but not planned with")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        return v

    @model_validator(mode="after")
    def _tare_below_limit(self) -> "ContainerIn":
        if self.tare_grams >= self.max_weight_grams:
            raise ValueError("tare_grams (the container's own weight) must be less than max_weight_grams")
        return self


class ContainerChange(CleanText):
    """``PATCH /warehouse/containers/{code}``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: ContainerName | None = None
    length_mm: Dimension | None = None
    width_mm: Dimension | None = None
    height_mm: Dimension | None = None
    max_weight_grams: Grams | None = None
    tare_grams: Tare | None = None
    cost: Cost | None = None
    active: bool | None = Field(default=None, description="false retires the container, true brings it back")

    @model_validator(mode="before")
    @classmethod
    def _no_identity_change(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fixed = [k for k in ("code", "kind") if k in data]
            if fixed:
                raise ValueError(f"{' and '.join(fixed)} cannot change: add a new container with POST "
                                 "/warehouse/containers and retire this one with {\"active\": false}")
        return data

    @model_validator(mode="after")
    def _something_to_change(self) -> "ContainerChange":
        if not self.model_fields_set:
            raise ValueError("nothing to change: give one or more of " + ", ".join(type(self).model_fields))
        nulls = sorted(k for k in self.model_fields_set if getattr(self, k) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may not be null; leave a field out to keep its value")
        return self


class ContainerOut(BaseModel):
    code: str
    name: str
    kind: str = Field(description="box, crate or pallet")
    length_mm: int = Field(description="inner length, mm")
    width_mm: int = Field(description="inner width, mm")
    height_mm: int = Field(description="inner height, mm (a pallet: its load height)")
    max_weight_grams: int = Field(description="the most its contents may weigh")
    tare_grams: int = Field(description="its own weight")
    cost: Decimal = Field(description="euro per container used")
    active: bool = Field(description="false: retired, not planned with")
    updated_by: str = Field(description="the API key that last changed it (seed: the migration or demo seed)")


def container_out(row: Container) -> ContainerOut:
    return ContainerOut(code=row.code, name=row.name, kind=row.kind, length_mm=row.length_mm, width_mm=row.width_mm,
                        height_mm=row.height_mm, max_weight_grams=row.max_weight_grams, tare_grams=row.tare_grams,
                        cost=row.cost, active=row.active, updated_by=row.updated_by)


def _normalised(code: str) -> str | None:
    return code.upper() if _CODE.match(code) else None


@router.get("", response_model=list[ContainerOut], responses=AUTH_RESPONSES, summary="List the container catalogue")
async def get_containers(
    principal: WarehouseOrOps,
    sessions: Sessions,
    active: Annotated[bool | None, Query(description="Only active (true) or retired (false) containers")] = None,
) -> list[ContainerOut]:
    """The boxes, crates and pallets, each kind smallest first, with inner size (mm), the
    most their contents may weigh, their tare (grams) and cost (euro). Packing plans use the
    active ones. Roles: warehouse, ops."""
    async with sessions() as session:
        return [container_out(r) for r in await list_containers(session, active=active)]


@router.get("/{code}", response_model=ContainerOut, summary="Get one container",
            responses={**AUTH_RESPONSES, **NOT_FOUND})
async def get_container(code: Code, principal: WarehouseOrOps, sessions: Sessions) -> ContainerOut:
    """One container of the catalogue. Roles: warehouse, ops."""
    normalised = _normalised(code)
    if normalised is not None:
        async with sessions() as session:
            row = await session.get(Container, normalised)
        if row is not None:
            return container_out(row)
    raise ApiError(404, f"no container {code[:40]!r}; see GET /warehouse/containers")


@router.post("", status_code=201, response_model=ContainerOut, summary="Add a container", responses={
    **AUTH_RESPONSES, 409: {"model": ErrorOut, "description": "A container with that code exists already"},
    422: {**UNPROCESSABLE, "description": "Invalid body: a size or weight not above 0, tare not below the weight "
                                          "limit, an unknown kind, a negative cost"}})
async def add_container(
    principal: Ops,
    sessions: Sessions,
    response: Response,
    body: Annotated[ContainerIn, Body(openapi_examples={"box": {"summary": "A larger box", "value": BOX_EXAMPLE}})],
) -> ContainerOut:
    """Body: `code`, `name`, `kind` (box, crate or pallet), the inner `length_mm`,
    `width_mm`, `height_mm` (a pallet: its load height), `max_weight_grams` (contents),
    `tare_grams` (less than the limit), `cost` (euro) and `active` (default true).

    Packing plans made from now on may use it: the planner puts items that fit no box on a
    crate or pallet, the rest in as few boxes as it can, then the smallest (then cheapest)
    size that takes them. Roles: ops."""
    code = body.code.upper()
    try:
        async with transaction(sessions) as session:
            if await session.get(Container, code) is not None:
                raise ApiError(409, f"container {code!r} exists already; change it with PATCH "
                                    f"/warehouse/containers/{code}, or choose another code")
            row = Container(**{**body.model_dump(), "code": code}, updated_by=principal.name)
            session.add(row)
    except IntegrityError as exc:  # added at the same moment by another request
        raise ApiError(409, f"container {code!r} exists already; change it with PATCH "
                            f"/warehouse/containers/{code}, or choose another code") from exc
    log.info("container added", code=code, kind=row.kind, by=principal.name)
    response.headers["Location"] = f"/warehouse/containers/{code}"
    return container_out(row)


@router.patch("/{code}", response_model=ContainerOut, summary="Change or retire a container", responses={
    **AUTH_RESPONSES, **NOT_FOUND,
    422: {**UNPROCESSABLE, "description": "Invalid body, nothing to change, or a tare that would not be below "
                                          "the weight limit"}})
async def change_container(
    code: Code,
    principal: Ops,
    sessions: Sessions,
    body: Annotated[ContainerChange, Body(openapi_examples={
        "retire": {"summary": "Retire it", "value": {"active": False}},
        "cost": {"summary": "A new price and limit", "value": {"cost": "0.95", "max_weight_grams": 25_000}}})],
) -> ContainerOut:
    """Body: any of `name`, `length_mm`, `width_mm`, `height_mm`, `max_weight_grams`,
    `tare_grams`, `cost`, `active`; the others keep their values. `{"active": false}` retires
    the container: plans made from now on do not use it (an item that no active container
    takes is listed as unpacked), plans already made keep it. `code` and `kind` do not
    change: add a new container and retire this one. Roles: ops."""
    normalised = _normalised(code)
    changes = body.model_dump(exclude_unset=True)
    async with transaction(sessions) as session:
        row = None
        if normalised is not None:
            row = (await session.execute(select(Container).where(Container.code == normalised)
                                         .with_for_update())).scalar_one_or_none()
        if row is None:
            raise ApiError(404, f"no container {code[:40]!r}; see GET /warehouse/containers")
        tare = changes.get("tare_grams", row.tare_grams)
        limit = changes.get("max_weight_grams", row.max_weight_grams)
        if tare >= limit:
            raise invalid(("body", "tare_grams" if "tare_grams" in changes else "max_weight_grams"),
                          f"tare_grams ({tare}) must be less than max_weight_grams ({limit})")
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_by = principal.name
    log.info("container changed", code=row.code, changes=sorted(changes), by=principal.name)
    return container_out(row)
