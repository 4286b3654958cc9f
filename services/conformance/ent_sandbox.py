"""The GAR's place toward an ENT integrator's live peers: a service provider and a list API.

``conformance idp --listen`` serves the harness's own SAML service provider: its metadata
(entityID, ACS, signing certificate — a sandbox key kept beside the testbed's others, never
the broker's), a login URL that sends a signed HTTP-Redirect AuthnRequest to the SSO endpoint
of the ENT's identity provider (from its metadata), and an ACS that checks every Response it
receives with :mod:`services.conformance.idp_checks`, solicited or not.

``conformance mediacentre --listen`` serves the mediacentre list as the broker does
(``GET /ressources/{idENT}/{UAI}/{idUser}``, also ``/resources/…``): the broker's wire format
(``broker.mediacentre_wire``) on a small synthetic list, its ``Erreur`` body on a bad call;
every request it receives is checked with :mod:`services.conformance.mediacentre_checks`,
whatever its path, so a misspelt call is reported rather than lost in a 404.

Each message received becomes numbered lines of the run's report (:class:`Log`); the command
waits for as many as it was asked for, or for its timeout.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from lxml import etree

from broker import mediacentre_wire, thumbnails
from broker.mediacentre_list import Openable
from services.conformance import idp_checks, mediacentre_checks
from services.conformance.checks import Check
from services.keys import KeyPair, load_or_create
from services.saml import bindings, build, metadata
from services.saml.constants import BINDING_REDIRECT, NS
from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata
from services.scolomfr import DOCUMENT_TYPES, LEVELS, PEDAGOGICAL_TYPES, SUBJECTS
from services.web import error_page, install_error_handlers, make_environment, problem, render

KEY_NAME = "conformance-sp"
SERVICE_NAME = "Banc de conformité GAR (côté ENT)"
METADATA_PATH = "/saml/sp/metadata"
ACS_PATH = "/saml/sp/acs"
LOGIN_PATH = "/login"
REQUEST_LIFETIME = timedelta(minutes=10)
_MAX_PENDING = 1000
RESPONSE, CALL = "response", "mediacentre.call"
_SAML = NS["saml"]

_EDITOR = "000000000_0000000000000001"
#: What the list API answers: two resources in the broker's shape, for every valid call.
SYNTHETIC: tuple[Openable, ...] = (
    Openable(id="ark:/99999/banc-conformite-manuel", title="Manuel de démonstration",
             editor_id=_EDITOR, editor_name="Banc de conformité GAR", distributor_id=_EDITOR,
             thumbnail_url="/vignettes/banc-manuel.svg", presentation="MAN",
             levels=(LEVELS["scolomfr-voc-022-num-021"],),
             subjects=(SUBJECTS["scolomfr-voc-015-num-1412"],),
             pedagogical_types=(PEDAGOGICAL_TYPES["scolomfr-voc-010-num-014"],),
             document_types=(DOCUMENT_TYPES["scolomfr-voc-005-num-024"],)),
    Openable(id="ark:/99999/banc-conformite-dictionnaire", title="Dictionnaire de démonstration",
             editor_id=_EDITOR, editor_name="Banc de conformité GAR", distributor_id=_EDITOR,
             thumbnail_url="/vignettes/banc-dictionnaire.svg", presentation="DIC",
             levels=(), subjects=(), pedagogical_types=(),
             document_types=(DOCUMENT_TYPES["scolomfr-voc-005-num-039"],)),
)
_THUMBNAILS = {item.thumbnail_url: item for item in SYNTHETIC}


@dataclass(frozen=True)
class _Pending:
    relay_state: str
    expires: datetime


class Log:
    """What the sandbox received, shared by its routes and the command that waits on it
    (possibly from another thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[Check] = []
        self._counts: Counter[str] = Counter()
        self._pending: dict[str, _Pending] = {}

    def expect(self, request_id: str, relay_state: str, now: datetime) -> None:
        with self._lock:
            self._pending = {k: v for k, v in self._pending.items() if v.expires > now}
            if len(self._pending) >= _MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
            self._pending[request_id] = _Pending(relay_state, now + REQUEST_LIFETIME)

    def take(self, request_id: str | None, now: datetime) -> _Pending | None:
        """The pending request ``request_id``, once: a second Response to it is unknown."""
        with self._lock:
            pending = self._pending.pop(request_id, None) if request_id else None
        return pending if pending is not None and pending.expires > now else None

    def record(self, kind: str, label: str, found: Sequence[Check], note: str = ""
               ) -> list[Check]:
        """Number the message, name its lines after it, keep them; return them."""
        with self._lock:
            self._counts[kind] += 1
            number = self._counts[kind]
            group = f"{label} n°{number}" + (f" ({note})" if note else "")
            lines = [replace(c, id=f"{kind}.{number}.{c.id.removeprefix(kind + '.')}",
                             group=group) for c in found]
            self._lines += lines
        return lines

    def count(self, kind: str) -> int:
        with self._lock:
            return self._counts[kind]

    def lines(self) -> list[Check]:
        with self._lock:
            return list(self._lines)


@dataclass(frozen=True)
class EntSandbox:
    base_url: str
    key: KeyPair
    idp: EntityMetadata | None = None  # the ENT's identity provider: serves the SP role
    mediacentre: bool = False  # serves the list API
    ent_ids: tuple[str, ...] = ()
    client_cert_sha256: str | None = None
    strict: bool = False
    skew: timedelta = timedelta(minutes=2)
    max_xml_bytes: int = 256 * 1024
    log: Log = field(default_factory=Log, compare=False, repr=False)

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}{METADATA_PATH}"

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}{ACS_PATH}"

    @property
    def login_url(self) -> str:
        return f"{self.base_url}{LOGIN_PATH}"

    @property
    def list_url(self) -> str:
        return f"{self.base_url}/ressources/{{idENT}}/{{UAI}}/{{idUser}}"

    def metadata(self) -> bytes:
        return metadata.sp_metadata(
            entity_id=self.entity_id, acs_url=self.acs_url, keypairs=[self.key],
            authn_requests_signed=True, want_assertions_signed=True,
            requested_attributes=("idEnt", "GARPersonIdentifiant", "FrEduCtRefId"),
            organization="Banc de conformité GAR (bac à sable, côté ENT)",
        )


def load_key(keys_dir: Path) -> KeyPair:
    """The sandbox service provider's signing key: kept, so an ENT registers it once."""
    return load_or_create(keys_dir, KEY_NAME, "gar-testbed conformance sandbox (ENT side)")


def create_app(box: EntSandbox) -> FastAPI:
    app = FastAPI(title="conformance-ent", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app, name=SERVICE_NAME)
    env = make_environment("services.conformance")

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return render(env, request, "ent_sandbox.html", box=box,
                      responses=box.log.count(RESPONSE), calls=box.log.count(CALL), entry=False)

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=404)

    if box.idp is not None:
        _install_sp(app, box, box.idp)
    if box.mediacentre:
        _install_list(app, box)
    return app


# --------------------------------------------------------------------------- SP role


def _install_sp(app: FastAPI, box: EntSandbox, idp: EntityMetadata) -> None:
    data = box.metadata()

    @app.get(METADATA_PATH)
    async def sp_metadata() -> Response:
        return Response(data, media_type="application/samlmetadata+xml")

    @app.get(LOGIN_PATH)
    async def login(request: Request) -> Response:
        sso = idp.sso_url(BINDING_REDIRECT)
        if sso is None:
            return error_page(request, 409, "conformance.idp.no_redirect_sso",
                              "Connexion impossible", "Les métadonnées de votre fournisseur "
                              "d'identité ne déclarent aucun SingleSignOnService HTTP-Redirect.",
                              "Déclarez-en un, puis relancez le banc.")
        now = datetime.now(UTC)
        request_id, relay_state = build.new_id(), secrets.token_urlsafe(24)
        authn_request = build.authn_request(issuer=box.entity_id, destination=sso,
                                            acs_url=box.acs_url, request_id=request_id, now=now)
        box.log.expect(request_id, relay_state, now)
        location = bindings.encode_redirect(sso, authn_request, kind="SAMLRequest",
                                            relay_state=relay_state, keypair=box.key)
        return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})

    @app.post(ACS_PATH, response_class=HTMLResponse)
    async def acs(request: Request) -> HTMLResponse:
        from services.conformance.report import Report, to_html

        form = await request.form(max_files=0, max_fields=8)
        value, relay_state = form.get("SAMLResponse"), form.get("RelayState")
        lines = received(box, idp, value if isinstance(value, str) else None,
                         relay_state if isinstance(relay_state, str) else None,
                         now=datetime.now(UTC))
        report = Report("idp", idp.entity_id, "", lines)
        page = HTMLResponse(to_html(report, back_url=LOGIN_PATH))
        page.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        return page


def received(box: EntSandbox, idp: EntityMetadata, value: str | None,
             relay_state: str | None, *, now: datetime) -> list[Check]:
    """Check one Response posted to the ACS and record its lines."""
    try:
        if not value:
            raise SamlError("saml.binding.invalid", "SAMLResponse is missing")
        root = bindings.decode_post(value, max_bytes=box.max_xml_bytes)
    except SamlError as exc:
        return box.log.record(RESPONSE, "Réponse", [idp_checks.unreadable(exc)])
    # Who it claims to answer selects the pending request; the checks then compare that
    # request's ID with the values read from the signed elements.
    pending_id = root.get("InResponseTo") or _confirmation_irt(root)
    pending = box.log.take(pending_id, now)
    expected = idp_checks.Expected(
        issuer=idp.entity_id, sp_entity_id=box.entity_id, acs_url=box.acs_url,
        request_id=pending_id if pending is not None else None, live=True, strict=box.strict,
        ent_ids=box.ent_ids, skew=box.skew)
    found = idp_checks.checks(root, idp.idp.signing_certificates if idp.idp else (), expected,
                              now=now)
    if pending is not None:
        kept = relay_state == pending.relay_state
        found.append(Check("response.relay_state", "RelayState rendu tel quel",
                           "ok" if kept else "error", (relay_state or "(absent)")[:200],
                           "" if kept else "Renvoyez exactement le RelayState reçu avec "
                           "l'AuthnRequest (le GAR y garde la ressource demandée).",
                           pending.relay_state))
    return box.log.record(RESPONSE, "Réponse", found,
                          "sollicitée" if pending is not None else "")


def _confirmation_irt(root: etree._Element) -> str | None:
    data = root.find(f"{{{_SAML}}}Assertion/{{{_SAML}}}Subject/{{{_SAML}}}SubjectConfirmation/"
                     f"{{{_SAML}}}SubjectConfirmationData")
    return data.get("InResponseTo") if data is not None else None


# --------------------------------------------------------------------------- list API

#: A refused call's answer, by the first error line (otherwise the list is answered).
_REFUSALS = {
    "mediacentre.call.ent": "mediacentre.other_ent",
    "mediacentre.call.uai": "mediacentre.unknown_establishment",
}


def _install_list(app: FastAPI, box: EntSandbox) -> None:
    @app.get("/vignettes/{name}.svg")
    async def thumbnail(name: str) -> Response:
        item = _THUMBNAILS.get(f"/vignettes/{name}.svg")
        if item is None:
            return Response(status_code=404)
        return Response(thumbnails.svg(item.title, item.presentation),
                        media_type=thumbnails.SVG_TYPE, headers=thumbnails.SVG_HEADERS)

    env = make_environment("services.conformance")

    @app.get("/domaineGar", response_class=HTMLResponse)
    async def entry(request: Request) -> HTMLResponse:
        return render(env, request, "ent_sandbox.html", box=box,
                      responses=box.log.count(RESPONSE), calls=box.log.count(CALL), entry=True)

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    async def list_call(request: Request, path: str) -> Response:
        return answer_call(box, request.method, _raw_target(request), dict(request.headers),
                           now=datetime.now(UTC))


def _raw_target(request: Request) -> str:
    """The path as sent (still percent-encoded), with its query."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.url.query
    return raw.decode("latin-1") + (f"?{query}" if query else "")


def answer_call(box: EntSandbox, method: str, target: str, headers: dict[str, str], *,
                now: datetime) -> Response:
    """Check one list call, record its lines and answer as the broker would."""
    expected = mediacentre_checks.CallExpected(
        ent_ids=box.ent_ids, client_cert_sha256=box.client_cert_sha256, strict=box.strict,
        live=True, skew=box.skew)
    found = mediacentre_checks.request(method, target, headers, expected, now=now)
    box.log.record(CALL, "Appel de la liste", found)
    errors = [c.id for c in found if not c.passed]
    where = target.split("?", 1)[0].lstrip("/")[:300]
    if "mediacentre.call.certificate" in errors:
        return problem(401, "auth.invalid", "Authentification refusée",
                       "Le certificat présenté ne correspond pas à celui de l'ENT.")
    path = mediacentre_checks.parse_path(target)
    blocking = [e for e in errors if e != "mediacentre.call.date"]
    if path is None or blocking:
        code = _REFUSALS.get(blocking[0], "mediacentre.bad_path") if blocking else \
            "mediacentre.bad_path"
        return mediacentre_wire.erreur(code, where)
    body = mediacentre_wire.liste(SYNTHETIC, broker_base=box.base_url, ent_id=path.ent,
                                  uai=path.uai)
    gzipped = mediacentre_wire.accepts_gzip(headers.get("accept-encoding"))
    return mediacentre_wire.json_response(body, gzipped=gzipped)
