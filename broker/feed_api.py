"""``POST /feed/import``: an ENT pushes one directory-feed file over HTTP.

The body is one XML file (``Content-Type: application/xml``), at most ``MAX_BODY`` bytes,
spooled to disk as it arrives. The caller is an ENT API client (token or certificate): its
``ident`` is the ``idENT`` the people are recorded under. The answer is the JSON report, or
``application/problem+json`` with the stable ``code``, the ``line`` and the ``reason`` —
nothing of a refused file is written.
"""

from __future__ import annotations

import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from broker.api_auth import ApiClient, client_dependency
from broker.feed import FeedError, FeedReport, import_stream
from services.web import SECURITY_HEADERS

MAX_BODY = 64 * 1024 * 1024
XML_TYPES = ("application/xml", "text/xml")

router = APIRouter()


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "code": code,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=dict(SECURITY_HEADERS))


@router.post("/feed/import")
async def feed_import(
    request: Request,
    client: Annotated[ApiClient, Depends(client_dependency("ent"))],
    nom: str = "flux.xml",
    strict: bool = False,
) -> JSONResponse:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in XML_TYPES:
        return _problem(415, "feed.content_type", "Type de contenu refusé",
                        "Envoyez un fichier XML (Content-Type: application/xml).")
    spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - closed below
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return _problem(413, "feed.too_large", "Fichier trop volumineux",
                                f"Un fichier du flux fait au plus {MAX_BODY} octets.")
            spool.write(chunk)
        spool.seek(0)
        sessions = request.app.state.broker.sessions

        def run() -> FeedReport:
            with sessions.begin() as session:
                return import_stream(session, spool, file_name=nom[:255], ent_id=client.ident,
                                     strict=strict, max_bytes=MAX_BODY)

        try:
            report = await run_in_threadpool(run)
        except FeedError as exc:
            return _problem(422, exc.code, "Fichier refusé", f"ligne {exc.line} : {exc.reason}",
                            line=exc.line, reason=exc.reason)
        return JSONResponse(report.as_json(), headers=dict(SECURITY_HEADERS))
    finally:
        spool.close()
