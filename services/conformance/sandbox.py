"""The harness's own identity provider: the broker's role, with a sandbox key.

The editor's service provider trusts this identity provider (its metadata is printed, written
to a file or served) for the time of the run, never the real broker: the harness signs with
its own key, kept beside the testbed's other keys and never in git.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from services.conformance.cas_sandbox import LOGIN_PATH, CasTickets
from services.conformance.cas_sandbox import install as install_cas
from services.keys import KeyPair, load_or_create
from services.saml import metadata

KEY_NAME = "conformance-idp"
METADATA_PATH = "/saml/idp/metadata"
SSO_PATH = "/saml/idp/sso"


@dataclass(frozen=True)
class Sandbox:
    base_url: str
    key: KeyPair
    #: The CAS side's tickets, decided by the run (so the run must serve the sandbox).
    cas: CasTickets = field(default_factory=CasTickets, compare=False, repr=False)

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}{METADATA_PATH}"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}{SSO_PATH}"

    @property
    def cas_login_url(self) -> str:
        """Where a CAS publisher sends the browser; its CAS server base is ``{base}/cas``."""
        return f"{self.base_url}{LOGIN_PATH}"

    def metadata(self) -> bytes:
        return metadata.idp_metadata(
            entity_id=self.entity_id, sso_url=self.sso_url, keypairs=[self.key],
            want_authn_requests_signed=False,
            organization="Banc de conformité GAR (bac à sable)",
        )


def load(keys_dir: Path, base_url: str) -> Sandbox:
    return Sandbox(base_url.rstrip("/"), load_or_create(keys_dir, KEY_NAME,
                                                        "gar-testbed conformance sandbox"))


def create_app(sandbox: Sandbox, *, max_xml_bytes: int = 256 * 1024) -> FastAPI:
    """Serves the sandbox metadata, a page at the SSO URL for a person who lands there, the
    page that launches a run (:mod:`services.conformance.page`) and the CAS server."""
    from services.conformance import page
    from services.web import install_error_handlers

    app = FastAPI(title="conformance-sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app, name=page.SERVICE_NAME)
    data = sandbox.metadata()
    page.install(app, sandbox, max_xml_bytes=max_xml_bytes)
    install_cas(app, sandbox.cas)

    @app.get(METADATA_PATH)
    async def idp_metadata() -> Response:
        return Response(data, media_type="application/samlmetadata+xml")

    @app.get(SSO_PATH, response_class=HTMLResponse)
    async def sso(request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
            "<title>Banc de conformité GAR</title></head><body><main>"
            "<h1>Banc de conformité GAR</h1><p>Ce fournisseur d'identité de test ne connecte "
            "personne : il sert au banc de conformité, qui répond lui-même aux demandes "
            "d'authentification de votre service pendant l'exécution des scénarios.</p>"
            "</main></body></html>"
        )

    return app
