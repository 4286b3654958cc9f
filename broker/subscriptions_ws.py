"""The subscriptions web service, distributor → GAR (GAR_REFERENCE §3), under ``/abonnements-ws``.

The real GAR serves these paths at the root of its own host; the testbed shares one host
with the SAML endpoints, so they live under :data:`PREFIX` (a distributor's client only needs
its base URL set to ``{broker}/abonnements-ws``).

Each distributor authenticates (:mod:`broker.api_auth`) and sees only its own subscriptions:
another distributor's id answers 404 exactly as an absent one does, so ids do not leak —
except on creation, where an id taken by anyone answers 409 (ids are global, as at the GAR).
Errors are ``application/problem+json`` with a stable ``code``: the real GAR's own error body
is not documented. Every request runs in one transaction; a refusal writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from broker import licences
from broker import subscription_natures as natures
from broker import subscription_rules as rules
from broker import subscription_xml as wire
from broker.api_auth import ApiClient, client_dependency
from broker.models import Establishment, Subscription
from broker.subscription_rules import SubscriptionError, Terms
from services import web

PREFIX = "/abonnements-ws"
XML = "application/xml; charset=utf-8"
MAX_PAGE = 1000
CSV_HEADER = (
    "UAI;idAbonnement;codeProjetRessource;idRessource;cumulAffectationEleve;"
    "cumulAffectationEnseignant;cumulAffectationDocumentaliste;cumulAffectationAutrePersonnel"
)
COUNT_AUDIENCES = ("ELEVE", "ENSEIGNANT", "DOCUMENTALISTE", "AUTRE PERSONNEL")
SORTABLE: dict[str, Any] = {
    "idAbonnement": Subscription.id,
    "idDistributeurCom": Subscription.distributor_id,
    "uaiEtab": Subscription.uai,
    "typeAffectation": Subscription.type,
    "categorieAffectation": Subscription.category,
    "codeProjetRessource": Subscription.project_code,
    "dateCreation": Subscription.created_at,
    "dateModification": Subscription.updated_at,
    "debutValidite": Subscription.start_at,
    "finValidite": Subscription.end_at,
}

router = APIRouter(prefix=PREFIX)
Distributor = Annotated[ApiClient, Depends(client_dependency("distributor"))]


def _problem(error: SubscriptionError) -> Response:
    titles = {
        400: "Requête refusée",
        403: "Opération interdite",
        404: "Introuvable",
        405: "Méthode non acceptée",
        409: "Conflit",
        413: "Requête trop volumineuse",
    }
    return web.problem(error.status, error.code, titles.get(error.status, "Erreur"), error.detail)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return wire.is_json(request.headers.get("content-type")) or (
        "json" in accept and "xml" not in accept
    )


async def _transaction(request: Request, step: Callable[[Session, datetime], Response]) -> Response:
    """Run ``step`` in one transaction, in a worker thread; any refusal rolls everything back."""

    def run() -> Response:
        now = datetime.now(UTC)
        with request.app.state.broker.sessions() as session:
            try:
                response = step(session, now)
                session.commit()
            except SubscriptionError as error:
                session.rollback()
                return _problem(error)
            except IntegrityError:  # a concurrent create took the id first
                session.rollback()
                return _problem(_exists(request.path_params.get("subscription_id", "")))
            return response

    return await run_in_threadpool(run)


def _exists(subscription_id: str) -> SubscriptionError:
    return SubscriptionError(
        "subscription.exists", f"L'abonnement {subscription_id} existe deja.", 409
    )


def _not_found(subscription_id: str) -> SubscriptionError:
    return SubscriptionError(
        "subscription.not_found", f"Aucun abonnement {subscription_id} pour ce distributeur.", 404
    )


def _answer(request: Request, row: Subscription, status: int) -> Response:
    if _wants_json(request):
        return JSONResponse(wire.subscription_json(row), status_code=status)
    return Response(wire.write_subscription(row), status_code=status, media_type=XML)


def _apply(row: Subscription, terms: Terms, now: datetime) -> None:
    row.comment = terms.comment
    row.distributor_id = terms.distributor_id
    row.resource_id = terms.resource_id
    row.resource_label = terms.resource_label
    row.start_at = terms.start_at
    row.end_at = terms.end_at
    row.category = terms.category
    row.type = terms.type
    row.audience = list(terms.audience)
    row.licences_global = terms.licences_global
    row.licences_unlimited = terms.licences_unlimited
    row.licences_student = terms.licences_student
    row.licences_teacher = terms.licences_teacher
    row.licences_librarian = terms.licences_librarian
    row.licences_other = terms.licences_other
    row.project_code = terms.project_code
    row.updated_at = now


def _own(session: Session, client: ApiClient, subscription_id: str) -> Subscription:
    """The caller's live subscription, row-locked; another's answers as if absent."""
    try:
        row = licences.lock(session, subscription_id)  # first: what follows reads under it
    except licences.LicenceError:  # absent, or deleted (renamed) meanwhile
        raise _not_found(subscription_id) from None
    if row.deleted or row.distributor_id != client.ident or natures.is_share(row):
        raise _not_found(subscription_id)  # released with the rollback (a share is internal)
    return row


def _check_references(session: Session, row: Subscription, terms: Terms) -> None:
    if row.uai is not None:
        rules.check_references(session, terms, row.uai)
    else:
        assert row.nature_uai is not None
        rules.check_references(session, terms, None, kind=natures.kind_of(row.nature_uai))


def _check_used(session: Session, row: Subscription, terms: Terms) -> None:
    """Refuse counts below the licences already assigned (the row is locked by now)."""
    used = licences.used(session, row.id)
    total = sum(used.values())
    if terms.licences_unlimited:
        return
    if terms.licences_global is not None:
        if total > terms.licences_global:
            raise _below(f"{total} licences sont déjà affectées, plus que {terms.licences_global}.")
        return
    limits = {
        "ELEVE": terms.licences_student,
        "ENSEIGNANT": terms.licences_teacher,
        "DOCUMENTALISTE": terms.licences_librarian,
        "AUTRE PERSONNEL": terms.licences_other,
    }
    for audience, count in used.items():
        if not count:
            continue
        if audience not in terms.audience:
            raise _below(f"{count} licences {audience} sont affectées : ce public doit rester.")
        limit = limits.get(audience) or 0  # a targeted audience without a count has none
        if count > limit:
            raise _below(f"{count} licences {audience} sont déjà affectées, plus que {limit}.")


def _below(detail: str) -> SubscriptionError:
    return SubscriptionError("subscription.licences_below_used", detail, 409)


# --------------------------------------------------------------------------- listings


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise SubscriptionError("paging.invalid", f"{name} doit être un entier positif.")
    return int(raw)


def _date_bound(value: str | None, name: str) -> datetime | None:
    return None if value is None else rules.parse_datetime(value, name)


def _listing(
    session: Session, client: ApiClient, filters: wire.Filters, first: int, last: int
) -> list[Subscription]:
    query = select(Subscription).where(
        Subscription.distributor_id == client.ident, Subscription.parent_id.is_(None)
    )
    if not filters.include_deleted:
        query = query.where(Subscription.deleted.is_(False))
    for name, values in filters.values.items():
        if name != "publicCible":
            query = query.where(SORTABLE[name].in_(values))
    if filters.date_name is not None:
        column = SORTABLE[filters.date_name]
        before = _date_bound(filters.date_before, "dateAvant")
        after = _date_bound(filters.date_after, "dateApres")
        if before is not None:
            query = query.where(column <= before)
        if after is not None:
            query = query.where(column >= after)
    if filters.sort_by is not None:
        if filters.sort_by not in SORTABLE:
            raise SubscriptionError("filter.invalid", f"Tri impossible sur {filters.sort_by}.")
        column = SORTABLE[filters.sort_by]
        query = query.order_by(column.desc() if filters.descending else column.asc())
    query = query.order_by(Subscription.id)
    rows: Sequence[Subscription] = session.scalars(query).all()
    wanted = set(filters.values.get("publicCible", ()))
    if wanted:
        rows = [row for row in rows if wanted & set(row.audience)]
    return list(rows[first:last])


@router.get("/abonnements")
async def list_subscriptions(request: Request, client: Distributor) -> Response:
    """``GET /abonnements?debut=&fin=`` with a ``filtres`` body (a GET with a body)."""
    body = await request.body()

    def step(session: Session, now: datetime) -> Response:
        first, last = _int_param(request, "debut", 0), _int_param(request, "fin", 100)
        if last < first or last - first > MAX_PAGE:
            raise SubscriptionError(
                "paging.invalid", f"0 ≤ debut ≤ fin, au plus {MAX_PAGE} abonnements par page."
            )
        filters = wire.read_filters(body, request.headers.get("content-type"))
        rows = _listing(session, client, filters, first, last)
        if _wants_json(request):
            return JSONResponse(
                {"abonnements": {"abonnement": [wire.subscription_json(r) for r in rows]}}
            )
        return Response(wire.write_subscriptions(rows), media_type=XML)

    return await _transaction(request, step)


@router.get("/etablissements/etablissements.xml")
async def establishments(request: Request, client: Distributor) -> Response:
    """The establishments connected to the GAR (``listEtablissement``)."""

    def step(session: Session, now: datetime) -> Response:
        rows = session.scalars(select(Establishment).order_by(Establishment.uai)).all()
        return Response(wire.write_establishments(rows), media_type=XML)

    return await _transaction(request, step)


@router.get("/decompteaffectations")
async def assignment_counts(request: Request, client: Distributor) -> Response:
    """Assignments per audience, as CSV, for one subscription or one project code."""

    def step(session: Session, now: datetime) -> Response:
        by_id = request.query_params.get("idAbonnement")
        by_project = request.query_params.get("codeProjetRessource")
        if (by_id is None) == (by_project is None) or not (by_id or by_project):
            raise SubscriptionError(
                "count.parameter", "Donnez exactement un de idAbonnement ou codeProjetRessource."
            )
        query = select(Subscription).where(
            Subscription.distributor_id == client.ident,
            Subscription.deleted.is_(False),
            Subscription.parent_id.is_(None),
        )
        if by_id is not None:
            query = query.where(Subscription.id == by_id)
        else:
            query = query.where(Subscription.project_code == by_project)
        rows = session.scalars(query.order_by(Subscription.uai, Subscription.id)).all()
        if by_id is not None and not rows:
            raise _not_found(by_id)
        # A codeNatureUAI subscription counts per establishment: one line per share.
        places = [
            (share.uai or "", row, share)
            for row in rows
            for share in (natures.shares(session, row.id) if natures.is_by_nature(row) else [row])
        ]
        lines = [CSV_HEADER]
        for uai, row, counted in sorted(places, key=lambda p: (p[0], p[1].id)):
            used = licences.used(session, counted.id)
            counts = [str(used.get(audience, 0)) for audience in COUNT_AUDIENCES]
            lines.append(
                ";".join([uai, row.id, row.project_code or "", row.resource_id, *counts])
            )
        return Response("\n".join(lines) + "\n", media_type="text/csv; charset=utf-8")

    return await _transaction(request, step)


# --------------------------------------------------------------------------- one subscription


@router.put("/{subscription_id}")
async def create(request: Request, subscription_id: str, client: Distributor) -> Response:
    """Create a subscription: 201, or 409 "existe deja" when the id is taken."""
    body = await request.body()

    def step(session: Session, now: datetime) -> Response:
        fields = wire.read_subscription(body, request.headers.get("content-type"))
        terms = rules.check(
            fields, path_id=subscription_id, distributor_id=client.ident, creating=True
        )
        if session.get(Subscription, subscription_id) is not None:
            raise _exists(subscription_id)
        row = Subscription(id=subscription_id, uai=terms.uai, nature_uai=terms.nature_uai,
                           created_at=now, deleted=False)
        _apply(row, terms, now)
        _check_references(session, row, terms)
        session.add(row)
        session.flush()
        if natures.is_by_nature(row):
            natures.create_shares(session, row, now)
        response = _answer(request, row, 201)
        response.headers["Location"] = f"{PREFIX}/{subscription_id}"
        return response

    return await _transaction(request, step)


@router.post("/{subscription_id}")
async def update(request: Request, subscription_id: str, client: Distributor) -> Response:
    """Update a subscription (never its establishment); counts never below what is assigned."""
    body = await request.body()

    def step(session: Session, now: datetime) -> Response:
        fields = wire.read_subscription(body, request.headers.get("content-type"))
        rules.check_id(subscription_id)
        row = _own(session, client, subscription_id)
        terms = rules.check(
            fields, path_id=subscription_id, distributor_id=client.ident, creating=False
        )
        _check_references(session, row, terms)
        updated = [row]
        if natures.is_by_nature(row):  # every establishment's share, each under its lock
            updated += [licences.lock(session, share.id)
                        for share in natures.shares(session, row.id)]
        for each in updated:
            _check_used(session, each, terms)
            _apply(each, terms, now)
        session.flush()
        return _answer(request, row, 200)

    return await _transaction(request, step)


@router.delete("/{subscription_id}")
async def delete(request: Request, subscription_id: str, client: Distributor) -> Response:
    """Delete: 204; the row stays, marked deleted, its id prefixed with ``_``."""

    def step(session: Session, now: datetime) -> Response:
        rules.check_id(subscription_id)
        row = _own(session, client, subscription_id)
        if natures.is_by_nature(row):
            for share in natures.shares(session, row.id):
                natures.retire(session, share, now)
        natures.retire(session, row, now)
        return Response(status_code=204)

    return await _transaction(request, step)


@router.api_route("/{path:path}", methods=["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"])
async def unknown(request: Request, path: str) -> Response:
    """Anything else under the prefix: a problem, never an HTML page."""
    if path and "/" not in path:
        return _problem(SubscriptionError(
            "request.method_not_allowed",
            f"{request.method} n'est pas accepté ici (PUT crée, POST modifie, DELETE supprime).",
            405,
        ))
    return _problem(SubscriptionError(
        "request.unknown_endpoint", "Aucun service à cette adresse.", 404
    ))
