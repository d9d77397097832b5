"""The JSON API (``/api/v1``), documented by the OpenAPI schema at ``/api/openapi.json``.

Every endpoint needs a session (sign in at ``/login``; the cookie carries it) and answers
401 without one, 403 outside the user's role or organisation, 404 for an unknown area or
year. Table endpoints take ``format=json|csv|xlsx``; downloads are rate limited per user.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from phm.web import service
from phm.web.data import MART_NAMES
from phm.web.datasets import DATASETS, DatasetName
from phm.web.export import CSV_TYPE, XLSX_TYPE, download
from phm.web.roles import Role
from phm.web.store import Session

router = APIRouter(prefix="/api/v1", tags=["api"])
Value = int | float | str | bool | None


class Level(StrEnum):
    icb = "icb"
    place = "place"
    pcn = "pcn"
    practice = "practice"


class Format(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class ColumnInfo(BaseModel):
    name: str
    label: str
    kind: Literal["label", "count", "standardised", "money", "ratio", "analyst_only"] = Field(
        description="How disclosure control treats the column (phm.disclosure.Kind)")


class AreaInfo(BaseModel):
    level: str
    code: str
    name: str


class Table(BaseModel):
    """A scoped table. Suppressed or withheld values are the string \"*\"."""

    dataset: str
    title: str
    fy: int | None = Field(description="Financial year (by its start year); null = every year")
    areas: list[AreaInfo]
    disclosure_controlled: bool
    note: str
    columns: list[ColumnInfo]
    rows: list[dict[str, Value]]
    provenance: dict[str, str]


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    role_label: str
    organisation: str
    areas: list[AreaInfo]
    dq_submitters: list[str]


class Practice(BaseModel):
    practice: AreaInfo
    comparators: list[AreaInfo]
    tables: dict[str, Table]


class MartInfo(BaseModel):
    name: str
    rows: int


class AuditRecord(BaseModel):
    id: int
    at_utc: str
    username: str | None
    organisation: str | None
    role: str | None
    action: str
    target: str
    outcome: str
    status: int
    client: str | None


class UserInfo(BaseModel):
    username: str
    display_name: str
    role: str
    organisation: str


class Error(BaseModel):
    """Every error has this one shape."""

    detail: str = Field(description="What went wrong, for a person to read")


Auth = Annotated[Session, Depends(service.session_or_401)]


class JSONBytes(Response):
    """Already-serialised JSON (the schema is still documented by ``response_model``)."""

    media_type = "application/json"
DOWNLOAD = {200: {"content": {CSV_TYPE: {}, XLSX_TYPE: {}}, "description": "JSON, or a CSV/XLSX download"}}
ERRORS = {status: {"model": Error, "description": text} for status, text in (
    (401, "Not signed in"), (403, "Outside your role or organisation"), (404, "No such area, year or table"),
    (422, "Invalid parameters"), (429, "Too many downloads"))}


def _respond(request: Request, session: Session, result: service.Result, fmt: Format, name: str):
    w = service.web(request)
    payload = result.as_json(w.data.build_info)
    if fmt is Format.json:
        return payload
    if w.exports.hit(session.user.username):
        raise HTTPException(429, "too many downloads; wait a minute")
    return download(fmt.value, name, payload)


@router.get("/me", response_model=Me, responses=ERRORS)
async def me(request: Request, session: Auth):
    """Who you are and which areas and data-quality submitters you may see."""
    data = service.web(request).data
    areas = sorted(data.permitted(session.user.role, session.user.organisation),
                   key=lambda a: (["icb", "place", "pcn", "practice"].index(a[0]), a[1]))
    u = session.user
    return Me(username=u.username, display_name=u.display_name, role=u.role.value, role_label=u.role.label,
              organisation=u.organisation, areas=[service.area_info(data.hierarchy, a) for a in areas],
              dq_submitters=service.dq_submitters(data, session))


@router.get("/data/{dataset}", response_model=Table, responses={**DOWNLOAD, **ERRORS})
async def data(request: Request, session: Auth, dataset: DatasetName,
               level: Annotated[Level | None, Query(description="Area level (default: your organisation's)")] = None,
               area: Annotated[str | None, Query(max_length=20, description="One area code at that level")] = None,
               within: Annotated[str | None, Query(max_length=30, pattern=r"^(icb|place|pcn|practice):[A-Za-z0-9]+$",
                                                   description="Only areas under this one, as level:code")] = None,
               fy: Annotated[int | None, Query(ge=1990, le=2100, description="Financial year by start year (default latest)")] = None,
               format: Format = Format.json):
    """One dashboard table for the areas you ask for, scoped to your organisation."""
    w = service.web(request)
    level_asked, areas = service.resolve_areas(w.data, session, level.value if level else None, area, within)
    service.served_at(dataset.value, level_asked)
    controlled = session.user.role.disclosure_controlled

    def result():
        return service.dataset_for(w.data, dataset.value, areas, fy, controlled)

    if format is Format.json:  # the same areas give the same bytes: serialise once
        key = ("data", dataset.value, tuple(areas), fy, controlled)
        return JSONBytes(w.data.cached_json(key, lambda: result().as_json(w.data.build_info)))
    return _respond(request, session, result(), format, dataset.value)


@router.get("/practice/{code}", response_model=Practice, responses=ERRORS)
async def practice(request: Request, session: Auth, code: Annotated[str, Path(max_length=20)],
                   fy: Annotated[int | None, Query(ge=1990, le=2100)] = None):
    """One practice with its PCN and the ICB as comparators."""
    data = service.web(request).data
    service.resolve_areas(data, session, "practice", code)  # 403/404 outside the organisation
    controlled = session.user.role.disclosure_controlled

    def make() -> dict:
        views = service.practice_view(data, session, code, fy)
        areas = next(iter(views.values())).areas
        return {"practice": areas[0], "comparators": areas[1:],
                "tables": {k: v.as_json(data.build_info) for k, v in views.items()}}

    return JSONBytes(data.cached_json(("practice", code, fy, controlled), make))


@router.get("/dq/{what}", response_model=Table, responses={**DOWNLOAD, **ERRORS})
async def dq(request: Request, session: Auth, what: Literal["scores", "results"],
       submitter: Annotated[str | None, Query(max_length=20)] = None, format: Format = Format.json):
    """Data-quality scores or rule results; providers and practices see only their own submissions."""
    result = service.dq(service.web(request).data, session, what, submitter)
    return _respond(request, session, result, format, f"dq-{what}")


@router.get("/dq-feedback/{submitter}", responses={200: {"content": {CSV_TYPE: {}}}, **ERRORS})
def dq_feedback(request: Request, session: Auth, submitter: Annotated[str, Path(max_length=20)]):
    """The record-level feedback file for one submitter: its own failing and quarantined records."""
    w = service.web(request)
    if submitter not in service.dq_submitters(w.data, session):
        if session.user.role is Role.ANALYST:
            raise HTTPException(404, f"no data-quality results for submitter {submitter}")
        raise HTTPException(403, f"submitter {submitter} is not your organisation")
    if w.exports.hit(session.user.username):
        raise HTTPException(429, "too many downloads; wait a minute")
    body = w.data.feedback(submitter)
    return Response(body, media_type=CSV_TYPE,
                    headers={"content-disposition": f'attachment; filename="phm-dq-feedback-{submitter}.csv"'})


@router.get("/marts", response_model=list[MartInfo], responses=ERRORS)
def marts(request: Request, session: Auth):
    """The row-level pseudonymised marts (ICB analysts only)."""
    data = service.web(request).data
    service.require_row_level(data, session)
    return [MartInfo(name=m, rows=data.mart_count(m)) for m in data.marts]


MartName = StrEnum("MartName", {m: m for m in MART_NAMES})


@router.get("/marts/{name}", response_model=list[dict[str, Value]], responses=ERRORS)
def mart_rows(request: Request, session: Auth, name: MartName,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0):
    """Rows of one pseudonymised mart (ICB analysts only): ``person_id`` is the spine's surrogate key."""
    data = service.web(request).data
    service.require_row_level(data, session)
    if name.value not in data.marts:
        raise HTTPException(404, f"the warehouse has no {name.value}")
    t = data.mart(name.value, limit, offset)
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in t.to_pylist()]


@router.get("/costliest", response_model=Table, responses={**DOWNLOAD, **ERRORS})
def costliest(request: Request, session: Auth,
              fy: Annotated[int | None, Query(ge=1990, le=2100, description="Financial year by start year (default latest)")] = None,
              format: Format = Format.json):
    """The costliest people of one financial year, one pseudonymised row each, with names beside the
    codes (ICB analysts only; the mart ``spend_top_persons`` as a table)."""
    result = service.costliest(service.web(request).data, session, fy)
    return _respond(request, session, result, format, "costliest")


@router.get("/audit", response_model=list[AuditRecord], responses=ERRORS)
async def audit(request: Request, session: Auth, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
          username: Annotated[str | None, Query(max_length=64)] = None):
    """The audit log, newest first (administrators only)."""
    service.require(session, Role.ADMIN)
    return service.web(request).store.audit_rows(limit, offset, username)


@router.get("/users", response_model=list[UserInfo], responses=ERRORS)
async def users(request: Request, session: Auth):
    """Users (administrators only); passwords are never shown."""
    service.require(session, Role.ADMIN)
    return [UserInfo(username=u.username, display_name=u.display_name, role=u.role.value,
                     organisation=u.organisation) for u in service.web(request).store.users()]


__all__ = ["DATASETS", "router"]
