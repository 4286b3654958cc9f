"""The harness's page: launch a provider-side run (SAML or CAS) from a browser and read its
report, with the CLI's verdict options.

It is served by ``gar-testbed conformance serve`` beside the sandbox metadata, on loopback by
default. The run makes the harness fetch the URLs typed in the form, so a cross-site form
post (another site driving the person's browser) is refused: only a post from this page runs.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from services.conformance import checks, runner, verdict
from services.conformance.report import Report, to_html
from services.conformance.sandbox import Sandbox
from services.peers import PeerError, fetch_metadata
from services.web import error_page, make_environment, render

SERVICE_NAME = "Banc de conformité GAR"
_ACTION = "Revenez au formulaire, corrigez la valeur indiquée et relancez."


def install(app: FastAPI, sandbox: Sandbox, *, max_xml_bytes: int) -> None:
    env = make_environment("services.conformance")

    @app.get("/", response_class=HTMLResponse)
    async def form(request: Request) -> HTMLResponse:
        return render(env, request, "launch.html", sandbox=sandbox)

    @app.post("/run", response_class=HTMLResponse)
    async def run(request: Request) -> HTMLResponse:
        if not _same_origin(request):
            return error_page(request, 403, "conformance.cross_site",
                              "Lancement refusé", "Le contrôle ne peut être lancé que depuis "
                              "le formulaire de ce banc.", "Ouvrez le formulaire et relancez.")
        fields = await request.form(max_files=0, max_fields=24)
        value = {k: v.strip() for k, v in fields.items() if isinstance(v, str)}
        metadata_url, cas_url = value.get("metadata", ""), value.get("cas_url", "")
        if bool(metadata_url) == bool(cas_url):
            return _bad(request, "conformance.target.missing",
                        "Indiquez soit l'URL des métadonnées SAML, soit l'URL d'accès CAS.")
        if not (metadata_url or cas_url).startswith(("http://", "https://")):
            return _bad(request, "conformance.metadata.url",
                        "L'adresse des métadonnées ou l'URL d'accès CAS doit être une URL "
                        "http(s).")
        try:
            rule = _rule(value)
        except (ValueError, re.error) as exc:
            return _bad(request, "conformance.rule.invalid",
                        "La règle de lecture du verdict est invalide (statuts, marqueurs ou "
                        "page lue ensuite).", detail=str(exc))
        only = value.get("only", "").split()
        if cas_url:
            chosen, _ = runner.cas_plan(rule, only)
            played = await runner.run(chosen, target=runner.Target(cas_url, cas_url),
                                      sandbox=sandbox, rule=rule)
            return _report(Report("provider", cas_url, rule.describe(), (), played))
        try:
            raw = await fetch_metadata(metadata_url, None, max_bytes=max_xml_bytes)
        except PeerError as exc:
            return error_page(request, 502, "conformance.metadata.unreachable",
                              "Métadonnées inaccessibles",
                              "Les métadonnées de votre service n'ont pas pu être lues.",
                              _ACTION, detail=f"{exc.code} : {exc.detail}")
        entity, found = checks.service_provider(raw, fetched_from=metadata_url)
        outcomes: list[runner.Outcome] = []
        if entity is not None and entity.sp is not None and entity.acs_url() is not None:
            chosen, _, target = runner.saml_plan(
                entity, rule, login_url=value.get("login") or None,
                relay_state=value.get("relay") or None,
                resource_id=value.get("resource_id") or None,
                unsolicited=value.get("unsolicited") == "1", only=only)
            outcomes = await runner.run(chosen, target=target, sandbox=sandbox, rule=rule)
        return _report(Report("provider", entity.entity_id if entity else metadata_url,
                              rule.describe(), found, outcomes))

    def _bad(request: Request, code: str, reason: str, *, detail: str | None = None
             ) -> HTMLResponse:
        return error_page(request, 400, code, "Formulaire incomplet ou invalide", reason,
                          _ACTION, detail=detail)


def _rule(value: dict[str, str]) -> verdict.VerdictRule:
    """The verdict rule from the form's fields (the CLI's options, one field each)."""
    def pattern(name: str) -> re.Pattern[str] | None:
        return re.compile(value[name]) if value.get(name) else None

    follow_up = value.get("follow_up") or None
    if follow_up is not None and not follow_up.startswith(("http://", "https://")):
        raise ValueError("la page lue ensuite doit être une URL http(s)")
    return verdict.VerdictRule(
        statuses=verdict.parse_statuses(value.get("statuses") or "200-299"),
        success_marker=pattern("marker"), failure_marker=pattern("failure_marker"),
        follow_redirects=value.get("follow_redirects") == "1", follow_up_url=follow_up,
        echoes_values=value.get("echo") == "1", account_marker=pattern("account_marker"),
    )


def _report(report: Report) -> HTMLResponse:
    return HTMLResponse(to_html(report, back_url="/"), headers={"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    """A browser says where the post comes from in Sec-Fetch-Site (Origin is "null" under
    the no-referrer policy of our pages); older ones only in Origin; other clients in neither."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    own = urlsplit(str(request.base_url))
    return origin.rstrip("/") == f"{own.scheme}://{own.netloc}"
